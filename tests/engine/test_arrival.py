"""When the client's input arrived, and the record in time order (issue 7), on the FakeClock: a
line is stamped when its last octet arrived, not when the engine got to it; a line that arrived
while a reply was going out comes before that reply in the transcript; lines sent before the
client's close come before its close entry. For command lines, message text and its ".", AUTH
lines and BDAT chunks. No sockets, no sleeps."""

from __future__ import annotations

from typing import Any

from smtpfake.engine.connection import Connection
from smtpfake.engine.session import CLOSE_AFTER_TIMER
from smtpfake.journal import SessionRecord
from smtpfake.scenario.plan import Send

from ..auth.helpers import auth_scenario, b64
from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

DELAYED_GREETING = scenario({"on": "connect", "delay": 2})


def pipe(ref: Any = "default", **kwargs: float) -> Pipe:
    return Pipe(Engine(ref), **kwargs)


def since(p: Pipe, t0: float) -> list[tuple[float, str]]:
    """The transcript as (seconds after ``t0``, text)."""
    return [(round(e.time - t0, 6), e.text) for e in p.record.transcript]


def in_order(record: SessionRecord) -> bool:
    times = [e.time for e in record.transcript]
    return times == sorted(times)


def kinds(p: Pipe) -> list[str]:
    return [v.kind for v in p.record.violations]


EHLO_REPLY = "\n".join(
    [
        "250-smtpfake.test",
        "250-PIPELINING",
        "250-SIZE 33554432",
        "250-8BITMIME",
        "250-ENHANCEDSTATUSCODES",
        "250-SMTPUTF8",
        "250 HELP",
    ]
)


# -- gap (a): lines sent before the client closed come before its close ---------------------------


def test_early_lines_then_a_close_during_a_delayed_greeting() -> None:
    p = pipe(DELAYED_GREETING)
    t0 = p.engine.clock.now()
    assert p.connect(hold=True) == b""  # the greeting waits 2 s
    p.feed(b"EHLO early\r\nMAIL FROM:<a@b>\r\n")
    p.engine.advance(0.5)
    assert p.eof() == b""  # the client gave up: nothing more is sent
    p.finish()
    assert since(p, t0) == [
        (0.0, "EHLO early"),
        (0.0, "MAIL FROM:<a@b>"),
        (0.5, "220 smtpfake.test ESMTP smtpfake"),
        (0.5, EHLO_REPLY),  # acted on, so their replies are recorded, never sent (fresh14 F4)
        (0.5, "250 2.1.0 Ok"),
        (0.5, "(client closed the connection)"),
    ]
    greeting = p.record.transcript[2]
    assert not greeting.delivered and greeting.written == 0
    assert [(e.delivered, e.written) for e in p.record.transcript[3:5]] == [(False, 0)] * 2
    assert kinds(p) == ["early-talker", "bad-pipelining"]  # judged; no no-quit: it was waiting
    assert p.record.ended == t0 + 0.5


def test_a_reset_during_a_delayed_greeting_keeps_the_order_too() -> None:
    p = pipe(DELAYED_GREETING)
    t0 = p.engine.clock.now()
    p.connect(hold=True)
    p.feed(b"EHLO early\r\n")
    p.engine.advance(0.25)
    p.feed(b"NOOP\r\n")
    p.engine.advance(0.25)
    p.lost(reset=True)
    assert since(p, t0) == [
        (0.0, "EHLO early"),
        (0.25, "NOOP"),
        (0.5, "220 smtpfake.test ESMTP smtpfake"),
        (0.5, EHLO_REPLY),
        (0.5, "250 2.0.0 Ok"),
        (0.5, "(client reset the connection)"),
    ]


