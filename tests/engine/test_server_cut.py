"""What the server's own close cuts short (issue 7), on the FakeClock through the engine's
Connection: a command line without its CRLF when the server closes (a timer's 421, a reply that
closes, a 221, a bare-LF disconnect, a stop) is recorded when its last octet came, before the
server's last reply (which waits in the record until the line ends or is cut), marked unfinished,
never carried out; it is not ``unterminated-line`` (the client did not close), nor anything else
when the server's reply cut it off mid-line. One begun after the close is sent after it. Message
text and a BDAT chunk end at the server's 421. No sockets, no sleeps."""

from __future__ import annotations

from typing import Any

import pytest

from smtpfake.engine.connection import GRACE_TIMER
from smtpfake.engine.session import CLOSE_AFTER_TIMER, IDLE_TIMER

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

LAST_OCTET = 0.1  # when the partial line's last octet comes (seconds after the EHLO's 250)


def _timer(name: str) -> Any:
    def close(p: Pipe) -> bytes:
        p.engine.advance(1.0 - LAST_OCTET)  # the line waits, unfinished, until the timer
        return p.fire(name)

    return close


def _stop(p: Pipe) -> bytes:
    p.engine.advance(0.4)
    return p._carry(p.conn.shutting_down("stop", 1.0), False)


# (id, scenario, the read that ends in a partial line (None: "zzz" alone, then the close below),
# how the server closes (None: the read's own reply closes), the server's last reply, violations)
WAYS: list[tuple[str, dict[str, Any], bytes, Any, str, list[str]]] = [
    ("idle_timeout", scenario(idle_timeout=1.0), b"zzz", _timer(IDLE_TIMER), "421 4.4.2 ", []),
    ("close_after", scenario(close_after=1.1), b"zzz", _timer(CLOSE_AFTER_TIMER), "421 4.3.2 ", []),
    (
        "a rule's 421",
        scenario({"on": "mail", "reply": "421 4.3.2 go away"}),
        b"MAIL FROM:<a@x.test>\r\nRCP",
        None,
        "421 4.3.2 go away",
        [],
    ),
    (
        "a rule's close",
        scenario({"on": "mail", "close": True}),
        b"MAIL FROM:<a@x.test>\r\nRCP",
        None,
        "(connection closed)",
        [],
    ),
    ("QUIT's 221", scenario(), b"QUIT\r\nNOO", None, "221 2.0.0 Bye", []),
    ("bare_lf disconnect", scenario(bare_lf="disconnect"), b"NOOP\nRSE", None, "521 ", ["bare-lf"]),
    ("a stop", scenario(), b"zzz", _stop, "421 4.3.2 ", []),
]


def _open(scen: dict[str, Any], idle: float = 300.0) -> tuple[Pipe, float]:
    p = Pipe(Engine(scen), idle=idle)  # type: ignore[arg-type]
    p.connect()
    p.feed("EHLO c.test")
    return p, p.engine.clock.now()


def _cut(p: Pipe, read: bytes, close: Any) -> bytes:
    """Feed ``read`` LAST_OCTET s after the EHLO's reply, then the server closes."""
    p.engine.advance(LAST_OCTET)
    said = p.feed(read)
    if close is not None:
        said += close(p)
    assert p.half_closed
    return said


def _since(p: Pipe, t0: float) -> list[tuple[float, str, bool]]:
    return [(round(e.time - t0, 6), e.text, e.delivered) for e in p.record.transcript]


