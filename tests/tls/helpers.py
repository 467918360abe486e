"""Helpers for the TLS tests: scenario dicts, a raw client that can switch to TLS, bounded waits.

Everything is bounded: sockets carry a 5 s timeout, waits poll with a deadline.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

from smtpfake.journal import SessionRecord
from smtpfake.server import Server

TIMEOUT = 5.0
BODY = "Subject: hello\r\n\r\nhi there\r\n"


def scenario(*rules: dict[str, Any], **server: Any) -> dict[str, Any]:
    """A scenario as a dict, the way ``server.use({...})`` takes it."""
    out: dict[str, Any] = {"summary": "test scenario", "expect": "whatever the test says"}
    if rules:
        out["rules"] = list(rules)
    if server:
        out["server"] = server
    return out


class Raw:
    """A socket client with exact bytes in and out, plain or (after ``tls()``) over TLS."""

    def __init__(self, server: Server, *, implicit: ssl.SSLContext | None = None) -> None:
        self.sock: socket.socket = socket.create_connection(
            (server.host, server.port), timeout=TIMEOUT
        )
        if implicit is not None:
            self.sock = implicit.wrap_socket(self.sock, server_hostname="localhost")
        self.file = self.sock.makefile("rb")

    def tls(self, context: ssl.SSLContext, hostname: str = "localhost") -> None:
        """Start TLS on the connection (after the server's 220 to STARTTLS)."""
        self.file.close()
        self.sock = context.wrap_socket(self.sock, server_hostname=hostname)
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> list[bytes]:
        """One complete reply, all its lines."""
        lines: list[bytes] = []
        for _ in range(100):
            line = self.file.readline(4096)
            assert line, f"EOF inside a reply after {lines!r}"
            assert line.endswith(b"\r\n") and line[:3].isdigit(), f"malformed: {line!r}"
            lines.append(line)
            if line[3:4] == b" ":
                return lines
        raise AssertionError(f"reply longer than 100 lines: {lines[:3]!r}...")

    def code(self) -> int:
        return int(self.reply()[-1][:3])

    def command(self, text: str) -> list[bytes]:
        self.send(text.encode() + b"\r\n")
        return self.reply()

    def command_code(self, text: str) -> int:
        return int(self.command(text)[-1][:3])

    def closed(self) -> bool:
        """True when the server has closed (EOF, RST or a TLS-level close) with nothing sent."""
        try:
            return self.sock.recv(1) == b""
        except (ConnectionError, ssl.SSLError):
            return True

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def keywords(ehlo_reply: list[bytes]) -> list[str]:
    """The EHLO keywords of a 250 reply (the first line is the hostname)."""
    return [line[4:].decode().strip().split(" ", 1)[0].upper() for line in ehlo_reply[1:]]


def wait_until(predicate: Callable[[], Any], timeout: float = 2.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.005)


def ended_sessions(server: Server, count: int, timeout: float = 3.0) -> tuple[SessionRecord, ...]:
    """Wait until ``count`` sessions exist and all have ended; return them (exactly ``count``)."""

    def done() -> tuple[SessionRecord, ...] | None:
        sessions = server.sessions
        if len(sessions) >= count and all(s.ended is not None for s in sessions):
            return sessions
        return None

    sessions: tuple[SessionRecord, ...] = wait_until(done, timeout, f"{count} ended sessions")
    assert len(sessions) == count, [s.format() for s in sessions]
    return sessions


def server_notes(record: SessionRecord) -> list[str]:
    """The server's parenthesised notes in a transcript: "(TLS established: ...)" and such."""
    return [e.text for e in record.transcript if e.side == "server" and e.text.startswith("(")]
