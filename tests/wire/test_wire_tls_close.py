"""The server's close over TLS, on a real loopback socket and on each event loop (issue 7, fresh14
F5): TLS has no half-close, so after its last reply (a 221, an unsolicited 421) the server reads on
for the grace period and only then closes (close_notify). The record's ``(connection closed)`` is
that close, after the lines the client sent meanwhile; and the session ends then, not after
asyncio's wait for the client's own close_notify (up to 5 s) while the client keeps its socket."""

from __future__ import annotations

import contextlib
import re
import socket
import ssl

import pytest

from smtpfake.server import Server

from ..support import SHARED_GRACE, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds
from .test_wire_close_edges import BIG, BIG_REPLY, small_client
from .test_wire_group_write import blocked

TLS = {"tls": True}


def secured(conn: Raw, server: Server) -> None:
    """Greeting, EHLO, STARTTLS and the handshake, then EHLO again."""
    assert conn.code() == 220
    conn.command("EHLO client.test")
    assert conn.command_code("STARTTLS") == 220
    conn.tls(server.tls_client_context())
    assert conn.command("EHLO client.test")[-1].startswith(b"250 ")


@pytest.mark.parametrize("ending", ["quit", "close_after"])
def test_over_tls_the_close_is_recorded_when_the_server_closes(fresh: Server, ending: str) -> None:
    if ending == "quit":
        fresh.use(scenario(**TLS))
    else:  # an unsolicited 421, once the session is secured (the handshake is quick on loopback)
        fresh.use(scenario(tls=True, close_after=1.0))
    with Raw(fresh) as conn:
        secured(conn, fresh)
        if ending == "quit":
            assert conn.command_code("QUIT") == 221
        else:
            assert conn.code() == 421
        conn.send(b"NOOP\r\n")  # in the grace period: read and recorded, never answered
        assert conn.eof()  # the close_notify, at the grace period's end
        # the client keeps its socket and never answers the close_notify: the session still
        # ends with the server's close (well before asyncio's 5 s wait for the client's)
        (record,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2.0)
    texts = [e.text for e in record.transcript]
    assert texts[-2:] == ["NOOP", "(connection closed)"], texts
    assert record.transcript[-1].time >= record.transcript[-2].time
    # after a 221 the NOOP is judged; after an unsolicited 421 it is the one command the client
    # may send before reading it (RFC 5321 §3.8)
    assert ("sent-after-close" in kinds(record)) is (ending == "quit")


def test_over_tls_the_clients_close_in_the_grace_period_ends_it(fresh: Server) -> None:
    fresh.use(scenario(**TLS))
    with Raw(fresh) as conn:
        secured(conn, fresh)
        assert conn.command_code("QUIT") == 221
        with contextlib.suppress(ssl.SSLError):  # (3.10 closes without answering it)
            conn.sock.unwrap()  # the client's close_notify: the server closes at once
        (record,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2.0)
    texts = [e.text for e in record.transcript]
    # (3.10's TLS layer answers the client's close_notify itself and tells the wire only that
    # the connection is lost: the wire records the client's close, then its own, as on 3.11+)
    assert texts[-2:] == ["(client closed the connection)", "(connection closed)"], texts


# -- a pipelined group's replies over TLS: delivered once the kernel took them (fresh14 F1, F6) ---

#: NOOPs in one read: BIG's replies, 51,200 octets each, 40 times what the small buffers take
GROUP = 40


def final_reply(sock: socket.socket) -> bytes:
    """Octets up to the end of a final reply line (a short reply: a few reads at most)."""
    got = b""
    for _ in range(100):
        got += sock.recv(4096)
        if re.search(rb"(^|\r\n)\d{3} [^\r\n]*\r\n$", got):
            return got
    raise AssertionError(f"no final reply line: {got!r}")


def test_over_tls_a_groups_replies_are_delivered_only_once_the_kernel_took_them(
    fresh: Server, server_ends: list[int]
) -> None:
    """The TLS layer hands a whole write's ciphertext to the socket's transport at once (asyncio
    3.11+, uvloop): the replies in there are not delivered. The client resets without reading:
    the replies recorded delivered are no more than what the two kernels hold (ciphertext, at
    least the plaintext it carries), and the reset ends the session (Python 3.10 never noticed
    it: F6)."""
    fresh.use(scenario(BIG, **TLS))
    with small_client(fresh) as plain:
        assert final_reply(plain).startswith(b"220 ")
        plain.sendall(b"EHLO client.test\r\n")
        final_reply(plain)
        plain.sendall(b"STARTTLS\r\n")
        assert final_reply(plain).startswith(b"220 ")
        context = fresh.tls_client_context()
        with context.wrap_socket(plain, server_hostname="localhost") as sock:
            sock.sendall(b"EHLO client.test\r\n")
            final_reply(sock)
            (server_end,) = server_ends
            sock.sendall(b"NOOP\r\n" * GROUP)
            queued = blocked(fresh, sock, server_end)
            assert queued < len(BIG_REPLY) * GROUP // 2  # most of them are still in the server
            # (closing with octets unread: the kernel resets the connection)
    (session,) = ended_sessions(fresh, 1, timeout=5.0)
    big = [e for e in session.transcript if e.text.startswith("250-2.0.0 x")]
    assert len(big) == GROUP
    delivered = sum(1 for e in big if e.delivered)
    assert delivered * len(BIG_REPLY) <= queued
    assert session.transcript[-1].text == "(client reset the connection)"
