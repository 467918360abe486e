"""While a pipelined group's one write waits on a full socket (the client stopped reading, then
sent more), what the client sends came before those replies reached it: judged as sent ahead of
them (RFC 2920 §3.1); and a failure of smtpfake's own code then leaves the record in wire order:
the group's replies, the reply given up behind them, the 451. On a real loopback socket and each
loop (README "The record")."""

from __future__ import annotations

import socket
import sys

import pytest

from smtpfake.engine.connection import Connection
from smtpfake.journal import SessionRecord
from smtpfake.scenario.plan import Action
from smtpfake.server import Server

from ..support import scenario
from ..support.waits import ended_sessions, kinds, wait_until
from .queues import wait_blocked
from .test_wire_close_edges import BIG_REPLY, in_time_order, read_to_eof, small_client

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="queue sizes by Linux ioctls")

#: RSET's and NOOP's replies as BIG's (51,200 octets): a group of them fills the small buffers
HUGE = {"code": 250, "text": ["x" * 500] * 100}
RULES = ({"on": "rset", "reply": HUGE}, {"on": "noop", "reply": HUGE})
#: a group RFC 2920 §3.1 allows: RSETs, then NOOP, which must end it
GROUP = b"RSET\r\n" * 9 + b"NOOP\r\n"
INTERNAL = "451 4.3.0 smtpfake internal error, see the test report"


def blocked_group(server: Server, server_ends: list[int]) -> socket.socket:
    """A client past EHLO whose GROUP's replies wait on the full socket (it reads none)."""
    server.use(scenario(*RULES))
    sock = small_client(server)
    assert sock.recv(100).startswith(b"220 ")
    sock.sendall(b"EHLO c.test\r\n")
    assert sock.recv(1000).startswith(b"250-")
    (server_end,) = server_ends
    sock.sendall(GROUP)
    assert wait_blocked(sock, server_end) < len(BIG_REPLY) * 10  # the write waits: the test bites
    return sock


def rsets(server: Server) -> int:
    (live,) = server.sessions
    return sum(e.text == "RSET" for e in live.transcript)


def replies(session: SessionRecord) -> list[tuple[str, bool, int | None]]:
    """(start, delivered, written) of each reply after EHLO's."""
    server = [e for e in session.transcript if e.side == "server" and not e.note]
    return [(e.text[:10], e.delivered, e.written) for e in server[2:]]


def test_a_line_sent_while_the_groups_write_waits_is_pipelined(
    fresh: Server, server_ends: list[int]
) -> None:
    """RSET sent after the group's NOOP, before NOOP's reply reached the client: NOOP must end a
    group (RFC 2920 §3.1), so it is bad-pipelining. It is answered after the group, recorded
    when it arrived, before the replies the socket took after it."""
    with blocked_group(fresh, server_ends) as sock:
        sock.sendall(b"RSET\r\n")
        wait_until(lambda: rsets(fresh) == 10, 5.0, "the RSET read")
        sock.sendall(b"QUIT\r\n")
        received = read_to_eof(sock)
    assert received.startswith(BIG_REPLY * 11 + b"221 ")
    (session,) = ended_sessions(fresh, 1)
    assert kinds(session) == ["bad-pipelining"]
    (violation,) = session.violations
    assert violation.command == "RSET"
    assert "before the reply to NOOP" in violation.detail
    (late,) = [e for e in session.transcript if e.text == "RSET"][9:]
    assert violation.time == late.time
    assert replies(session) == [("250-2.0.0 ", True, None)] * 11 + [("221 2.0.0 ", True, None)]
    # the group's last reply went after the RSET arrived: the RSET is before it
    server = [e for e in session.transcript if e.side == "server" and not e.note]
    assert late.time <= server[11].time
    assert session.transcript.index(late) < session.transcript.index(server[11])
    assert in_time_order(session)


def test_an_internal_error_while_the_groups_write_waits_keeps_wire_order(
    fresh: Server, server_ends: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """smtpfake's own code fails while the group's replies wait for the socket and a later
    RSET's reply waits behind them: the client gets the group's replies, then the 451 (the
    RSET's never went); the record says the same, in that order."""
    real = Connection.receive_data

    def receive(conn: Connection, data: bytes) -> tuple[Action, ...]:
        # a bug in the engine's reading, met by these octets only
        if data == b"BOOM\r\n":
            raise RuntimeError("exploded on purpose")
        return real(conn, data)

    monkeypatch.setattr(Connection, "receive_data", receive)
    with blocked_group(fresh, server_ends) as sock:
        sock.sendall(b"RSET\r\n")
        wait_until(lambda: rsets(fresh) == 10, 5.0, "the RSET read")
        sock.sendall(b"BOOM\r\n")
        wait_until(lambda: fresh.errors, 5.0, "the error reported")
        received = read_to_eof(sock)
    assert received == BIG_REPLY * 10 + INTERNAL.encode() + b"\r\n"
    (session,) = ended_sessions(fresh, 1)
    (error,) = fresh.errors
    assert str(error.error) == "exploded on purpose"
    fresh.errors.clear()  # seen: the fixture must not fail the test for it
    # the RSET's reply, never written, between the group's and the 451
    rset = [("250-2.0.0 ", False, 0)]
    assert replies(session) == [("250-2.0.0 ", True, None)] * 10 + rset + [
        (INTERNAL[:10], True, None)
    ]
    assert session.transcript[-2].text == "(connection closed)"
    assert in_time_order(session)
