"""Idle timers while the socket is full (the client does not read its replies) and while a
batch is under way (fresh10 F1). The README's idle_timeout row: what restarts it (the server's
own timeout too) is a reply written and each whole line from the client; the server's own
delays never count against the client, but its reading does: while the socket takes nothing,
the server waits on the client, so the client's timer runs (the scenario's ``idle_timeout``,
its 421 not waiting on the client: README, The record, "Replies the client never got whole").
The wire's reports (queued, sent, stalled) are made by hand, as the wire makes them; on the
FakeClock, no sockets."""

from __future__ import annotations

from smtpfake.engine.session import IDLE_TIMER
from smtpfake.scenario.plan import Action, ArmTimer, Close, HalfClose, Send

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

IDLE = {"idle_timeout": 1}


def _armed(pipe: Pipe, actions: tuple[Action, ...]) -> tuple[Action, ...]:
    """Note the timers among ``actions`` as the wire arms them; the rest is returned."""
    now = pipe.engine.clock.now()
    for action in actions:
        if isinstance(action, ArmTimer):
            pipe.timers[action.name] = action.seconds
            pipe.armed[action.name] = now
    return tuple(a for a in actions if not isinstance(a, ArmTimer))


def _group(pipe: Pipe, wire: bytes) -> list[Send]:
    """A read of several lines: each reply queued for the callback's one write (as
    tests/engine/test_queued_replies.py does), the timers armed."""
    queued: list[Send] = []
    actions = _armed(pipe, pipe.conn.receive_data(wire))
    for _ in range(100):
        sends = [a for a in actions if isinstance(a, Send)]
        if not sends:
            return queued
        for send in sends:
            pipe.conn.queued(send)
            queued.append(send)
        actions = _armed(pipe, pipe.conn.done())
    raise AssertionError("the group did not end")


def _stuck(pipe: Pipe, wire: bytes) -> None:
    """The group's one write: the socket takes 5 octets and stops (pause_writing)."""
    _group(pipe, wire)
    pipe.conn.sent(5)
    _armed(pipe, pipe.conn.stalled(True))


def _started(
    rules: tuple[dict[str, object], ...] = (), idle: float = 300.0, **server: object
) -> Pipe:
    pipe = Pipe(Engine(scenario(*rules, **server)), idle=idle)
    pipe.connect()
    pipe.feed("EHLO c.test")
    return pipe


def test_the_scenario_s_idle_timeout_runs_while_the_socket_is_full() -> None:
    pipe = _started(**IDLE)
    pipe.engine.advance(0.3)
    t0 = pipe.engine.clock.now()
    _stuck(pipe, b"RSET\r\n" * 3)
    # not the server's own 300 s: the client, not the server, holds the replies up
    assert (pipe.timers[IDLE_TIMER], pipe.due(IDLE_TIMER)) == (1, t0 + 1)
    pipe.engine.advance(1)
    actions = pipe.conn.timer_fired(IDLE_TIMER, socket_full=True)
    assert [type(a) for a in actions] == [Close]
    pipe.conn.performed(actions[0])
    tail = [(e.text, e.delivered, e.written) for e in pipe.record.transcript[-5:]]
    assert tail == [
        ("250 2.0.0 Ok", False, 5),
        ("250 2.0.0 Ok", False, 0),
        ("250 2.0.0 Ok", False, 0),
        ("421 4.4.2 smtpfake.test Error: timeout exceeded", False, 0),
        ("(connection closed)", True, None),
    ]


