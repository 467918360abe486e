"""What restarts the idle timeout: a whole record from the client (a command or AUTH line, a line
of message text, every 1,001 octets of a BDAT chunk or of a line too long to hold), or the end
of the server's reply; never part of a line (RFC 5321 §4.5.3.2: timeouts are per command and per
data block; Postfix's smtpd_per_record_deadline). On the FakeClock: no sleeping."""

from __future__ import annotations

from smtpfake.engine.connection import LINE_LIMIT
from smtpfake.engine.session import IDLE_TIMER

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

STEP = 0.1


def pipe(**server: object) -> Pipe:
    p = Pipe(Engine(scenario(idle_timeout=0.5, **server)))  # type: ignore[arg-type]
    p.connect()
    return p


def dribble(p: Pipe, pieces: list[bytes]) -> bytes | None:
    """Feed one piece every STEP seconds, firing the idle timer when it is due (as the wire's
    timer would); what the server sent when it fired, or None if it never did."""
    for piece in pieces:
        p.engine.advance(STEP)
        if p.engine.clock.now() >= p.due(IDLE_TIMER) - 1e-9:
            return p.fire(IDLE_TIMER)
        p.feed(piece)
    return None


def test_octets_without_a_line_end_do_not_hold_off_the_timeout() -> None:
    p = pipe()
    start = p.engine.clock.now()
    assert (dribble(p, [b"z"] * 40) or b"").startswith(b"421 4.4.2 ")  # the slowloris is timed out
    assert p.engine.clock.now() - start < 0.5 + STEP * 1.5  # at its time: not pushed back
    p.fire("grace")  # the line never ends: cut by the server's close
    p.finish()
    line, timeout = p.record.transcript[-3:-1]
    assert line.text == "zzzz" and not line.delivered  # before the 421: its octets came first
    assert timeout.text.startswith("421 4.4.2")
    assert p.record.violations == ()  # the server cut it off (its 421 says why)


def test_each_whole_line_restarts_it() -> None:
    p = pipe()
    lines = [b"NOO", b"P\r\n"] * 20  # a whole command every 0.2 s, each in two reads
    assert dribble(p, lines) is None
    assert p.record.violations == ()


def test_a_line_of_message_text_restarts_it_but_not_part_of_one() -> None:
    p = pipe()
    for line in ("EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "DATA"):
        p.feed(line)
    assert dribble(p, [b"text\r\n"] * 20) is None  # lines of text are progress
    assert (dribble(p, [b"t"] * 20) or b"").startswith(b"421 4.4.2 ")  # octets of one line are not


def test_a_bdat_chunk_counts_every_1001_octets() -> None:
    p = pipe(extensions_add=["CHUNKING"])
    for line in ("EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>"):
        p.feed(line)
    p.feed(b"BDAT 100000 LAST\r\n")
    armed = p.armed[IDLE_TIMER]
    p.engine.advance(STEP)
    p.feed(b"x" * (LINE_LIMIT - 1))
    assert p.armed[IDLE_TIMER] == armed  # short of a record
    p.engine.advance(STEP)
    p.feed(b"x")
    assert p.armed[IDLE_TIMER] == p.engine.clock.now()  # 1,001 octets: a record
    assert dribble(p, [b"x" * 400] * 20) is None  # 4,000 octets a second keep it going
    assert (dribble(p, [b"x"] * 20) or b"").startswith(b"421 4.4.2 ")


def test_a_line_too_long_to_hold_counts_every_1001_octets() -> None:
    p = pipe()
    assert dribble(p, [b"x" * 400] * 20) is None
    assert (dribble(p, [b"x"] * 20) or b"").startswith(b"421 4.4.2 ")


def test_the_servers_own_timeout_counts_the_same_way() -> None:
    p = Pipe(Engine(scenario()), idle=0.5)  # no idle_timeout: the server's silent close
    p.connect()
    assert dribble(p, [b"z"] * 40) == b""  # it fired, silently: no 421
    assert p.half_closed
    p.fire("grace")
    p.finish()
    assert [e.text for e in p.record.transcript[-2:]] == [
        "zzzz",
        "(connection closed: idle timeout)",
    ]
