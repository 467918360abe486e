"""The engine's Connection: bytes and wire events in, actions out, on the FakeClock (no sockets,
no sleeps). What the record must show: replies when written, the client's close, the grace
period after the server's last reply, pipelining judged for as long as a reply is going out."""

from __future__ import annotations

from smtpfake.engine.connection import GRACE_TIMER, LINE_LIMIT
from smtpfake.engine.session import CLOSE_AFTER_TIMER, IDLE_TIMER

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe


def pipe(ref: object = "default", **kwargs: float) -> Pipe:
    return Pipe(Engine(ref), **kwargs)  # type: ignore[arg-type]


def texts(p: Pipe) -> list[str]:
    return [e.text for e in p.record.transcript]


def kinds(p: Pipe) -> list[str]:
    return [v.kind for v in p.record.violations]


# -- the end: half-close, grace period, sent-after-close -------------------------------------------


def test_after_221_the_server_half_closes_and_reads_on_for_the_grace_period() -> None:
    p = pipe(grace=2.5)
    p.connect()
    assert p.feed("QUIT") == b"221 2.0.0 Bye\r\n"
    assert p.half_closed and p.ended is None
    assert p.timers[GRACE_TIMER] == 2.5
    assert p.feed("NOOP") == b""  # recorded, never answered
    assert kinds(p) == ["sent-after-close"]
    p.eof()
    assert p.ended == "close"  # the client's EOF ends the grace period early
    p.finish()
    assert texts(p)[-4:] == [
        "221 2.0.0 Bye",
        "(connection closed)",
        "NOOP",
        "(client closed the connection)",
    ]
    assert p.record.ended is not None


def test_the_grace_period_ends_with_its_timer() -> None:
    p = pipe()
    p.connect()
    p.feed("QUIT")
    p.fire(GRACE_TIMER)
    assert p.ended == "close"
    p.finish()
    assert kinds(p) == []
    assert texts(p)[-1] == "(connection closed)"  # the client never closed: no entry for it


def test_a_line_sent_with_quit_is_judged_as_pipelined_not_as_sent_after_the_close() -> None:
    p = pipe()
    p.connect()
    p.feed(b"QUIT\r\nNOOP\r\n")
    # sent before the 221, so not after the close, but before QUIT's reply (RFC 2920 §3.1), with
    # no PIPELINING offered (no EHLO yet)
    assert kinds(p) == ["pipelining-without-extension"]
    assert "NOOP was sent before the reply to QUIT" in p.record.violations[0].detail
    # NOOP came in the read that brought QUIT, before the 221 went out: it is recorded first
    assert texts(p)[-4:] == ["QUIT", "NOOP", "221 2.0.0 Bye", "(connection closed)"]


def test_after_an_unsolicited_421_the_next_command_is_no_violation_but_the_one_after_is() -> None:
    p = pipe(scenario(idle_timeout=5))
    p.connect()
    assert p.timers[IDLE_TIMER] == 5
    assert p.fire(IDLE_TIMER).startswith(b"421 4.4.2 ")
    p.feed("NOOP")  # RFC 5321 §3.8: it reads the 421 after sending its next command
    assert kinds(p) == []
    p.feed("RSET")
    assert kinds(p) == ["sent-after-close"]


def test_close_after_is_unsolicited_too() -> None:
    p = pipe(scenario(close_after=30))
    p.connect()
    assert p.timers[CLOSE_AFTER_TIMER] == 30
    assert p.fire(CLOSE_AFTER_TIMER).startswith(b"421 4.3.2 ")
    p.feed("EHLO c.test")
    assert kinds(p) == []


def test_after_a_rule_421_the_next_command_is_a_violation() -> None:
    p = pipe(scenario({"on": "mail", "reply": "421 4.3.2 go away"}))
    p.connect()
    p.feed("EHLO c.test")
    assert p.feed("MAIL FROM:<a@x.test>").startswith(b"421 4.3.2 go away")
    p.feed("QUIT")
    assert kinds(p) == ["sent-after-close"]