def test_a_line_that_comes_while_the_socket_is_full_restarts_the_client_s_timer() -> None:
    pipe = _started(**IDLE)
    _stuck(pipe, b"RSET\r\n" * 3)
    pipe.engine.advance(0.7)
    # a reply made now waits for the socket (a batch under way): the server's own limit
    # does not take over from the client's
    _armed(pipe, pipe.conn.receive_data(b"RSET\r\n"))
    assert (pipe.timers[IDLE_TIMER], pipe.due(IDLE_TIMER)) == (1, pipe.engine.clock.now() + 1)
    pipe.engine.advance(0.7)
    _armed(pipe, pipe.conn.receive_data(b"RSET\r\n"))  # behind it, while it waits
    assert pipe.due(IDLE_TIMER) == pipe.engine.clock.now() + 1
    pipe.engine.advance(1)
    # the client's timer ran out while a batch was under way: its 421, not a silent close
    actions = pipe.conn.timer_fired(IDLE_TIMER, socket_full=True)
    assert [type(a) for a in actions] == [Close]
    pipe.conn.performed(actions[0])
    pipe.conn.connection_lost()  # (the RSET behind is recorded, then what waited on it)
    tail = [(e.text, e.delivered) for e in pipe.record.transcript[-7:]]
    assert tail == [
        ("RSET", True),  # the last, never answered
        *[("250 2.0.0 Ok", False)] * 4,
        ("421 4.4.2 smtpfake.test Error: timeout exceeded", False),
        ("(connection closed)", True),
    ]


def test_once_the_socket_took_all_a_batch_under_way_has_the_server_s_limit() -> None:
    pipe = _started(**IDLE)
    _stuck(pipe, b"RSET\r\n" * 3)
    _armed(pipe, pipe.conn.receive_data(b"RSET\r\n"))  # its reply waits for the socket
    pipe.engine.advance(0.5)
    _armed(pipe, pipe.conn.stalled(False))
    assert pipe.timers[IDLE_TIMER] == 300
    pipe.engine.advance(0.1)
    _armed(pipe, pipe.conn.done())  # that reply taken: the client's turn
    assert (pipe.timers[IDLE_TIMER], pipe.due(IDLE_TIMER)) == (1, pipe.engine.clock.now() + 1)


def test_the_server_s_own_limit_restarts_at_the_stall_and_with_lines_that_come() -> None:
    # one timer (no idle_timeout): the EHLO's reply 0.6 s before the group; the group's lines
    # restart it, and so does the stall, not the EHLO's reply alone
    pipe = _started(idle=1.0)
    pipe.engine.advance(0.6)
    t0 = pipe.engine.clock.now()
    _stuck(pipe, b"RSET\r\n" * 3)
    assert pipe.due(IDLE_TIMER) == t0 + 1
    pipe.engine.advance(0.5)
    _armed(pipe, pipe.conn.receive_data(b"RSET\r\n"))
    assert pipe.due(IDLE_TIMER) == t0 + 1.5


def test_a_delayed_reply_keeps_the_server_s_own_limit_against_the_client_s() -> None:
    # two timers, the socket not full: the server's own delay never counts against the
    # client (unchanged)
    pipe = _started(({"on": "noop", "delay": 2},), **IDLE)
    pipe.feed("NOOP", hold=True)
    pipe.engine.advance(0.5)
    pipe.feed("RSET")
    assert pipe.timers[IDLE_TIMER] == 300


def test_the_server_s_own_limit_restarts_with_each_reply_of_a_group_it_writes() -> None:
    # one timer (no idle_timeout), the socket taking the replies (the client reads them,
    # slowly): each reply written restarts it, as the client's timer would (README, the
    # idle_timeout row; fresh18 F1: it ran from the reply before the group, for all of it)
    pipe = _started(({"on": "noop", "delay": 60},), idle=1.0)
    actions = _armed(pipe, pipe.conn.receive_data(b"RSET\r\n" * 3 + b"NOOP\r\n"))
    for _ in range(3):
        (send,) = [a for a in actions if isinstance(a, Send)]
        pipe.engine.advance(0.6)  # each reply taken 0.6 s after the last: never 1 s of silence
        pipe.conn.performed(send, pipe.engine.clock.now())
        actions = _armed(pipe, pipe.conn.done())
        assert pipe.due(IDLE_TIMER) == pipe.engine.clock.now() + 1
    # the NOOP's reply never comes in time (a hang): the server's own limit still ends it,
    # from the last reply written, with its silent close
    pipe.engine.advance(1)
    closing = pipe.conn.timer_fired(IDLE_TIMER)
    assert [a.note.text for a in closing if isinstance(a, HalfClose) and a.note] == [
        "(connection closed: idle timeout)"
    ]