def test_a_line_cut_short_by_the_close_is_recorded_at_its_last_octet() -> None:
    """A line's time is when its last octet came: its LF, or for a line the close cut short
    (marked unfinished), the last octet it got."""
    p = pipe(DELAYED_GREETING)
    t0 = p.engine.clock.now()
    p.connect(hold=True)
    p.feed(b"EHLO early\r\nMAIL FR")
    p.engine.advance(0.5)
    p.eof()
    p.finish()
    assert since(p, t0)[:2] == [(0.0, "EHLO early"), (0.0, "MAIL FR")]
    assert [e.delivered for e in p.record.transcript[:2]] == [True, False]
    assert since(p, t0)[-1] == (0.5, "(client closed the connection)")
    assert "unterminated-line" in kinds(p)  # its CRLF never came


def test_a_last_line_without_its_crlf_is_recorded_and_judged_not_carried_out() -> None:
    """RFC 5321 §2.3.8: a line ends in CRLF; a QUIT the close cut short was never sent."""
    p = pipe()
    p.connect()
    p.feed("EHLO c.test")
    p.feed(b"QUIT")
    assert p.eof() == b""  # not answered
    assert p.ended == "close"
    p.finish()
    assert [e.text for e in p.record.transcript][-2:] == [
        "QUIT",
        "(client closed the connection)",
    ]
    assert kinds(p) == ["unterminated-line", "no-quit"]  # no QUIT was sent


def test_a_close_after_a_finished_reply_still_gets_the_lines_before_it_answered() -> None:
    """A half-closed client can still read (``printf 'RSET\\r\\nQUIT\\r\\n' | nc -N``): the
    reply under way was written whole, so the lines after it are answered, after the EOF."""
    engine = Engine()
    p = Pipe(engine)
    p.connect()
    p.feed("EHLO c.test")  # PIPELINING offered
    conn: Connection = p.conn
    t0 = engine.clock.now()
    (rset,) = conn.receive_data(b"RSET\r\nRSET\r\nQUIT\r\n")
    assert isinstance(rset, Send)
    conn.performed(rset)  # the wire wrote it, and has not called done() yet (its turn ended)
    engine.advance(0.1)
    assert conn.eof_received() == ()  # the batch is carried out: nothing given up
    engine.advance(0.1)
    rest = p._carry(conn.done(), False)
    assert rest == b"250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n"
    assert p.ended == "close"  # no grace period: the client has closed already
    p.finish()
    assert since(p, t0)[-8:] == [
        (0.0, "RSET"),
        (0.0, "RSET"),
        (0.0, "QUIT"),
        (0.0, "250 2.0.0 Ok"),
        (0.1, "(client closed the connection)"),
        (0.2, "250 2.0.0 Ok"),
        (0.2, "221 2.0.0 Bye"),
        (0.2, "(connection closed)"),
    ]
    assert kinds(p) == []  # it said QUIT


# -- gap (b): a line sent while a reply is paced is stamped when it arrived ------------------------


def test_a_line_sent_during_a_dripped_greeting_comes_before_it() -> None:
    p = pipe("dripping-greeting")
    t0 = p.engine.clock.now()
    assert p.connect(hold=True) == b"220 "
    p.feed("EHLO c.test")  # after 4 octets of the greeting
    p.release()
    (ehlo, greeting, reply, *_) = p.record.transcript
    assert (ehlo.text, ehlo.time) == ("EHLO c.test", t0)
    assert greeting.text.startswith("220 ") and greeting.time > t0 + 0.1  # its last drip
    assert reply.text.startswith("250-") and reply.time == greeting.time
    assert kinds(p) == ["early-talker"]
    assert in_order(p.record)


def test_each_line_has_the_time_of_the_read_that_ended_it() -> None:
    p = pipe(DELAYED_GREETING)
    t0 = p.engine.clock.now()
    p.connect(hold=True)
    p.feed(b"EHLO c.te")
    p.engine.advance(0.3)
    p.feed(b"st\r\nNO")
    p.engine.advance(0.3)
    p.feed(b"OP\r\nRSET\r\n")
    p.release()  # (the pipe sleeps the 2 s from here)
    assert since(p, t0)[:4] == [
        (0.3, "EHLO c.test"),
        (0.6, "NOOP"),
        (0.6, "RSET"),
        (2.6, "220 smtpfake.test ESMTP smtpfake"),
    ]
    assert in_order(p.record)


