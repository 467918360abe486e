"""``replies`` with ``drip`` or ``fragment`` (fresh14 N4): every reply of the out-of-step answer
is paced, not only the first; each next reply's first piece waits the interval too, so the octets
go out evenly. On the FakeClock: the wire's pieces and the times each reply is recorded at."""

from __future__ import annotations

from smtpfake.scenario.plan import Send, Sleep

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

REPLIES = ["250 2.0.0 first", "250 2.0.0 second", "250 2.0.0 third"]


def test_drip_paces_every_reply_of_replies() -> None:
    p = Pipe(
        Engine(scenario({"on": "noop", "replies": REPLIES, "drip": {"bytes": 6, "interval": 0.1}}))
    )
    p.connect()
    p.feed("EHLO c.test")
    actions = p.session.receive(b"NOOP\r\n")
    sends = [a.data for a in actions if isinstance(a, Send)]
    assert all(len(piece) <= 6 for piece in sends)
    assert b"".join(sends) == b"".join(text.encode() + b"\r\n" for text in REPLIES)
    pauses = [a.seconds for a in actions if isinstance(a, Sleep)]
    assert pauses == [0.1] * (len(sends) - 1)  # 3 + 4 + 3 pieces, 9 pauses between them
    p2 = Pipe(
        Engine(scenario({"on": "noop", "replies": REPLIES, "drip": {"bytes": 6, "interval": 0.1}}))
    )
    p2.connect()
    p2.feed("EHLO c.test")
    t0 = p2.engine.clock.now()
    assert p2.feed("NOOP") == b"".join(text.encode() + b"\r\n" for text in REPLIES)
    times = {e.text: round(e.time - t0, 6) for e in p2.record.transcript if e.text in REPLIES}
    # first: 17 octets in 3 pieces (0.2 s); second: 18 in 3 more; third: 17 in 3 more
    assert times == {REPLIES[0]: 0.2, REPLIES[1]: 0.5, REPLIES[2]: 0.8}


def test_fragment_splits_every_reply_of_replies() -> None:
    p = Pipe(Engine(scenario({"on": "noop", "replies": REPLIES, "fragment": 4})))
    p.connect()
    p.feed("EHLO c.test")
    actions = p.session.receive(b"NOOP\r\n")
    sends = [a.data for a in actions if isinstance(a, Send)]
    assert all(len(piece) <= 4 for piece in sends)
    assert len(sends) == 5 + 5 + 5  # 17, 18 and 17 octets, 4 at a time
    assert not [a for a in actions if isinstance(a, Sleep)]  # interval 0: no pause
    notes = [a.note.text for a in actions if isinstance(a, Send) and a.note is not None]
    assert notes == REPLIES  # each reply its own entry, on its last piece
