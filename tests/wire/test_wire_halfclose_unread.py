"""A client that half-closes (FIN) with a group's replies unread in the full socket, then keeps
its socket and reads nothing (fresh16 F1, F2), on a real loopback socket, each loop, plain and
over STARTTLS. The README's idle_timeout row: while the socket takes nothing more of the replies
the timer runs and ends the connection, EOF or not (F1: the session never ended). The record
(the client's close): an entry of its own, at its time (F2: uvloop's TLS layer hid the FIN,
and the record blamed the idle timeout alone)."""

from __future__ import annotations

import socket
import ssl

import pytest

from smtpfake.server import Server

from ..support import scenario
from ..support.waits import ended_sessions
from .queues import wait_blocked
from .test_wire_close_edges import BIG, in_time_order, small_client
from .test_wire_tls_close import final_reply

#: NOOPs in one read: BIG's replies (51,200 octets each) in one write, the wire's one turn
GROUP = 40
#: the scenario's idle_timeout: long enough for the FIN to come before it runs out
IDLE = 1.5


def _secured(fresh: Server, plain: socket.socket) -> ssl.SSLSocket:
    assert final_reply(plain).startswith(b"220 ")
    plain.sendall(b"EHLO client.test\r\n")
    final_reply(plain)
    plain.sendall(b"STARTTLS\r\n")
    assert final_reply(plain).startswith(b"220 ")
    sock = fresh.tls_client_context().wrap_socket(plain, server_hostname="localhost")
    sock.sendall(b"EHLO client.test\r\n")
    final_reply(sock)
    return sock


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "starttls"])
def test_a_half_closed_client_that_reads_nothing_is_timed_out_and_its_close_recorded(
    fresh: Server, server_ends: list[int], tls: bool
) -> None:
    fresh.use(scenario(BIG, idle_timeout=IDLE, tls=tls))
    with small_client(fresh) as plain:
        if tls:
            sock: socket.socket = _secured(fresh, plain)
        else:
            sock = plain
            assert final_reply(sock).startswith(b"220 ")
        (server_end,) = server_ends
        sock.sendall(b"NOOP\r\n" * GROUP)
        wait_blocked(sock, server_end)
        sock.shutdown(socket.SHUT_WR)  # (under TLS: a FIN, no close_notify)
        # the client keeps its socket, reading nothing (before the fix: the session never
        # ended on asyncio, nor plain on uvloop)
        (session,) = ended_sessions(fresh, 1, timeout=IDLE + 5.0)
    texts = [e.text for e in session.transcript]
    closes = [i for i, e in enumerate(session.transcript) if e.event]
    # (before the fix, uvloop over TLS: none, the record blaming the idle timeout alone)
    assert [texts[i] for i in closes] == ["(client closed the connection)"], texts[-5:]
    (timed_out,) = [i for i, t in enumerate(texts) if t.startswith("421 ")]
    assert closes[0] < timed_out  # the FIN, at its time: before the timer ran out
    last = session.transcript[timed_out:]
    assert [(e.text, e.delivered) for e in last] == [
        ("421 4.4.2 smtpfake.test Error: timeout exceeded", False),
        ("(connection closed)", True),
    ]
    noops = [e for e in session.transcript if e.text.startswith("250-2.0.0 x")]
    assert len(noops) == GROUP and not all(e.delivered for e in noops)  # the test bites
    assert in_time_order(session)