def test_a_line_sent_after_the_reply_is_after_it() -> None:
    rule = {"on": "noop", "delay": 1}
    p = pipe(scenario(rule))
    p.connect()
    t0 = p.engine.clock.now()
    p.feed("NOOP", hold=True)
    p.release()  # the 250 at t0 + 1
    p.engine.advance(0.5)
    p.feed("RSET")
    assert since(p, t0)[-4:] == [
        (0.0, "NOOP"),
        (1.0, "250 2.0.0 Ok"),
        (1.5, "RSET"),
        (1.5, "250 2.0.0 Ok"),
    ]


def test_lines_that_came_with_the_command_come_before_its_reply() -> None:
    """A pipelined group in one read arrived before the first reply went out: the record shows
    the group, then the replies (as the wire did), each reply still after its own command."""
    p = pipe()
    p.connect()
    p.feed("EHLO c.test")
    p.feed(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n")
    assert [e.text for e in p.record.transcript][-6:] == [
        "MAIL FROM:<a@x.test>",
        "RCPT TO:<b@x.test>",
        "DATA",
        "250 2.1.0 Ok",
        "250 2.1.5 Ok",
        "354 End data with <CR><LF>.<CR><LF>",
    ]
    assert kinds(p) == []


# -- message text, AUTH lines, BDAT chunks --------------------------------------------------------


def test_message_text_and_its_dot_are_stamped_when_the_dot_arrived() -> None:
    p = pipe(scenario({"on": "data", "delay": 2}))
    p.connect()
    p.feed("EHLO c.test")
    p.feed("MAIL FROM:<a@x.test>")
    p.feed("RCPT TO:<b@x.test>")
    t0 = p.engine.clock.now()
    p.feed("DATA", hold=True)  # the 354 waits 2 s
    p.feed(b"Subject: early\r\n\r\n")
    p.engine.advance(0.5)
    p.feed(b"hi\r\n.\r\n")  # the whole message before the 354
    p.release()
    assert since(p, t0)[-5:] == [
        (0.0, "DATA"),
        (0.5, "(message data, 22 bytes)"),
        (0.5, "."),
        (2.5, "354 End data with <CR><LF>.<CR><LF>"),
        (2.5, p.record.transcript[-1].text),
    ]
    assert p.record.transcript[-1].text.startswith("250 2.0.0 Ok: queued as ")
    assert kinds(p) == ["bad-pipelining"]
    assert in_order(p.record)


def test_message_text_in_reads_of_its_own_is_stamped_at_the_dot() -> None:
    p = pipe()
    p.connect()
    for line in ("EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "DATA"):
        p.feed(line)
    t0 = p.engine.clock.now()
    p.feed(b"Subject: x\r\n\r\nhi\r\n")
    p.engine.advance(3)
    p.feed(b".\r\n")
    assert since(p, t0)[-3:-1] == [(3.0, "(message data, 18 bytes)"), (3.0, ".")]


def test_an_auth_line_is_stamped_when_it_arrived() -> None:
    p = pipe(auth_scenario({"on": "connect", "delay": 1}))
    t0 = p.engine.clock.now()
    p.connect(hold=True)
    p.feed(b"EHLO c.test\r\nAUTH LOGIN\r\n")
    p.engine.advance(0.5)
    p.feed(f"{b64('alice')}\r\n".encode())  # before any 334
    p.release()
    assert since(p, t0)[:4] == [
        (0.0, "EHLO c.test"),
        (0.0, "AUTH LOGIN"),
        (0.5, "(auth response)"),
        (1.5, "220 smtpfake.test ESMTP smtpfake"),
    ]
    assert "bad-pipelining" in kinds(p)
    assert in_order(p.record)


def test_a_bdat_chunk_is_stamped_when_its_last_octet_arrived() -> None:
    p = pipe(scenario({"on": "connect", "delay": 1}, extensions_add=["CHUNKING"]))
    t0 = p.engine.clock.now()
    p.connect(hold=True)
    p.feed(b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nBDAT 5 LAST\r\nab")
    p.engine.advance(0.5)
    p.feed(b"cde")
    p.release()
    assert since(p, t0)[:6] == [
        (0.0, "EHLO c.test"),
        (0.0, "MAIL FROM:<a@x.test>"),
        (0.0, "RCPT TO:<b@x.test>"),
        (0.0, "BDAT 5 LAST"),
        (0.5, "(chunk data, 5 octets)"),
        (1.5, "220 smtpfake.test ESMTP smtpfake"),
    ]
    assert in_order(p.record)
    assert p.engine.journal.messages()[0].data == b"abcde"


# -- what the server does on its own while lines wait ----------------------------------------------


def test_a_timer_during_a_paced_reply_comes_after_the_lines_that_were_waiting() -> None:
    p = pipe(scenario({"on": "connect", "delay": 5}, close_after=1))
    t0 = p.engine.clock.now()
    p.connect(hold=True)
    p.feed(b"EHLO early\r\n")
    p.engine.advance(1)
    assert p.fire(CLOSE_AFTER_TIMER).startswith(b"421 4.3.2 ")
    assert since(p, t0) == [
        (0.0, "EHLO early"),
        (1.0, "220 smtpfake.test ESMTP smtpfake"),
        (1.0, "421 4.3.2 smtpfake.test Service not available, closing transmission channel"),
        (1.0, "(connection closed)"),
    ]
    assert not p.record.transcript[1].delivered
    # sent before any greeting reached the wire: early talk, though a 421 unasked closed it
    assert kinds(p) == ["early-talker"]


def test_held_entries_are_recorded_in_turn_as_their_lines_are_read() -> None:
    p = pipe()
    session = p.session
    before = len(p.record.transcript)
    session.held, session.hold_to = [], 3
    session.record("server", "first")
    session.hold_to = 7
    session.record("server", "second")
    session.release(2)  # neither is due
    session.release(5)
    assert [e.text for e in p.record.transcript[before:]] == ["first"]
    session.release(None)
    assert [e.text for e in p.record.transcript[before:]] == ["first", "second"]
    assert session.held is None
    session.held = []  # a hold that held nothing ends at the first look
    session.release(0)
    assert session.held is None


def test_a_command_read_before_the_handshake_was_reported_is_after_the_tls_note() -> None:
    # asyncio can hand the server the client's first command over TLS (in the read that ended
    # the handshake) before it tells the server the handshake completed: the note is stamped
    # no later than that command arrived, so it stays first and the times stay in order.
    p = pipe(scenario(tls=True))
    p.connect()
    p.feed("EHLO client.test")
    p.feed("STARTTLS")
    assert p.tls
    p.engine.advance(0.25)
    p.feed("EHLO again.test")  # arrives while the StartTLS batch is still under way
    arrived = p.engine.clock.now()
    p.engine.advance(0.001)  # the wire hears of the handshake a moment later
    p._carry(p.conn.tls_started("TLSv1.3", "TLS_AES_256_GCM_SHA384"), False)
    p.feed("QUIT")
    p.eof()
    p.finish()
    entries = p.record.transcript
    note = next(i for i, e in enumerate(entries) if e.text.startswith("(TLS established"))
    assert entries[note].time == arrived
    assert entries[note + 1].text == "EHLO again.test" and entries[note + 1].time == arrived
    assert in_order(p.record)


def test_the_tls_note_is_stamped_when_the_wire_hears_of_the_handshake() -> None:
    p = pipe(scenario(tls=True))
    p.connect()
    p.feed("STARTTLS")
    p.engine.advance(0.25)
    done = p.engine.clock.now()
    p._carry(p.conn.tls_started("TLSv1.3", "TLS_AES_256_GCM_SHA384"), False)
    (note,) = [e for e in p.record.transcript if e.text.startswith("(TLS established")]
    assert note.time == done