def test_a_reset_fault_resets_without_a_grace_period() -> None:
    p = pipe(scenario({"on": "noop", "reset": True}))
    p.connect()
    p.feed("NOOP")
    assert p.ended == "reset" and not p.half_closed


# -- replies recorded when written; the client's close ---------------------------------------------


def test_a_reply_is_recorded_when_written_not_when_decided() -> None:
    p = pipe(scenario({"on": "connect", "delay": 3}))
    started = p.engine.clock.now()
    p.connect()  # the delay is carried out (the clock moves 3 s), then the 220
    (greeting,) = p.record.transcript
    assert greeting.time == started + 3


def test_a_client_that_gives_up_during_a_delay_sees_nothing_and_is_not_blamed() -> None:
    p = pipe(scenario({"on": "connect", "delay": 3}))
    started = p.engine.clock.now()
    p.connect(hold=True)
    p.engine.advance(1.0)
    p.eof()
    assert p.ended == "close" and p.wire == b""
    p.finish()
    greeting, close = p.record.transcript
    assert (greeting.text, greeting.delivered, greeting.written) == (
        "220 smtpfake.test ESMTP smtpfake",
        False,
        0,
    )
    assert (close.text, close.side, close.time) == (
        "(client closed the connection)",
        "client",
        started + 1,
    )
    assert kinds(p) == []  # RFC 5321 §4.5.3.2: it waited for a reply that never came
    assert p.record.ended == started + 1


def test_a_reply_cut_short_by_the_client_says_how_much_was_written() -> None:
    p = pipe(scenario({"on": "noop", "drip": {"bytes": 4, "interval": 1}}))
    p.connect()
    assert p.feed("NOOP", hold=True) == b"250 "
    p.eof()
    p.finish()
    noop = p.record.transcript[-2]
    assert (noop.text, noop.delivered, noop.written) == ("250 2.0.0 Ok", False, 4)
    assert "not delivered: 4 octets written" in str(noop)


def test_one_octet_written_is_said_in_the_singular() -> None:
    p = pipe(scenario({"on": "noop", "drip": {"bytes": 1, "interval": 1}}))
    p.connect()
    assert p.feed("NOOP", hold=True) == b"2"
    p.eof()
    p.finish()
    assert str(p.record.transcript[-2]).endswith("   (not delivered: 1 octet written)")


def test_a_client_reset_is_recorded_and_a_missing_quit_still_counts() -> None:
    p = pipe()
    p.connect()
    p.feed("EHLO c.test")
    p.lost(reset=True)
    assert texts(p)[-1] == "(client reset the connection)"
    assert kinds(p) == ["no-quit"]


def test_a_last_line_the_eof_cut_short_is_recorded_not_answered() -> None:
    p = pipe()
    p.connect()
    assert p.feed(b"EHLO c.test\r\nNOOP").startswith(b"250-")  # the last line has no LF yet
    assert p.eof() == b""  # it never gets one: never sent whole (RFC 5321 §2.3.8)
    p.finish()
    # the NOOP came before the EHLO's 250 was written and never ended: recorded before it
    assert [t.split("\n")[0] for t in texts(p)[-4:]] == [
        "EHLO c.test",
        "NOOP",
        "250-smtpfake.test",
        "(client closed the connection)",
    ]
    assert not p.record.transcript[-3].delivered
    assert kinds(p) == ["unterminated-line", "no-quit"]


# -- pipelining judged while a reply is being written ----------------------------------------------


def test_a_command_sent_while_a_reply_drips_is_ahead_of_it() -> None:
    rule = {"on": "ehlo", "drip": {"bytes": 20, "interval": 1}}
    p = pipe(scenario(rule, extensions_remove=["PIPELINING"]))
    p.connect()
    first = p.feed("EHLO c.test", hold=True)
    assert first == b"250-smtpfake.test\r\n2"  # part of the reply is out
    p.feed("MAIL FROM:<a@x.test>")  # the client acted on it
    p.release()
    assert kinds(p) == ["pipelining-without-extension"]


