"""Fixtures for the fault tests: one real server for the run, isolated per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from smtpfake.server import Server

from .helpers import Raw


@pytest.fixture(scope="session")
def fault_server() -> Iterator[Server]:
    server = Server("default").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(fault_server: Server) -> Iterator[Server]:
    """The shared server, back to ``default`` with an empty journal; no server errors allowed.

    reset() also drops live connections, so a hang left by one test never reaches the next.
    """
    fault_server.use("default")
    fault_server.reset()
    yield fault_server
    errors = list(fault_server.errors)
    fault_server.use("default")
    fault_server.reset()
    assert not errors, "\n".join(str(e) for e in errors)


@pytest.fixture
def raw(server: Server) -> Iterator[Callable[..., Raw]]:
    """Open raw connections; all are closed after the test."""
    opened: list[Raw] = []

    def connect(timeout: float = 5.0) -> Raw:
        conn = Raw(server, timeout)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()
