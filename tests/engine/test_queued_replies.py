"""The replies of a pipelined group, queued for one write (Connection.queued), are recorded as the
socket takes them (Connection.sent): delivered when it took each one's last octet, stamped then;
not delivered, with the octets it took, when the connection ends first. No sockets: the wire's
reports are made by hand, as tests/wire/test_wire_group_write.py makes them happen."""

from __future__ import annotations

from smtpfake.engine.session import CLOSE_AFTER_TIMER
from smtpfake.scenario.plan import Action, ArmTimer, Close, HalfClose, Send

from ..support.engine import Engine
from ..support.pipe import Pipe

OK = b"250 2.0.0 Ok\r\n"
INTERNAL = "451 4.3.0 smtpfake internal error, see the test report"


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


def _sends(actions: tuple[Action, ...]) -> list[Send]:
    return [a for a in actions if isinstance(a, Send)]


def test_a_line_read_while_queued_replies_wait_is_sent_ahead_of_them() -> None:
    """RSET, NOOP in one read (a group RFC 2920 §3.1 allows: NOOP ends it); the socket takes
    RSET's reply and part of NOOP's; an RSET read then was sent before NOOP's reply reached the
    client: bad-pipelining. It is recorded when read, before NOOP's reply, and answered after it
    (the wire writes it once the socket took the rest)."""
    pipe = _started()
    t0 = pipe.engine.clock.now()
    _group(pipe, b"RSET\r\nNOOP\r\n")
    pipe.conn.sent(len(OK) + 5)
    assert pipe.record.violations == ()
    pipe.engine.advance(0.1)
    (reply,) = _sends(pipe.conn.receive_data(b"RSET\r\n"))
    pipe.engine.advance(0.1)
    pipe.conn.sent()
    pipe.engine.advance(0.1)
    assert pipe.conn.wrote(reply, pipe.engine.clock.now())
    assert _tail(pipe, 6, t0) == [
        (0.0, "RSET", True, None),
        (0.0, "NOOP", True, None),
        (0.0, "250 2.0.0 Ok", True, None),
        (0.1, "RSET", True, None),
        (0.2, "250 2.0.0 Ok", True, None),
        (0.3, "250 2.0.0 Ok", True, None),
    ]
    (violation,) = pipe.record.violations
    assert (violation.kind, violation.command) == ("bad-pipelining", "RSET")
    assert round(violation.time - t0, 6) == 0.1  # the RSET's time
    assert "before the reply to NOOP" in violation.detail


def test_a_line_begun_while_queued_replies_wait_is_sent_ahead_of_them() -> None:
    """The same RSET, its first octets read while NOOP's reply waits, its end once the socket
    took it: (part of) it was sent before that reply reached the client."""
    pipe = _started()
    _group(pipe, b"RSET\r\nNOOP\r\n")
    pipe.conn.sent(3)
    assert pipe.conn.receive_data(b"RS") == ()
    pipe.conn.sent()
    assert _sends(pipe.conn.receive_data(b"ET\r\n"))
    assert [v.kind for v in pipe.record.violations] == ["bad-pipelining"]


def test_a_data_read_while_the_rcpt_refusal_waits_is_a_pipelined_refusal() -> None:
    """RFC 2920 §3.1: a pipelining client sends DATA before it learns that its RCPT was refused;
    the 503 is the expected outcome, no bad-sequence, when the refusal had not reached it (it
    waits for the socket). A DATA sent once the refusal was taken is the client's mistake."""
    pipe = _started({"rules": [{"on": "rcpt", "reply": "550 5.1.1 No such user"}]})
    _group(pipe, b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n")
    pipe.conn.sent(3)  # not even MAIL's reply whole
    (first,) = _sends(pipe.conn.receive_data(b"DATA\r\n"))
    assert first.data.startswith(b"503 ")
    pipe.conn.sent()
    pipe.conn.wrote(first, pipe.engine.clock.now())
    assert pipe.record.violations == ()
    pipe.engine.advance(1)
    (second,) = _sends(pipe.conn.receive_data(b"DATA\r\n"))
    assert second.data.startswith(b"503 ")
    (violation,) = pipe.record.violations
    assert violation.kind == "bad-sequence"
    assert violation.time == pipe.engine.clock.now()  # the second DATA's


def _behind_the_queue(pipe: Pipe) -> tuple[float, Send, HalfClose]:
    """A group of two NOOPs queued, the socket took the first reply and 4 octets of the second;
    then a RSET read, its reply (the batch under way) waiting behind them; smtpfake fails. The
    start's time, the 451 and the close the wire is to carry out."""
    t0 = pipe.engine.clock.now()
    _group(pipe, b"NOOP\r\nNOOP\r\n")
    pipe.conn.sent(len(OK) + 4)
    pipe.engine.advance(0.1)
    assert _sends(pipe.conn.receive_data(b"RSET\r\n"))
    pipe.engine.advance(0.1)
    (error, close, grace) = pipe.conn.internal_error()
    assert isinstance(error, Send) and error.data.startswith(b"451 4.3.0 ")
    assert isinstance(close, HalfClose) and isinstance(grace, ArmTimer)
    return t0, error, close


def test_an_internal_error_while_queued_replies_wait_is_recorded_after_them() -> None:
    """The wire writes the 451 once the socket took the queued replies: the RSET's reply, never
    written, is recorded between them and the 451, as on the wire."""
    pipe = _started()
    t0, error, close = _behind_the_queue(pipe)
    assert pipe.record.transcript[-1].text == "RSET"  # nothing of the end recorded yet
    pipe.engine.advance(0.1)
    pipe.conn.sent()
    pipe.conn.performed(error)
    pipe.conn.performed(close)
    assert _tail(pipe, 6, t0) == [
        (0.0, "250 2.0.0 Ok", True, None),
        (0.1, "RSET", True, None),
        (0.3, "250 2.0.0 Ok", True, None),
        (0.3, "250 2.0.0 Ok", False, 0),
        (0.3, INTERNAL, True, None),
        (0.3, "(connection closed)", True, None),
    ]


def test_an_internal_error_while_queued_replies_wait_then_a_reset() -> None:
    """The client resets before the socket took the rest: the queued reply cut short (4 octets
    written), the RSET's, the 451, all not delivered, in that order, then the reset."""
    pipe = _started()
    t0, _, _ = _behind_the_queue(pipe)
    pipe.engine.advance(0.1)
    pipe.lost(reset=True)
    assert _tail(pipe, 6, t0) == [
        (0.0, "250 2.0.0 Ok", True, None),
        (0.1, "RSET", True, None),
        (0.3, "250 2.0.0 Ok", False, 4),
        (0.3, "250 2.0.0 Ok", False, 0),
        (0.3, INTERNAL, False, 0),
        (0.3, "(client reset the connection)", True, None),
    ]