def test_talk_during_a_dripped_greeting_is_early() -> None:
    p = pipe(scenario({"on": "connect", "drip": {"bytes": 3, "interval": 1}}))
    assert p.connect(hold=True) == b"220"
    p.feed("EHLO c.test")
    p.release()
    assert kinds(p) == ["early-talker"]


def test_a_command_after_the_whole_reply_is_not_ahead() -> None:
    rule = {"on": "ehlo", "drip": {"bytes": 20, "interval": 1}}
    p = pipe(scenario(rule, extensions_remove=["PIPELINING"]))
    p.connect()
    p.feed("EHLO c.test")
    p.feed("MAIL FROM:<a@x.test>")
    assert kinds(p) == []


# -- timers ----------------------------------------------------------------------------------------


def test_while_the_server_is_busy_only_its_own_idle_limit_runs() -> None:
    p = pipe(scenario({"on": "noop", "hang": 30}, idle_timeout=5), idle=60)
    p.connect()
    assert p.timers[IDLE_TIMER] == 5
    p.feed("NOOP", hold=True)
    assert p.timers[IDLE_TIMER] == 60  # the client waits on us: not its silence
    assert p.fire(IDLE_TIMER) == b""  # the server's limit: a silent close
    assert p.half_closed
    assert texts(p)[-1] == "(connection closed: idle timeout)"


# -- replies: enhanced codes, the SP, multi-line ---------------------------------------------------


def test_a_rule_reply_without_an_enhanced_code_gets_the_class_default() -> None:
    p = pipe(scenario({"on": "rcpt", "reply": "450 Mailbox busy"}, {"on": "vrfy", "reply": 554}))
    p.connect()
    p.feed("EHLO c.test")
    p.feed("MAIL FROM:<a@x.test>")
    assert p.feed("RCPT TO:<b@x.test>") == b"450 4.0.0 Mailbox busy\r\n"
    assert p.feed("VRFY x") == b"554 5.0.0 \r\n"  # the text's SP kept (RFC 2034 §3)


def test_a_helo_session_gets_enhanced_codes_too() -> None:
    """RFC 2034 §4: "regardless of whether or not EHLO is employed by the client": the
    scenario's extension list decides; a HELO session gets the codes and a rule reply its class
    default."""
    p = pipe(scenario({"on": "rcpt", "reply": "450 Mailbox busy"}))
    p.connect()
    p.feed("HELO c.test")
    assert p.feed("MAIL FROM:<a@x.test>") == b"250 2.1.0 Ok\r\n"
    assert p.feed("RCPT TO:<b@x.test>") == b"450 4.0.0 Mailbox busy\r\n"


def test_enhanced_none_sends_a_rule_reply_without_one() -> None:
    rule = {"on": "rcpt", "reply": {"code": 450, "text": "Mailbox busy", "enhanced": "none"}}
    p = pipe(scenario(rule))
    p.connect()
    p.feed("EHLO c.test")
    p.feed("MAIL FROM:<a@x.test>")
    assert p.feed("RCPT TO:<b@x.test>") == b"450 Mailbox busy\r\n"


def test_an_empty_reply_text_keeps_the_space() -> None:
    p = pipe(scenario({"on": "noop", "reply": "250"}, extensions_remove=["ENHANCEDSTATUSCODES"]))
    p.connect()
    assert p.feed("NOOP") == b"250 \r\n"  # RFC 5321 §4.2.1: servers SHOULD send the SP


