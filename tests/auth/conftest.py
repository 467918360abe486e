"""Fixtures for the AUTH wire tests: one real server for the run, isolated per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smtpfake.server import Server


@pytest.fixture(scope="session")
def auth_server() -> Iterator[Server]:
    server = Server("default").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(auth_server: Server) -> Iterator[Server]:
    """The shared server, back to ``default`` with an empty journal; no server errors allowed."""
    auth_server.use("default")
    auth_server.reset()
    yield auth_server
    errors = list(auth_server.errors)
    auth_server.use("default")
    auth_server.reset()
    assert not errors, "\n".join(str(e) for e in errors)
