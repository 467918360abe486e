"""The shared server fixtures for every test package that needs a real server: one server for the
whole run, isolated per test (reset, and checked for server errors and asyncio noise)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from smtpfake.server import Server

from .support import TIMEOUT
from .support.raw import Raw


@pytest.fixture(scope="session", autouse=True)
def _own_scenario_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The run's `smtpfake serve` processes keep loaded scenarios in a cache of the run's own, not
    in the user's ~/.cache (tests stay hermetic; the cache's own tests name their folders)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SMTPFAKE_CACHE_DIR", str(tmp_path_factory.mktemp("scenario-cache")))
        yield


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester, with the project's pytest-asyncio setting for the runs it starts: they have no
    pyproject.toml, and pytest-asyncio warns when the setting is missing (noise in every run).
    COLUMNS is fixed because pytest wraps help and trims its short summary to the terminal's width,
    which differs between a developer's terminal and a CI runner."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-o asyncio_default_fixture_loop_scope=function")
    monkeypatch.setenv("COLUMNS", "120")
    return pytester


@pytest.fixture(scope="session")
def shared_server() -> Iterator[Server]:
    server = Server("default").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(shared_server: Server, caplog: pytest.LogCaptureFixture) -> Iterator[Server]:
    """The shared server, back to ``default`` with an empty journal. reset() also drops live
    connections, so a hang left by one test never reaches the next. Afterwards neither
    server.errors nor the loop thread's asyncio log may hold anything (lost task errors)."""
    caplog.set_level(logging.WARNING, logger="asyncio")
    shared_server.use("default")
    shared_server.reset()
    yield shared_server
    errors = list(shared_server.errors)
    shared_server.use("default")
    shared_server.reset()
    assert not errors, "\n".join(str(e) for e in errors)
    noisy = [r.getMessage() for r in caplog.records if r.name.startswith("asyncio")]
    assert not noisy, noisy


@pytest.fixture
def raw(server: Server) -> Iterator[Callable[..., Raw]]:
    """Open raw connections (``raw()`` or ``raw(timeout)``); all are closed after the test."""
    opened: list[Raw] = []

    def connect(timeout: float = TIMEOUT) -> Raw:
        conn = Raw(server, timeout)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()