def test_an_empty_reply_text_keeps_the_space_after_the_enhanced_code() -> None:
    """RFC 2034 §3: the text is prefixed with the enhanced code "followed by one or more
    spaces"; with the class default added, ``250 2.0.0`` lost the SP (fresh14 N2)."""
    p = pipe(scenario({"on": "noop", "reply": "250"}, {"on": "rset", "reply": {"code": 250}}))
    p.connect()
    p.feed("EHLO c.test")
    assert p.feed("NOOP") == b"250 2.0.0 \r\n"
    assert p.feed("RSET") == b"250 2.0.0 \r\n"


def test_a_multi_line_reply_is_kept_as_its_lines() -> None:
    p = pipe()
    p.connect()
    wire = p.feed("EHLO c.test")
    (ehlo,) = [e for e in p.record.transcript if e.text.startswith("250-")]
    assert ehlo.lines == tuple(wire.decode().split("\r\n")[:-1])
    assert ehlo.lines[-1] == "250 HELP"


# -- framing ---------------------------------------------------------------------------------------


def test_an_over_long_command_line_is_answered_once_however_it_arrives() -> None:
    line = b"NOOP " + b"x" * (LINE_LIMIT + 500) + b"\r\n"
    whole, pieces = pipe(), pipe()
    whole.connect()
    pieces.connect()
    assert whole.feed(line) == b"500 5.5.6 Line too long\r\n"
    out = b"".join(pieces.feed(line[i : i + 100]) for i in range(0, len(line), 100))
    assert out == b"500 5.5.6 Line too long\r\n"
    assert texts(whole) == texts(pieces)


def test_what_comes_after_starttls_and_before_the_handshake_is_discarded() -> None:
    p = pipe(scenario(tls={}))
    p.connect()
    p.feed("EHLO c.test")
    p.feed(b"STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n")
    assert p.tls
    assert kinds(p) == ["sent-before-tls"]
    assert "MAIL FROM:<evil@x.test>" not in texts(p)


# -- the server going away with sessions open (stop, reset) ---------------------------------------

SHUTDOWN_421 = b"421 4.3.2 smtpfake.test Service not available, closing transmission channel\r\n"


def shut_down(p: Pipe, why: str = "stop", grace: float = 0.25) -> bytes:
    p._held = []  # the shutdown's batch replaces the one under way
    return p._carry(p.conn.shutting_down(why, grace), False)


def test_stopping_sends_421_half_closes_and_blames_nobody() -> None:
    p = pipe(grace=2.0)
    p.connect()
    p.feed("EHLO client.test")
    assert shut_down(p) == SHUTDOWN_421
    assert p.half_closed and p.ended is None
    assert p.timers[GRACE_TIMER] == 0.25  # the stop's shorter grace period, not the 2 s
    p.fire(GRACE_TIMER)
    assert p.ended == "close"
    p.finish()
    assert texts(p)[-2:] == [SHUTDOWN_421.decode().strip(), "(connection closed: server stopping)"]
    assert [e.rule for e in p.record.transcript[-2:]] == ["server.stop", "server.stop"]
    assert kinds(p) == []  # no no-quit: the server closed it
    assert "(client closed the connection)" not in texts(p)


def test_the_command_sent_before_the_client_read_the_421_is_not_held_against_it() -> None:
    p = pipe()
    p.connect()
    shut_down(p)
    assert p.feed("QUIT") == b""
    p.feed("NOOP")
    p.eof()
    p.finish()
    assert texts(p)[-3:] == ["QUIT", "NOOP", "(client closed the connection)"]
    assert kinds(p) == ["sent-after-close"]  # NOOP only: QUIT answered an unsolicited 421


