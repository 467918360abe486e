"""A command line begun before the server's closing reply whose last octets come in the grace
period, never ended (README, The record): on the FakeClock, the grace period's end cuts it; it
is recorded at its last octet, after the reply, unfinished, with no violation. No sockets."""

from __future__ import annotations

from smtpfake.engine.connection import GRACE_TIMER
from smtpfake.engine.session import IDLE_TIMER

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe


def test_a_line_dribbled_across_the_idle_421_is_recorded_at_its_last_octet_after_it() -> None:
    p = Pipe(Engine(scenario(idle_timeout=1.0)))  # type: ignore[arg-type]
    p.connect()
    p.feed("EHLO c.test")
    t0 = p.engine.clock.now()
    p.engine.advance(0.1)
    assert p.feed(b"NO") == b""
    p.engine.advance(0.9)
    assert p.fire(IDLE_TIMER).startswith(b"421 4.4.2 ")
    p.engine.advance(0.2)
    assert p.feed(b"OP") == b""  # in the grace period: never answered
    p.fire(GRACE_TIMER)
    p.finish()
    tail = [(round(e.time - t0, 6), e.text, e.delivered) for e in p.record.transcript[-3:]]
    assert tail == [
        (1.0, "421 4.4.2 smtpfake.test Error: timeout exceeded", True),
        (1.0, "(connection closed)", True),
        (1.2, "NOOP", False),  # its last octet's time, after the 421 (not before it)
    ]
    assert p.record.violations == ()  # begun before the 421: the server cut the client off
