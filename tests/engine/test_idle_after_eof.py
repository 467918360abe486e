"""The idle timer after the client's EOF, its replies unread (fresh16 F1). A client that
half-closes with a group's replies stuck in the full socket, then neither reads nor closes,
had its session kept for ever: the EOF ended the session in the engine, its close waiting
behind those replies, and the idle timer then did nothing. README, the idle_timeout row: while
the socket takes nothing more of the replies, the timer runs from when it stopped taking and
ends the connection without waiting on the client, EOF or not. Also after QUIT's 221, which
closes the session before the socket took it. On the FakeClock, the wire's reports by hand."""

from __future__ import annotations

from smtpfake.engine.session import IDLE_TIMER
from smtpfake.scenario.plan import Close

from .test_idle_stalled import IDLE, _armed, _group, _started, _stuck


def test_the_scenario_s_timer_ends_a_half_closed_session_whose_replies_wait() -> None:
    pipe = _started(**IDLE)
    _stuck(pipe, b"RSET\r\n" * 3)
    t0 = pipe.engine.clock.now()
    pipe.engine.advance(0.2)
    _armed(pipe, pipe.conn.eof_received(True))  # its close waits behind the replies
    assert pipe.due(IDLE_TIMER) == t0 + 1  # running from the stall, not disarmed
    pipe.engine.advance(0.8)
    actions = pipe.conn.timer_fired(IDLE_TIMER, socket_full=True)
    assert [type(a) for a in actions] == [Close]  # (before the fix: none, for ever)
    pipe.conn.performed(actions[0])
    pipe.conn.connection_lost()
    tail = [(e.text, e.delivered, round(e.time - t0, 6)) for e in pipe.record.transcript[-6:]]
    assert tail == [
        ("(client closed the connection)", True, 0.2),
        ("250 2.0.0 Ok", False, 1.0),
        ("250 2.0.0 Ok", False, 1.0),
        ("250 2.0.0 Ok", False, 1.0),
        ("421 4.4.2 smtpfake.test Error: timeout exceeded", False, 1.0),
        ("(connection closed)", True, 1.0),
    ]
    assert pipe.record.ended is not None


def test_the_server_s_own_limit_ends_a_half_closed_session_whose_replies_wait() -> None:
    pipe = _started(idle=1.0)
    _stuck(pipe, b"RSET\r\n" * 3)
    pipe.engine.advance(0.2)
    _armed(pipe, pipe.conn.eof_received(True))
    pipe.engine.advance(0.8)
    actions = pipe.conn.timer_fired(IDLE_TIMER, socket_full=True)
    assert [type(a) for a in actions] == [Close]
    pipe.conn.performed(actions[0])
    tail = [(e.text, e.delivered) for e in pipe.record.transcript[-5:]]
    assert tail == [
        ("(client closed the connection)", True),
        *[("250 2.0.0 Ok", False)] * 3,
        ("(connection closed: idle timeout)", True),
    ]


def test_a_stall_after_the_eof_arms_the_client_s_timer() -> None:
    # the EOF came before the socket stopped taking: the stall still arms the timer
    pipe = _started(**IDLE)
    _group(pipe, b"RSET\r\n" * 3)
    _armed(pipe, pipe.conn.eof_received(True))
    pipe.conn.sent(5)
    pipe.timers.clear()
    _armed(pipe, pipe.conn.stalled(True))
    assert pipe.timers == {IDLE_TIMER: 1}


def test_the_timer_ends_a_session_whose_221_waits_in_the_full_socket() -> None:
    # the scenario's timer: the session closed at QUIT (no 421 from it), the 221 still unread
    pipe = _started(**IDLE)
    _stuck(pipe, b"RSET\r\nRSET\r\nQUIT\r\n")
    pipe.engine.advance(1)
    actions = pipe.conn.timer_fired(IDLE_TIMER, socket_full=True)
    assert [type(a) for a in actions] == [Close]
    pipe.conn.performed(actions[0])
    tail = [(e.text, e.delivered) for e in pipe.record.transcript[-3:]]
    assert tail[-1] == ("(connection closed: idle timeout)", True)
    assert tail[-2][1] is False  # the 221, never taken
