"""The times of what the engine judges (issue 7): a violation, a rule's outcome and its near
misses carry the time of the line (or event) they are about, as its transcript entry does, not
the time the engine got to it; a line partly in when a reply went out comes after that reply; a
cut_body's note has its cut line's time. On the FakeClock: no sockets, no sleeps."""

from __future__ import annotations

import pytest

from smtpfake.engine import Session
from smtpfake.engine.connection import Connection
from smtpfake.scenario.plan import Consult, Send
from smtpfake.scenario.reply import Reply

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe


def entry_time(p: Pipe, text: str) -> float:
    (found,) = [e.time for e in p.record.transcript if e.text == text]
    return found


def in_order(p: Pipe) -> bool:
    times = [e.time for e in p.record.transcript]
    return times == sorted(times)


# -- violations ------------------------------------------------------------------------------------


def test_early_talk_during_a_dripped_greeting_is_judged_at_the_ehlo_s_arrival() -> None:
    p = Pipe(Engine("dripping-greeting"))
    t0 = p.engine.clock.now()
    assert p.connect(hold=True) == b"220 "
    p.engine.advance(0.01)
    p.feed("EHLO c.test")  # after 4 octets of the greeting
    p.release()  # the rest of the greeting drips out; the EHLO is judged after its last byte
    greeting = p.record.transcript[1]
    assert greeting.text.startswith("220 ") and greeting.time > t0 + 0.1
    (early,) = p.record.violations
    assert early.kind == "early-talker"
    assert early.time == entry_time(p, "EHLO c.test") == t0 + 0.01  # not the 220's end


def test_violations_of_lines_waiting_behind_a_delayed_reply_have_the_lines_times() -> None:
    p = Pipe(Engine(scenario({"on": "noop", "delay": 2})))
    p.connect()
    p.feed("HELO c.test")  # no PIPELINING offered
    t0 = p.engine.clock.now()
    p.feed("NOOP", hold=True)  # its 250 waits 2 s
    p.engine.advance(0.5)
    p.feed(b"RCPT TO:<b@x.test>\r\n")  # pipelined, and out of order
    p.release()
    kinds = {v.kind: v.time for v in p.record.violations}
    assert kinds == {"pipelining-without-extension": t0 + 0.5, "bad-sequence": t0 + 0.5}
    assert entry_time(p, "RCPT TO:<b@x.test>") == t0 + 0.5
    assert entry_time(p, "250 2.0.0 Ok") == t0 + 2.5
    assert in_order(p)


def test_no_quit_is_judged_at_the_client_s_close_not_at_the_session_s_end() -> None:
    """A half-closed client's lines are answered after its EOF; its missing QUIT is its
    close's, as the close entry is."""
    engine = Engine()
    p = Pipe(engine)
    p.connect()
    p.feed("EHLO c.test")
    conn: Connection = p.conn
    (rset,) = conn.receive_data(b"RSET\r\nNOOP\r\n")
    assert isinstance(rset, Send)
    conn.performed(rset)
    engine.advance(0.1)
    t_eof = engine.clock.now()
    assert conn.eof_received() == ()
    engine.advance(0.4)
    p._carry(conn.done(), False)  # the NOOP answered, then the close
    engine.advance(0.2)
    p.finish()
    (no_quit,) = p.record.violations
    assert no_quit.kind == "no-quit"
    assert no_quit.time == entry_time(p, "(client closed the connection)") == t_eof
    assert p.record.ended == pytest.approx(t_eof + 0.6)  # the session ends later


def test_a_line_after_the_server_s_close_is_judged_at_its_arrival() -> None:
    p = Pipe(Engine())
    p.connect()
    p.feed("EHLO c.test")
    p.feed("QUIT")  # 221, then the grace period
    p.engine.advance(0.3)
    p.feed("NOOP")
    (after,) = p.record.violations
    assert after.kind == "sent-after-close"
    assert after.time == entry_time(p, "NOOP")


# -- rule outcomes and near misses -----------------------------------------------------------------


def test_a_rule_s_outcome_and_near_miss_have_the_time_of_the_line_they_met() -> None:
    rules = (
        {"on": "noop", "delay": 1},
        {"on": "rset", "reply": "451 4.3.0 later", "after": 3},
    )
    p = Pipe(Engine(scenario(*rules)))
    p.connect()
    p.feed("EHLO c.test")
    t0 = p.engine.clock.now()
    p.feed(b"NOOP\r\nRSET\r\n")  # the RSET waits 1 s behind the NOOP's delayed 250
    outcomes = {o.stage: o for o in p.record.outcomes}
    assert outcomes["noop"].fired is not None and outcomes["noop"].time == t0
    assert outcomes["rset"].fired is None and outcomes["rset"].misses  # a near miss
    assert outcomes["rset"].time == entry_time(p, "RSET") == t0  # not t0 + 1, when judged
    assert [e.time - t0 for e in p.record.transcript if e.text == "250 2.0.0 Ok"] == [1, 1]


