"""Bounded waits on a running server's journal: every wait polls with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from smtpfake.journal import SessionRecord
from smtpfake.server import Server


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
