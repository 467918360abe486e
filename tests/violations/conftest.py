"""One real server for these tests, isolated per test; no server errors or asyncio noise."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from smtpfake.server import Server

from .helpers import Raw


@pytest.fixture(scope="session")
def violations_server() -> Iterator[Server]:
    server = Server("default").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(violations_server: Server, caplog: pytest.LogCaptureFixture) -> Iterator[Server]:
    """The shared server, back to ``default`` with an empty journal. reset() also drops live
    connections, so a hang left by one test never reaches the next."""
    caplog.set_level(logging.WARNING, logger="asyncio")
    violations_server.use("default")
    violations_server.reset()
    yield violations_server
    errors = list(violations_server.errors)
    violations_server.use("default")
    violations_server.reset()
    assert not errors, "\n".join(str(e) for e in errors)
    noisy = [r.getMessage() for r in caplog.records if r.name.startswith("asyncio")]
    assert not noisy, noisy


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
