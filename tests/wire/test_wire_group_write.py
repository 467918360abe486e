"""The replies of a pipelined group leave in one write at the end of the read's callback; when the
socket takes only part of it (the client does not read), the record says exactly what crossed
(README "The record", Times): the replies whose last octet the socket took are delivered, the
rest once it takes them, or not delivered with the octets it took when the client resets or a
timer's close cuts them. On a real loopback socket and each loop.

Small socket buffers (the server end's SO_SNDBUF, the client's SO_RCVBUF) make a few of BIG's
replies fill them; while the client does not read, everything the server handed to the socket is
in the two kernels' queues (SIOCOUTQ on the server's end, FIONREAD on the client's), measured
without reading, as tests/wire/test_wire_backpressure.py does.
"""

from __future__ import annotations

import socket
import sys
import termios
import time

import pytest

from smtpfake.journal import SessionRecord
from smtpfake.server import Server
from smtpfake.wire.protocol import LOOK_EVERY

from ..support import scenario
from ..support.waits import ended_sessions, wait_until
from . import queues
from .queues import wait_blocked
from .test_wire_close_edges import (
    BIG,
    BIG_REPLY,
    in_time_order,
    read_to_eof,
    server_octets,
    small_client,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="queue sizes by Linux ioctls")


def blocked(server: Server, client: socket.socket, server_end: int) -> int:
    """wait_blocked(), and the same octets queued after three times protocol.LOOK_EVERY and
    then two turns of the server's loop (the look then due runs by the second): the kernel took
    its last octets before the wire's last look (it has no event for a socket taking more of
    what the transport holds, and a reset drops the transport's buffer unsaid; on a loaded
    machine two turns alone can come before the look is due). The kernel can take more late
    (under load): then again."""
    for _ in range(20):
        queued = wait_blocked(client, server_end)
        time.sleep(3 * LOOK_EVERY)
        for _ in range(2):
            server.wait_for_deliveries(timeout=5)
        if queued == now_queued(client, server_end):
            return queued
    raise AssertionError("the octets queued kept changing")


def now_queued(client: socket.socket, server_end: int) -> int:
    return queues.queued(client, termios.FIONREAD) + queues.queued(server_end, termios.TIOCOUTQ)


#: NOOPs in one read: their replies (BIG's, 51,200 octets each) leave in one write, several
#: times what the small buffers take
GROUP = 10


def replies(session: SessionRecord) -> list[tuple[bool, int | None]]:
    """(delivered, written) of each reply after the greeting."""
    server = [e for e in session.transcript if e.side == "server" and not e.note]
    return [(e.delivered, e.written) for e in server[1:]]


def test_a_group_write_the_socket_took_in_part_then_a_reset(
    fresh: Server, server_ends: list[int]
) -> None:
    """The group's one write meets the full socket; the client resets without reading: the
    replies recorded delivered plus the octets written of the others are what the socket took,
    the delivered ones first, then one cut short, then none of the rest written."""
    fresh.use(scenario(BIG))
    with small_client(fresh) as sock:
        greeting = sock.recv(100)
        assert greeting.startswith(b"220 ") and greeting.endswith(b"\r\n")
        (server_end,) = server_ends
        sock.sendall(b"NOOP\r\n" * GROUP)
        queued = blocked(fresh, sock, server_end)
        assert queued < len(BIG_REPLY) * GROUP  # they filled: the test bites
        # (closing with octets unread: the kernel resets the connection)
    (session,) = ended_sessions(fresh, 1)
    assert server_octets(session) == len(greeting) + queued
    got = replies(session)
    taken = queued // len(BIG_REPLY)
    assert got == [(True, None)] * taken + [(False, queued % len(BIG_REPLY))] + [(False, 0)] * (
        GROUP - taken - 1
    )
    assert session.transcript[-1].text == "(client reset the connection)"
    assert in_time_order(session)


def test_a_group_write_the_socket_took_in_part_is_delivered_once_read(
    fresh: Server, server_ends: list[int]
) -> None:
    """The client reads after all: each reply of the group is delivered, stamped when the socket
    took its last octet, after the replies it took at once; the record's octets are the
    client's."""
    fresh.use(scenario(BIG))
    with small_client(fresh) as sock:
        greeting = sock.recv(100)
        (server_end,) = server_ends
        sock.sendall(b"NOOP\r\n" * GROUP)
        queued = wait_blocked(sock, server_end)
        assert queued < len(BIG_REPLY) * GROUP
        sock.sendall(b"QUIT\r\n")
        received = read_to_eof(sock)
    assert received.startswith(BIG_REPLY * GROUP + b"221 ")
    (session,) = ended_sessions(fresh, 1)
    assert server_octets(session) == len(greeting) + len(received)
    assert replies(session) == [(True, None)] * (GROUP + 1)
    server = [e for e in session.transcript if e.side == "server" and not e.note]
    taken = queued // len(BIG_REPLY)
    # the replies the socket took at once went together; the others once the client read, after
    # it sent QUIT (stamped at the last sight of them held, moved to the QUIT's arrival when
    # that came later: never before it)
    assert len({e.time for e in server[1 : taken + 1]}) <= 1
    (quit_line,) = [e for e in session.transcript if e.text == "QUIT"]
    assert all(e.time >= quit_line.time for e in server[taken + 1 : GROUP + 1])
    assert in_time_order(session)


@pytest.mark.parametrize(
    ("timer", "group"),
    [("close_after", 1), ("close_after", GROUP), ("idle_timeout", GROUP)],
    ids=["close_after-one-reply", "close_after-group", "idle_timeout-group"],
)
def test_a_timers_close_cuts_the_reply_where_the_socket_stopped_taking_it(
    fresh: Server, server_ends: list[int], timer: str, group: int
) -> None:
    """A timer ends the session while the client leaves its replies unread: the server does not
    wait on it. What the socket took still reaches the client, then the close; nothing more (the
    rest of the reply, the 421 behind it). The record says so: the reply cut short not delivered
    with the octets written, the 421 not delivered, none of it written."""
    fresh.use(scenario(BIG, **{timer: 0.5}))
    with small_client(fresh) as sock:
        greeting = sock.recv(100)
        (server_end,) = server_ends
        sock.sendall(b"NOOP\r\n" * group)
        queued = wait_blocked(sock, server_end)
        assert queued < len(BIG_REPLY) * group

        def timer_said() -> bool:
            (live,) = fresh.sessions
            return any(e.text.startswith("421 ") for e in live.transcript)

        wait_until(timer_said, 5.0, "the timer's 421 in the record")
        received = read_to_eof(sock)
    # (what the socket took by the time of the cut: maybe more than it held when measured, the
    # kernel takes more as it moves octets on, late under load)
    assert len(received) < len(BIG_REPLY) * group
    (session,) = ended_sessions(fresh, 1)
    assert server_octets(session) == len(greeting) + len(received)
    got = replies(session)
    taken = len(received) // len(BIG_REPLY)
    cut = [(False, len(received) % len(BIG_REPLY))] + [(False, 0)] * (group - taken - 1)
    assert got == [(True, None)] * taken + cut + [(False, 0)]  # the 421 last, not written
    last = session.transcript[-2:]
    rule = {"close_after": "server.close_after", "idle_timeout": "server.idle"}[timer]
    assert last[0].text.startswith("421 4.") and last[0].rule == rule
    assert (last[1].text, last[1].note) == ("(connection closed)", True)
    assert in_time_order(session)
