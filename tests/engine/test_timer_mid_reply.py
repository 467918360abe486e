"""A timer's close (``close_after``) while a reply is partly written (a ``drip``): the 421 is not
written after it, where it would land in the middle of that reply's line; only the close, as at
a stop (README, The server going away). The reply is recorded not delivered with the octets that
went (fresh10 F5). On the FakeClock, no sockets."""

from __future__ import annotations

from smtpfake.engine.session import CLOSE_AFTER_TIMER

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

DRIP = {
    "on": "mail",
    "reply": "250 2.1.0 Sender looks fine to me",
    "drip": {"bytes": 3, "interval": 0.2},
}


def _dripping(**server: object) -> Pipe:
    p = Pipe(Engine(scenario(DRIP, close_after=1.0, **server)))
    p.connect()
    p.feed("EHLO c.test")
    p.feed("MAIL FROM:<a@x.test>", hold=True)  # its first 3 octets out, then a pause
    for _ in range(4):
        p.release(hold=True)  # 3 more octets each
    return p


def test_close_after_mid_drip_closes_without_a_421_glued_to_the_line() -> None:
    p = _dripping()
    before = bytes(p.wire)
    assert before.endswith(b"250 2.1.0 Sende")
    p.fire(CLOSE_AFTER_TIMER)
    assert bytes(p.wire) == before  # no 421 after the cut line
    assert p.half_closed
    p.eof()
    p.finish()
    tail = [(e.text, e.delivered, e.written, e.rule) for e in p.record.transcript[-3:]]
    assert tail == [
        ("250 2.1.0 Sender looks fine to me", False, 15, "rule 1 (on mail)"),
        ("(connection closed)", True, None, "server.close_after"),
        ("(client closed the connection)", True, None, None),
    ]
    assert p.record.violations == ()


def test_close_after_between_replies_still_says_its_421() -> None:
    p = Pipe(Engine(scenario(close_after=1.0)))
    p.connect()
    p.feed("EHLO c.test")
    p.fire(CLOSE_AFTER_TIMER)
    assert bytes(p.wire).endswith(
        b"\r\n421 4.3.2 smtpfake.test Service not available, closing transmission channel\r\n"
    )