def test_the_message_s_outcome_is_at_its_dot() -> None:
    p = Pipe(Engine(scenario({"on": "end_of_data", "reply": "250 2.0.0 fine"})))
    p.connect()
    for line in ("EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "DATA"):
        p.feed(line)
    p.feed(b"Subject: x\r\n\r\nhi\r\n")
    p.engine.advance(2)
    p.feed(b".\r\n")
    (outcome,) = [o for o in p.record.outcomes if o.stage == "end_of_data"]
    assert outcome.time == entry_time(p, ".")


# -- the order: a line partly in when a reply went out ---------------------------------------------


def test_a_line_partly_in_when_a_reply_went_out_comes_after_that_reply() -> None:
    """The first 250 went out while the second NOOP and the start of RSET waited: the RSET,
    ended by a read after that 250, comes after it (it is recorded before the 250 would be,
    had the 250 waited until the RSET was read)."""
    p = Pipe(Engine(scenario({"on": "noop", "delay": 1})))
    p.connect()
    p.feed("EHLO c.test")
    t0 = p.engine.clock.now()
    p.feed(b"NOOP\r\nNOOP\r\nRS", hold=True)  # each NOOP's 250 waits 1 s
    p.release(hold=True)  # the first 250 at t0 + 1; the second NOOP's delay begins
    p.engine.advance(0.5)
    p.feed(b"ET\r\n")  # the RSET ends at t0 + 1.5
    p.release()  # the second 250 at t0 + 2.5, then the RSET's
    assert [(round(e.time - t0, 6), e.text) for e in p.record.transcript][-6:] == [
        (0.0, "NOOP"),
        (0.0, "NOOP"),
        (1.0, "250 2.0.0 Ok"),
        (1.5, "RSET"),
        (2.5, "250 2.0.0 Ok"),
        (2.5, "250 2.0.0 Ok"),
    ]


def test_the_cut_body_note_has_the_time_of_the_cut_line() -> None:
    p = Pipe(Engine(scenario({"on": "data", "delay": 1, "cut_body": 10})))
    p.connect()
    for line in ("EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>"):
        p.feed(line)
    t0 = p.engine.clock.now()
    p.feed("DATA", hold=True)  # the 354 waits 1 s: the text comes in before it, in two reads
    p.feed(b"Subject: cut here\r\n")  # 19 octets: the cut (after 10) is in this line
    p.engine.advance(0.5)
    p.feed(b"more\r\nand more\r\n")
    p.release()
    assert p.ended == "reset"
    p.finish()
    (cut,) = [e for e in p.record.transcript if e.text.endswith("bytes so far)")]
    assert cut.time == t0  # not t0 + 0.5, when the block it was read with ended
    assert in_order(p)


def test_an_outcome_decided_once_a_user_s_handler_answered_has_the_line_s_time() -> None:
    """The handler takes a while; a line the client sends meanwhile does not lend its time to
    the outcome of the command the handler was asked about."""
    engine = Engine(scenario({"on": "rcpt", "reply": "450 4.2.0 busy", "after": 5}))
    session = Session(
        engine.scenario,
        engine.shared,
        engine.journal,
        clock=engine.clock,
        hooks=frozenset({"RCPT"}),
    )
    conn = Connection(session)
    for actions in (
        conn.connected(),
        conn.receive_data(b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\n"),
    ):
        while actions:  # carried out at once, as the wire does
            for action in actions:
                conn.performed(action)
            actions = conn.done()
    t0 = engine.clock.now()
    asked = conn.receive_data(b"RCPT TO:<b@y.test>\r\n")
    assert any(isinstance(a, Consult) for a in asked)
    engine.advance(0.5)
    assert conn.receive_data(b"NOOP\r\n") == ()  # waits behind the question
    engine.advance(0.5)
    conn.consulted(Reply(250, ("Ok",), "2.1.5"))
    (outcome,) = [o for o in engine.journal.sessions()[0].outcomes if o.stage == "rcpt"]
    assert outcome.fired is None and outcome.misses  # "after 5": a near miss
    assert outcome.time == t0  # not t0 + 0.5, when the NOOP came


# -- messages --------------------------------------------------------------------------------------


def test_a_message_s_time_is_its_final_dot_s_arrival_not_its_acceptance() -> None:
    """Text and "." sent while the 354 is still delayed: read (and the message accepted) after
    the 354's last byte; the message carries the "." entry's time, when its data ended on the
    wire, not the acceptance's. The 250 that accepted it keeps its own, written later."""
    p = Pipe(Engine(scenario({"on": "data", "delay": 1})))
    p.connect()
    p.feed("EHLO c.test")
    p.feed(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n")
    p.feed("DATA", hold=True)  # its 354 waits 1 s
    p.engine.advance(0.25)
    t_dot = p.engine.clock.now()
    p.feed(b"Subject: hi\r\n\r\nhello\r\n.\r\n")
    p.release()
    (message,) = p.record.messages
    assert message.time == entry_time(p, ".") == t_dot
    written = entry_time(p, "354 End data with <CR><LF>.<CR><LF>")
    assert written == t_dot + 1  # the 354's delay, from its release
    assert entry_time(p, f"250 2.0.0 Ok: queued as {message.queue_id}") == written


def test_a_chunked_message_s_time_is_its_last_chunk_s_last_octet() -> None:
    """BDAT LAST's octets in two reads: the message carries the second read's time, as the
    chunk's entry, though its 250 is delayed 2 s."""
    p = Pipe(Engine(scenario({"on": "bdat", "delay": 2}, extensions_add=["CHUNKING"])))
    p.connect()
    p.feed("EHLO c.test")
    p.feed(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n")
    p.feed(b"BDAT 6 LAST\r\nabc")
    p.engine.advance(0.5)
    t_end = p.engine.clock.now()
    p.feed(b"def")
    (message,) = p.record.messages
    assert message.data == b"abcdef"
    assert message.time == entry_time(p, "(chunk data, 6 octets)") == t_end
    assert entry_time(p, f"250 2.0.0 Ok: queued as {message.queue_id}") == t_end + 2
