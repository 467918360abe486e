"""A reply written whole is recorded at the clock reading the wire took just before its write,
not at the engine's own reading when told (fresh13 F2: a server thread descheduled between the
write and that reading stamped the reply later than the client had it). On the FakeClock: the
clock moves between the write and the report, as the wire's thread being held would make it."""

from __future__ import annotations

from smtpfake.scenario.plan import Action, Send

from ..support.engine import Engine
from ..support.pipe import Pipe

HELD = 5.0  # seconds the server's thread is held between the write and the report


def _send(actions: tuple[Action, ...]) -> Send:
    (send,) = [a for a in actions if isinstance(a, Send)]
    return send


def test_each_report_of_a_whole_write_records_the_reading_before_it() -> None:
    pipe = Pipe(Engine())
    clock, conn = pipe.engine.clock, pipe.conn
    greeting = _send(conn.connected())
    before = clock.now()
    pipe.engine.advance(HELD)
    conn.wrote(greeting, before)  # the fast path: one reply, then only the idle timer
    ehlo = _send(conn.receive_data(b"EHLO c.test\r\n"))
    before = clock.now()
    pipe.engine.advance(HELD)
    conn.performed(ehlo, before)  # the general way
    conn.done()
    noop = _send(conn.receive_data(b"NOOP\r\n"))
    conn.queued(noop)  # a group's one write
    conn.done()
    before = clock.now()
    pipe.engine.advance(HELD)
    conn.sent(None, before)
    t0 = clock.now() - 3 * HELD
    times = [(e.text[:3], e.time - t0) for e in pipe.record.transcript]
    assert times == [
        ("220", 0.0),
        ("EHL", HELD),
        ("250", HELD),
        ("NOO", 2 * HELD),
        ("250", 2 * HELD),
    ]
    assert pipe.session.greeting_at == t0


def test_a_report_without_a_reading_records_the_clock_now() -> None:
    """A reply the socket took later (the transport held its last octets): recorded when told."""
    pipe = Pipe(Engine())
    clock, conn = pipe.engine.clock, pipe.conn
    conn.wrote(_send(conn.connected()), clock.now())
    ehlo = _send(conn.receive_data(b"EHLO c.test\r\n"))
    pipe.engine.advance(HELD)
    conn.performed(ehlo)
    assert pipe.record.transcript[-1].time == clock.now()


def test_a_reply_taken_later_is_recorded_at_its_last_sight_held_but_after_what_came_meanwhile() -> (
    None
):
    """The wire last saw the reply's octets held at ``seen``: recorded then (the client read its
    end later), unless the client sent a line after that, which the record puts first."""
    pipe = Pipe(Engine())
    clock, conn = pipe.engine.clock, pipe.conn
    conn.wrote(_send(conn.connected()), clock.now())
    ehlo = _send(conn.receive_data(b"EHLO c.test\r\n"))  # its reply under way
    seen = clock.now()
    pipe.engine.advance(HELD)
    assert conn.held_until(seen) == seen  # nothing came since
    pipe.engine.advance(HELD)
    assert conn.receive_data(b"NOOP\r\n") == ()  # sent on without reading: it waits
    pipe.engine.advance(HELD)
    conn.performed(ehlo, conn.held_until(seen))
    conn.done()
    times = [(e.text[:3], e.time - seen) for e in pipe.record.transcript[1:4]]
    assert times == [("EHL", 0.0), ("NOO", 2 * HELD), ("250", 2 * HELD)]