def test_stopping_mid_data_records_the_unfinished_message() -> None:
    p = pipe()
    p.connect()
    for line in ("HELO a.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "DATA"):
        p.feed(line)
    p.feed("Subject: half")
    assert shut_down(p) == SHUTDOWN_421
    p.fire(GRACE_TIMER)
    p.finish()
    assert "(message data, " in " ".join(texts(p))
    assert p.engine.journal.messages() == ()
    assert kinds(p) == []


def test_a_delayed_reply_is_not_delivered_and_the_421_goes_in_its_place() -> None:
    p = pipe(scenario({"on": "noop", "delay": 30}))
    p.connect()
    p.feed("NOOP", hold=True)  # its 250 is 30 s away
    assert shut_down(p) == SHUTDOWN_421
    p.fire(GRACE_TIMER)
    p.finish()
    undelivered = [e for e in p.record.transcript if not e.delivered]
    assert [(e.text, e.written) for e in undelivered] == [("250 2.0.0 Ok", 0)]
    assert kinds(p) == []


def test_a_reset_closes_at_once_without_a_grace_period() -> None:
    p = pipe()
    p.connect()
    assert shut_down(p, "reset", 0.0) == SHUTDOWN_421
    assert p.ended == "close" and not p.half_closed
    p.finish()
    assert texts(p)[-1] == "(connection closed: server reset)"
    assert kinds(p) == []


def test_a_stop_during_the_grace_period_only_shortens_it() -> None:
    p = pipe(grace=5.0)
    p.connect()
    p.feed("QUIT")
    assert shut_down(p) == b""  # it said 221 already: no 421 after it
    assert p.timers[GRACE_TIMER] == 0.25
    p.fire(GRACE_TIMER)
    p.finish()
    assert texts(p)[-2:] == ["221 2.0.0 Bye", "(connection closed)"]


def test_a_connection_dropped_at_the_stop_is_the_servers_close() -> None:
    p = pipe()
    p.connect()
    p.feed("EHLO client.test")
    p.conn.dropped("stop")
    p.lost()
    assert texts(p)[-1] == "(connection closed: server stopping)"
    assert kinds(p) == []


def test_a_flood_unread_at_the_stop_closes_at_once_and_records_its_start() -> None:
    p = pipe(scenario({"on": "noop", "delay": 30}))
    p.connect()
    p.feed("NOOP", hold=True)
    p.feed(b"HELP\r\n" * 500)  # waits behind the delayed reply
    assert shut_down(p) == SHUTDOWN_421
    assert p.ended == "close" and not p.half_closed  # no grace period to read a flood in
    p.finish()
    assert texts(p).count("HELP") == 100  # DRAIN_LINES of it are recorded
    assert texts(p)[-1].endswith("more octets, not read)")


def test_a_session_open_at_a_reset_goes_on_in_the_cleared_journal() -> None:
    from smtpfake.engine.shared import Shared

    p = pipe()
    p.connect()
    p.feed("EHLO client.test")
    p.engine.journal.clear()
    assert p.conn.rejoin(Shared(seed=0))
    assert p.session.index == 1
    shut_down(p, "reset", 0.0)
    p.finish()
    assert texts(p) == [SHUTDOWN_421.decode().strip(), "(connection closed: server reset)"]
    assert p.record.ended is not None and kinds(p) == []
    assert not p.conn.rejoin(Shared(seed=0))  # over: nothing more to record
    q = pipe()
    q.connect()
    q.feed("QUIT")
    assert not q.conn.rejoin(Shared(seed=0))  # in its grace period: its last word was said


def test_bad_pipelinings_detail_cites_the_sections_its_rfc_field_gives() -> None:
    """One source: the detail cites the kind's sections, as serialize's ``rfc`` field does."""
    from smtpfake.serialize import violation_to_json

    p = Pipe(Engine("dripping-greeting"))
    p.connect(hold=True)
    p.release()
    p.feed(b"EHLO c.test\r\nQUIT\r\n")
    p.eof()  # in the grace period after the 221
    p.finish()
    (bad,) = [v for v in p.record.violations if v.kind == "bad-pipelining"]
    rfc = violation_to_json(bad)["rfc"]
    assert rfc == "RFC 2920 §3.1, RFC 3207 §4, RFC 4954 §4"
    assert f"({rfc})" in bad.detail
