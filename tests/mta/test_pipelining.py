"""What Postfix does on every greylisted attempt, replayed with a raw socket: MAIL, RCPT and DATA
in one write (RFC 2920 §3.1), the RCPT refused, so the DATA gets 503. That DATA is the normal
behaviour of a pipelining client, and must not be recorded as the client's fault."""

from __future__ import annotations

import socket
import time

from smtpfake.server import Server

TIMEOUT = 5.0


def read_replies(sock: socket.socket, count: int) -> list[bytes]:
    """The last lines of the next ``count`` whole replies (multi-line ones too), within
    TIMEOUT."""
    data = b""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        lines = data.split(b"\r\n")[:-1]  # complete lines only
        finals = [line for line in lines if line[3:4] != b"-"]
        if len(finals) >= count:
            return finals[:count]
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    raise AssertionError(f"{count} replies expected, got {data!r}")


def pipelined_refused_attempt() -> tuple[list[bytes], list[str]]:
    with Server("greylisting") as server:
        with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as sock:
            assert read_replies(sock, 1)[0].startswith(b"220 ")
            sock.sendall(b"EHLO c.test\r\n")
            assert read_replies(sock, 1)[0].startswith(b"250 ")
            sock.sendall(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n")
            replies = read_replies(sock, 3)
            sock.sendall(b"QUIT\r\n")
            read_replies(sock, 1)
        (session,) = server.journal.wait(
            lambda j: [s for s in j.sessions() if s.ended is not None], timeout=TIMEOUT
        )
        return replies, [str(v) for v in session.violations]


def test_pipelined_data_after_the_refused_rcpt_gets_503() -> None:
    replies, _ = pipelined_refused_attempt()
    assert [r[:3] for r in replies] == [b"250", b"451", b"503"]


def test_pipelined_data_after_the_refused_rcpt_is_not_a_violation() -> None:
    _, violations = pipelined_refused_attempt()
    assert violations == []
