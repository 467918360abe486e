"""Helpers for the fault tests: a raw socket client that sees exact bytes and read boundaries,
and bounded waits on the journal. Every read has a socket timeout; every loop a budget."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable
from typing import Any

from smtpfake.journal import SessionRecord
from smtpfake.scenario import Scenario
from smtpfake.scenario.faults import Fault
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


def retimed(scenario: Scenario, fault: type[Fault], **changes: Any) -> Scenario:
    """The scenario with every ``fault`` in its rules changed (to test a built-in's shape fast)."""
    rules = tuple(
        dataclasses.replace(
            rule,
            faults=tuple(
                dataclasses.replace(f, **changes) if isinstance(f, fault) else f  # type: ignore[type-var]
                for f in rule.faults
            ),
        )
        for rule in scenario.rules
    )
    assert any(isinstance(f, fault) for r in rules for f in r.faults), f"no {fault.name} in it"
    return dataclasses.replace(scenario, rules=rules)


class Raw:
    """A plain socket client: exact bytes in and out, and how they arrived."""

    def __init__(self, server: Server, timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=timeout)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self) -> bytes:
        """One read as the kernel hands it over; b"" at EOF or reset."""
        try:
            return self.sock.recv(65536)
        except ConnectionResetError:
            return b""

    def until(self, end: bytes, limit: int = 1000) -> tuple[bytes, list[bytes]]:
        """Read until the data ends with ``end`` (or EOF); the data and each read's piece."""
        pieces: list[bytes] = []
        data = self.buffer
        self.buffer = b""
        for _ in range(limit):
            if data.endswith(end):
                break
            piece = self.recv()
            if not piece:
                break
            pieces.append(piece)
            data += piece
        return data, pieces

    def reply(self) -> bytes:
        """Bytes up to the end of a reply (a line with a space or nothing after the code)."""
        data = self.buffer
        self.buffer = b""
        for _ in range(1000):
            lines = data.split(b"\r\n")
            for i, line in enumerate(lines[:-1]):
                if line[3:4] in (b" ", b""):
                    end = sum(len(x) + 2 for x in lines[: i + 1])
                    self.buffer = data[end:]
                    return data[:end]
            piece = self.recv()
            if not piece:
                return data
            data += piece
        raise AssertionError(f"no end of reply in {data[:200]!r}")

    def command(self, text: str) -> bytes:
        self.send(text.encode() + b"\r\n")
        return self.reply()

    def rest(self) -> bytes:
        """Everything until the server closes (EOF or RST)."""
        data, _ = self.until(b"\x00never\x00")
        return data

    def close(self) -> None:
        self.sock.close()


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
