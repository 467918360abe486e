"""The replies of a pipelined group, queued for one write (Connection.queued), are recorded as the
socket takes them (Connection.sent): delivered when it took each one's last octet, stamped then;
not delivered, with the octets it took, when the connection ends first. No sockets: the wire's
reports are made by hand, as tests/wire/test_wire_group_write.py makes them happen."""

from __future__ import annotations

from smtpfake.engine.session import CLOSE_AFTER_TIMER
from smtpfake.scenario.plan import Close, Send

from ..support.engine import Engine
from ..support.pipe import Pipe

OK = b"250 2.0.0 Ok\r\n"


def _group(pipe: Pipe, wire: bytes) -> list[Send]:
    """What the wire does with a read of several lines: each reply queued for the one write at
    the callback's end, and the next line's batch asked for (Connection.done)."""
    queued: list[Send] = []
    actions = pipe.conn.receive_data(wire)
    for _ in range(100):
        sends = [a for a in actions if isinstance(a, Send)]
        if not sends:
            return queued
        for send in sends:
            pipe.conn.queued(send)
            queued.append(send)
        actions = pipe.conn.done()
    raise AssertionError("the group did not end")


def _started(scenario: dict[str, object] | None = None) -> Pipe:
    pipe = Pipe(Engine() if scenario is None else Engine(scenario))
    pipe.connect()
    pipe.feed("EHLO c.test")
    return pipe


def _tail(pipe: Pipe, count: int, t0: float) -> list[tuple[float, str, bool, int | None]]:
    return [
        (round(e.time - t0, 6), e.text, e.delivered, e.written)
        for e in pipe.record.transcript[-count:]
    ]


def test_queued_replies_are_recorded_when_the_socket_takes_them() -> None:
    pipe = _started()
    t0 = pipe.engine.clock.now()
    assert [s.data for s in _group(pipe, b"NOOP\r\nNOOP\r\nNOOP\r\n")] == [OK] * 3
    assert [e.text for e in pipe.record.transcript[-3:]] == ["NOOP"] * 3  # none recorded yet
    pipe.engine.advance(0.1)
    pipe.conn.sent(len(OK) + 5)  # the first whole, 5 octets of the second
    pipe.engine.advance(0.2)
    pipe.conn.sent()  # the rest
    assert _tail(pipe, 6, t0) == [
        (0.0, "NOOP", True, None),
        (0.0, "NOOP", True, None),
        (0.0, "NOOP", True, None),
        (0.1, "250 2.0.0 Ok", True, None),
        (0.3, "250 2.0.0 Ok", True, None),
        (0.3, "250 2.0.0 Ok", True, None),
    ]


def test_queued_replies_the_socket_did_not_take_are_not_delivered_at_a_reset() -> None:
    pipe = _started()
    t0 = pipe.engine.clock.now()
    _group(pipe, b"NOOP\r\nNOOP\r\nNOOP\r\n")
    pipe.conn.sent(len(OK) + 5)
    pipe.conn.sent(2)  # (the wire looked again: 2 more)
    pipe.engine.advance(0.5)
    pipe.lost(reset=True)
    assert _tail(pipe, 4, t0) == [
        (0.0, "250 2.0.0 Ok", True, None),
        (0.5, "250 2.0.0 Ok", False, 7),
        (0.5, "250 2.0.0 Ok", False, 0),
        (0.5, "(client reset the connection)", True, None),
    ]
    # it left with replies to it still due: no missing QUIT held against it
    assert "no-quit" not in [v.kind for v in pipe.record.violations]


def test_a_half_close_leaves_queued_replies_to_the_socket() -> None:
    """The client's EOF with queued replies in the transport (nothing else under way): it may
    read on; the server closes (the wire waits for the socket to take them first) and the
    replies are delivered when taken, after the EOF's entry."""
    pipe = _started()
    t0 = pipe.engine.clock.now()
    _group(pipe, b"NOOP\r\nNOOP\r\n")
    pipe.conn.sent(3)
    pipe.engine.advance(0.1)
    assert pipe.conn.writes_on(socket_full=True)
    assert pipe.conn.eof_received(socket_full=True) == (Close(),)
    pipe.engine.advance(0.1)
    pipe.conn.sent()
    pipe.lost()
    assert _tail(pipe, 3, t0) == [
        (0.1, "(client closed the connection)", True, None),
        (0.2, "250 2.0.0 Ok", True, None),
        (0.2, "250 2.0.0 Ok", True, None),
    ]


def test_a_timer_with_the_socket_full_cuts_the_queued_replies_and_its_421() -> None:
    """close_after fires while the socket holds up the group's write: the server does not wait
    on the client; the replies the socket did not take, and the timer's 421, are not delivered;
    its close is carried out at once (no half-close, no grace period)."""
    pipe = _started({"server": {"close_after": 5}})
    t0 = pipe.engine.clock.now()
    _group(pipe, b"NOOP\r\nNOOP\r\n")
    pipe.conn.sent(len(OK) + 4)
    pipe.engine.advance(5)
    (close,) = pipe.conn.timer_fired(CLOSE_AFTER_TIMER, socket_full=True)
    assert isinstance(close, Close)
    pipe.conn.performed(close)
    assert pipe.conn.over
    pipe.lost()
    tail = _tail(pipe, 4, t0)
    assert tail[0] == (0.0, "250 2.0.0 Ok", True, None)
    assert tail[1] == (5.0, "250 2.0.0 Ok", False, 4)
    assert tail[2][0] == 5.0 and tail[2][1].startswith("421 4.3.2 ") and tail[2][2:] == (False, 0)
    assert tail[3] == (5.0, "(connection closed)", True, None)
    # (NOOP must end a group: the second is bad pipelining; the server closed: no QUIT asked)
    assert [v.kind for v in pipe.record.violations] == ["bad-pipelining"]


def test_a_timer_with_the_socket_full_cuts_the_reply_under_way() -> None:
    """The same with one reply written alone, partly taken (Connection.handed)."""
    pipe = _started({"server": {"close_after": 5}})
    t0 = pipe.engine.clock.now()
    assert [a for a in pipe.conn.receive_data(b"NOOP\r\n") if isinstance(a, Send)]
    pipe.conn.handed(6)
    pipe.engine.advance(5)
    (close,) = pipe.conn.timer_fired(CLOSE_AFTER_TIMER, socket_full=True)
    pipe.conn.performed(close)
    pipe.lost()
    tail = _tail(pipe, 3, t0)
    assert tail[0] == (5.0, "250 2.0.0 Ok", False, 6)
    assert tail[1][1].startswith("421 4.3.2 ") and tail[1][2:] == (False, 0)
    assert tail[2] == (5.0, "(connection closed)", True, None)