@pytest.mark.parametrize("ending", ["grace period", "client's EOF"])
@pytest.mark.parametrize(
    ("scen", "read", "close", "last", "expected"),
    [pytest.param(*way[1:], id=way[0]) for way in WAYS],
)
def test_a_line_the_servers_close_cut_short_is_recorded_at_its_last_octet(
    scen: dict[str, Any], read: bytes, close: Any, last: str, expected: list[str], ending: str
) -> None:
    p, t0 = _open(scen)
    said = _cut(p, read, close)
    assert said.count(b"\r\n") <= 1  # the closing reply only: the partial line is never answered
    p.engine.advance(0.5)
    texts = [text for _, text, _ in _since(p, t0)]
    assert read.split(b"\n")[-1].decode() not in texts  # not before it is cut (it may end yet)
    if ending == "grace period":
        p.fire(GRACE_TIMER)
    else:
        p.eof()  # the client reads the close and closes too, the line still open
    p.finish()
    fragment = read.split(b"\n")[-1].decode()
    record = _since(p, t0)
    (at,) = [i for i, (_, text, _) in enumerate(record) if text == fragment]
    assert record[at] == (LAST_OCTET, fragment, False)  # its last octet's time; unfinished
    reply = [i for i, (_, text, _) in enumerate(record) if text.startswith(last)][-1]
    assert at < reply  # before the server's last reply, which went out after its octets came
    assert [t for t, _, _ in record] == sorted(t for t, _, _ in record)
    assert [v.kind for v in p.record.violations] == expected  # no unterminated-line
    assert str(p.record.transcript[at]).endswith("(unfinished: no line ending)")


def test_the_servers_own_idle_close_cuts_a_line_the_same_way() -> None:
    p, t0 = _open(scenario(), idle=1.0)  # no idle_timeout: the server's silent close
    _cut(p, b"zzz", _timer(IDLE_TIMER))
    p.fire(GRACE_TIMER)
    p.finish()
    assert _since(p, t0)[-2:] == [
        (LAST_OCTET, "zzz", False),
        (1.0, "(connection closed: idle timeout)", True),
    ]
    assert p.record.violations == ()


def test_a_line_begun_before_the_close_and_ended_after_it_is_a_whole_line() -> None:
    """The client finishes the line in the grace period: it is whole, after the 421 (its end
    came after it); after an unsolicited 421 it is the one command RFC 5321 §3.8 forgives."""
    p, t0 = _open(scenario(idle_timeout=1.0))
    _cut(p, b"NO", _timer(IDLE_TIMER))
    p.engine.advance(0.2)
    assert p.feed(b"OP\r\n") == b""  # never answered
    assert _since(p, t0)[-3:] == [
        (1.0, "421 4.4.2 smtpfake.test Error: timeout exceeded", True),
        (1.0, "(connection closed)", True),
        (1.2, "NOOP", True),
    ]
    assert p.record.violations == ()


def test_a_line_begun_after_the_close_and_cut_is_sent_after_it() -> None:
    p, t0 = _open(scenario())
    p.feed("QUIT")
    p.engine.advance(0.3)
    p.feed(b"NOO")  # after the 221 was written
    p.engine.advance(0.2)
    p.fire(GRACE_TIMER)
    p.finish()
    assert _since(p, t0)[-3:] == [
        (0.0, "221 2.0.0 Bye", True),
        (0.0, "(connection closed)", True),
        (0.3, "NOO", False),
    ]
    assert [v.kind for v in p.record.violations] == ["sent-after-close"]


def test_an_over_long_line_after_the_close_is_judged_not_answered() -> None:
    """The grace period only reads: a line too long to hold gets no 500 after the 221."""
    p, _ = _open(scenario())
    p.feed("QUIT")
    assert p.feed(b"NOOP " + b"x" * 2000 + b"\r\n") == b""
    assert [(v.kind, v.command) for v in p.record.violations] == [
        ("sent-after-close", "NOOP"),
        ("line-too-long", "NOOP"),
    ]


