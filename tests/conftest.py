"""The shared server fixtures for every test package that needs a real server: one server for the
whole run, isolated per test (reset, and checked for server errors and asyncio noise)."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable, Iterator

import pytest
import yaml  # noqa: F401

import smtpfake.engine
import smtpfake.scenario
from smtpfake.server import Server

from .support import SHARED_GRACE, TIMEOUT
from .support.raw import Raw

# pytester's in-process runs forget the modules first imported inside them, so the next run
# imports them again while objects of the first copies live on: PyYAML's C extension (which
# cannot be imported again) returned event classes the new `yaml` did not know, and
# scenario/compose.py failed with "IndexError: pop from empty list"; a fault class kept by the
# library's cache was "not the same object" to pickle. Whenever no earlier test of the process
# had imported them, such tests failed (by the order xdist gave them). Loaded here, yaml and the
# scenario and engine layers (no I/O, quick to import) outlive every inner run.
for _package in (smtpfake.scenario, smtpfake.engine):
    for _module in pkgutil.walk_packages(_package.__path__, f"{_package.__name__}."):
        importlib.import_module(_module.name)


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
    server = Server("default", grace_period=SHARED_GRACE).start()
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
