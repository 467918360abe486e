"""Helpers for the wire tests: a raw socket client and bounded waits on the journal.

Everything here is bounded in time: sockets carry a 5 s timeout, waits poll with a deadline,
reads stop at a line or loop budget.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from smtpfake.journal import SessionRecord
from smtpfake.server import Server

TIMEOUT = 5.0


def scenario(*rules: dict[str, Any], **server: Any) -> dict[str, Any]:
    """A scenario as a dict, the way ``server.use({...})`` takes it."""
    out: dict[str, Any] = {"summary": "test scenario", "expect": "whatever the test says"}
    if rules:
        out["rules"] = list(rules)
    if server:
        out["server"] = server
    return out


class Raw:
    """A plain socket client: exact bytes in and out."""

    def __init__(self, server: Server) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        """One reply line with its CRLF; b"" at EOF."""
        return self.file.readline(4096)

    def reply(self) -> list[bytes]:
        """One complete reply (all lines of a multi-line reply), checked for §4.2.1 form."""
        lines: list[bytes] = []
        for _ in range(100):
            line = self.line()
            assert line, f"EOF inside a reply after {lines!r}"
            assert line.endswith(b"\r\n"), f"reply line without CRLF: {line!r}"
            assert line[:3].isdigit() and line[3:4] in (b" ", b"-"), f"malformed: {line!r}"
            if lines:
                assert line[:3] == lines[0][:3], f"code changed inside a reply: {[*lines, line]!r}"
            lines.append(line)
            if line[3:4] == b" ":
                return lines
        raise AssertionError(f"reply longer than 100 lines: {lines[:3]!r}...")

    def code(self) -> int:
        return int(self.reply()[-1][:3])

    def command(self, text: str | bytes) -> list[bytes]:
        data = text.encode() if isinstance(text, str) else text
        self.send(data + b"\r\n")
        return self.reply()

    def rest(self) -> bytes:
        """Everything until the server closes; ECONNRESET counts as closed."""
        out = bytearray()
        try:
            for _ in range(1000):
                chunk = self.file.read1(65536)
                if not chunk:
                    return bytes(out)
                out += chunk
        except ConnectionResetError:
            return bytes(out)
        raise AssertionError(f"the server kept sending: {bytes(out[:200])!r}...")

    def eof(self) -> bool:
        """True when the server has closed (EOF or RST) with nothing more sent."""
        return self.rest() == b""

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_until(predicate: Callable[[], Any], timeout: float = 2.0, what: str = "") -> Any:
    """Poll until ``predicate()`` is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.005)


def ended_sessions(server: Server, count: int, timeout: float = 2.0) -> tuple[SessionRecord, ...]:
    """Wait until ``count`` sessions exist and all have ended; return them (exactly ``count``)."""

    def done() -> tuple[SessionRecord, ...] | None:
        sessions = server.sessions
        if len(sessions) >= count and all(s.ended is not None for s in sessions):
            return sessions
        return None

    sessions: tuple[SessionRecord, ...] = wait_until(done, timeout, f"{count} ended sessions")
    assert len(sessions) == count, [s.format() for s in sessions]
    return sessions


def kinds(record: SessionRecord) -> list[str]:
    return [v.kind for v in record.violations]