def test_message_text_the_idle_timeout_cuts_ends_at_the_421() -> None:
    """Text without its line ending when the timer's 421 goes out is counted then, before it
    (the close that ended the message, as the client's close ends one); the message is not
    accepted, and nothing the client sends after the close is text of it."""
    p, t0 = _open(scenario(idle_timeout=1.0))
    for line in ("MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "DATA"):
        p.feed(line)
    p.engine.advance(0.1)
    p.feed(b"Subject: x\r\n\r\npart")
    p.engine.advance(1.0)
    assert p.fire(IDLE_TIMER).startswith(b"421 4.4.2 ")
    p.fire(GRACE_TIMER)
    p.finish()
    assert _since(p, t0)[-3:] == [
        (1.1, "(message data, 18 bytes, unfinished)", True),
        (1.1, "421 4.4.2 smtpfake.test Error: timeout exceeded", True),
        (1.1, "(connection closed)", True),
    ]
    assert p.engine.journal.messages() == ()


def test_a_bdat_chunk_the_idle_timeout_cuts_ends_at_the_421() -> None:
    """A chunk the server's 421 cuts short is recorded with the octets it got, before that 421,
    not at the session's end; it is not chunk-short (the client did not end it); what the
    client sends after the close is no part of it (the rest of its octets are noted apart)."""
    p, t0 = _open(scenario(idle_timeout=1.0, extensions_add=["CHUNKING"]))
    for line in ("MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>"):
        p.feed(line)
    p.feed(b"BDAT 100 LAST\r\nabc")
    p.engine.advance(1.0)
    assert p.fire(IDLE_TIMER).startswith(b"421 4.4.2 ")
    p.engine.advance(0.3)
    p.feed(b"def")
    p.fire(GRACE_TIMER)
    p.finish()
    assert _since(p, t0)[-4:] == [
        (1.0, "(chunk data, 3 of 100 octets, unfinished)", True),
        (1.0, "421 4.4.2 smtpfake.test Error: timeout exceeded", True),
        (1.0, "(connection closed)", True),
        # the rest of the chunk the client streams on: counted, not a command line
        (1.3, "(chunk data after the close, 3 of 97 octets, unfinished)", True),
    ]
    assert p.record.violations == ()
    assert p.engine.journal.messages() == ()


# -- after an unsolicited 421: lines ahead of it judged as pipelined, then one forgiven -------


@pytest.mark.parametrize("how", ["close_after", "stop"])
def test_lines_ahead_of_an_unsolicited_421_are_judged_as_pipelined_not_after_the_close(
    how: str,
) -> None:
    """Lines the client pipelined while a reply was paced, then the server's unasked 421
    replaced that reply (fresh10 F9): they came before the 421 existed, so they are judged as
    the pipelined commands they are (RFC 2920 §3.1: RSET, RSET, NOOP behind MAIL is a good
    group), not sent-after-close; the command RFC 5321 §3.8 forgives is the first one sent
    after the 421 went out, and each after that is sent-after-close."""
    settings = {"close_after": 1.0} if how == "close_after" else {}
    p = Pipe(Engine(scenario({"on": "mail", "delay": 5}, **settings)))  # type: ignore[arg-type]
    p.connect()
    p.feed("EHLO c.test")
    p.feed(b"MAIL FROM:<a@x.test>\r\nRSET\r\nRSET\r\nNOOP\r\n", hold=True)  # 250 waits 5 s
    p.engine.advance(1.0)
    if how == "close_after":
        said = p.fire(CLOSE_AFTER_TIMER)
    else:
        p._held = []  # (the stop's batch replaces the one under way)
        said = p._carry(p.conn.shutting_down("stop", 1.0), False)
    assert said.startswith(b"421 4.3.2 ")
    assert p.record.violations == ()
    p.feed("QUIT")  # after the 421 was written: the one command §3.8 forgives
    assert p.record.violations == ()
    p.feed("NOOP")
    assert [(v.kind, v.command) for v in p.record.violations] == [("sent-after-close", "NOOP")]
    p.fire(GRACE_TIMER)
    p.finish()
    texts = [e.text for e in p.record.transcript]
    assert texts[texts.index("MAIL FROM:<a@x.test>") :] == [
        "MAIL FROM:<a@x.test>",
        "RSET",
        "RSET",
        "NOOP",
        "250 2.1.0 Ok",  # not delivered: the 421 went in its place
        texts[-4],
        texts[-3],
        "QUIT",
        "NOOP",
    ]
    assert texts[-4].startswith("421 4.3.2 ")


def test_a_bad_group_ahead_of_an_unsolicited_421_is_judged_as_such() -> None:
    # NOOP must end a group (RFC 2920 §3.1): RSET behind it is bad-pipelining, 421 or not
    p = Pipe(Engine(scenario({"on": "noop", "delay": 5}, close_after=1.0)))
    p.connect()
    p.feed("EHLO c.test")
    p.feed(b"NOOP\r\nRSET\r\nHELP\r\n", hold=True)
    p.engine.advance(1.0)
    assert p.fire(CLOSE_AFTER_TIMER).startswith(b"421 4.3.2 ")
    assert [(v.kind, v.command) for v in p.record.violations] == [("bad-pipelining", "RSET")]


# -- a half-close after QUIT while the 221 is paced --------------------------------------------


@pytest.mark.parametrize(
    "pacing",
    [{"drip": {"bytes": 4, "interval": 0.1}}, {"fragment": {"bytes": 3, "interval": 0.2}}],
    ids=["drip", "fragment"],
)
def test_a_half_close_after_quit_during_a_paced_221_still_gets_it(pacing: dict[str, Any]) -> None:
    """QUIT, then SHUT_WR while the 221 is paced: the client still reads (it asked for the 221),
    so the reply is written whole and recorded as delivered when its last byte went; the EOF is
    an entry at its time; no no-quit (the QUIT was sent)."""
    p, t0 = _open(scenario({"on": "quit", **pacing}))
    first = p.feed("QUIT", hold=True)
    assert first and first != b"221 2.0.0 Bye\r\n"  # part of it is out
    p.engine.advance(0.05)
    assert p.conn.eof_received() == ()  # nothing replaces the batch: the rest is still to go
    rest = p.release()
    assert first + rest == b"221 2.0.0 Bye\r\n"
    p.finish()
    record = _since(p, t0)
    (closed_at,) = [t for t, text, _ in record if text == "(client closed the connection)"]
    (reply,) = [(t, d) for t, text, d in record if text == "221 2.0.0 Bye"]
    assert closed_at == 0.05 and reply[1] and reply[0] > closed_at  # delivered, when written
    assert [t for t, _, _ in record] == sorted(t for t, _, _ in record)
    assert p.record.violations == ()


def test_an_eof_without_quit_during_a_paced_reply_still_gives_it_up() -> None:
    """No QUIT: the client gave up waiting (RFC 5321 §4.5.3.2): the reply is not delivered."""
    p, _ = _open(scenario({"on": "noop", "drip": {"bytes": 4, "interval": 0.1}}))
    p.feed("NOOP", hold=True)
    p.engine.advance(0.05)
    p.eof()
    p.finish()
    (reply,) = [e for e in p.record.transcript if e.text == "250 2.0.0 Ok"]
    assert not reply.delivered and reply.written == 4
    assert p.record.violations == ()


def test_a_final_dot_ahead_of_an_unsolicited_421_ends_the_text_and_is_no_command() -> None:
    # the 354 delayed, the client streams its text, "." and QUIT; close_after's 421 replaces
    # the 354: the "." came before the 421, so it ends the text (no pipelined "." command) and
    # QUIT behind it is judged as pipelined; the first line after the 421 is the forgiven one
    p = Pipe(Engine(scenario({"on": "data", "delay": 5}, close_after=1.0)))
    p.connect()
    for line in ("EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>"):
        p.feed(line)
    p.feed("DATA", hold=True)
    p.feed(b"Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    p.engine.advance(1.0)
    assert p.fire(CLOSE_AFTER_TIMER).startswith(b"421 4.3.2 ")
    p.feed("NOOP")
    assert p.record.violations == ()
    p.feed("NOOP")
    assert [(v.kind, v.command) for v in p.record.violations] == [("sent-after-close", "NOOP")]
