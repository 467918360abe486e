"""The pytest plugin (entry point ``pytest11``): the ``smtpfake`` fixture and friends.

One server per test session (started on first use), reset before each test that uses it, so a
test pays microseconds rather than a server start (the pytest-httpserver pattern). Every option
is both an ini key and a command-line flag, and shows in the report header.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from smtpfake.control import Control, SmtpFake
from smtpfake.remote import RemoteError, RemoteSmtpFake
from smtpfake.scenario import ScenarioError
from smtpfake.server import Server

_OPTIONS = {
    # name: (help, default)
    "scenario": ("scenario a test gets when it names none", "default"),
    "host": ("address the server binds", "127.0.0.1"),
    "seed": ("seed for every random choice (an integer; default: the scenario's)", ""),
    "remote": ("API URL of a running sidecar to use instead of an in-process server", ""),
    "remote_token": ("bearer token for the sidecar's API", ""),
}
_HANDLE = pytest.StashKey["SmtpFake | RemoteSmtpFake"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smtpfake", "smtpfake fake SMTP server")
    group.addoption(
        "--smtpfake-scenario-dir",
        action="append",
        dest="smtpfake_scenario_dirs",
        metavar="DIR",
        help="also load scenarios (*.yaml) from DIR; repeatable (ini: smtpfake_scenario_dirs)",
    )
    parser.addini("smtpfake_scenario_dirs", "extra scenario directories", type="paths")
    for name, (text, default) in _OPTIONS.items():
        group.addoption(
            f"--smtpfake-{name.replace('_', '-')}",
            dest=f"smtpfake_{name}",
            metavar=name.upper(),
            help=f"{text} (ini: smtpfake_{name}; default {default})",
        )
        parser.addini(f"smtpfake_{name}", text, default=default)


def _setting(config: pytest.Config, name: str) -> str:
    value = config.getoption(f"smtpfake_{name}")
    return str(value if value is not None else config.getini(f"smtpfake_{name}"))


def _scenario_dirs(config: pytest.Config) -> list[Path]:
    cli = config.getoption("smtpfake_scenario_dirs") or []
    ini = config.getini("smtpfake_scenario_dirs") or []
    return [Path(d) for d in (*ini, *cli)]


def _seed(config: pytest.Config) -> int | None:
    raw = _setting(config, "seed")
    if raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise pytest.UsageError(f"smtpfake: seed must be an integer, got {raw!r}") from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "smtpfake(scenario=NAME|PATH|DICT, seed=INT, params=DICT): the scenario the smtpfake "
        "fixture plays, with its parameters set by name",
    )


def pytest_report_header(config: pytest.Config) -> str:
    dirs = ", ".join(str(d) for d in _scenario_dirs(config)) or "none"
    remote = _setting(config, "remote")
    if remote:
        return f"smtpfake: scenario={_setting(config, 'scenario')} remote={remote}"
    return (
        f"smtpfake: scenario={_setting(config, 'scenario')} host={_setting(config, 'host')} "
        f"seed={_setting(config, 'seed')} scenario_dirs={dirs}"
    )


@dataclass(frozen=True)
class Settings:
    """The plugin's settings, read once per test session. Override the ``smtpfake_settings``
    fixture in a conftest.py to set them in code."""

    scenario: str = "default"
    host: str = "127.0.0.1"
    seed: int | None = None
    scenario_dirs: tuple[Path, ...] = ()
    remote: str = ""
    remote_token: str | None = None


@pytest.fixture(scope="session")
def smtpfake_settings(pytestconfig: pytest.Config) -> Settings:
    token = _setting(pytestconfig, "remote_token") or os.environ.get("SMTPFAKE_API_TOKEN")
    return Settings(
        scenario=_setting(pytestconfig, "scenario"),
        host=_setting(pytestconfig, "host"),
        seed=_seed(pytestconfig),
        scenario_dirs=tuple(_scenario_dirs(pytestconfig)),
        remote=_setting(pytestconfig, "remote"),
        remote_token=token or None,
    )


@dataclass(frozen=True)
class _Session:
    backend: SmtpFake | RemoteSmtpFake
    settings: Settings


@pytest.fixture(scope="session")
def smtpfake_backend(smtpfake_settings: Settings) -> Iterator[SmtpFake | RemoteSmtpFake]:
    """What the ``smtpfake`` fixture drives: an in-process server started once per test session,
    or the sidecar named by ``--smtpfake-remote``."""
    settings = smtpfake_settings
    if settings.remote:
        remote = RemoteSmtpFake(settings.remote, settings.remote_token)
        try:
            remote.health()
        except RemoteError as exc:
            raise pytest.UsageError(
                f"smtpfake: --smtpfake-remote {settings.remote}: {exc}"
            ) from None
        yield remote
        return
    try:
        server = Server(
            settings.scenario,
            host=settings.host,
            seed=settings.seed,
            scenario_dirs=settings.scenario_dirs,
        )
    except ScenarioError as exc:
        raise pytest.UsageError(f"smtpfake: bad default scenario:\n{exc}") from None
    server.start()
    yield SmtpFake(server)
    server.stop()


@pytest.fixture(scope="session")
def _smtpfake_session(
    smtpfake_backend: SmtpFake | RemoteSmtpFake, smtpfake_settings: Settings
) -> _Session:
    # One session-scoped dependency for the per-test fixture: each one costs every test a lookup.
    return _Session(smtpfake_backend, smtpfake_settings)


@pytest.fixture(scope="session")
def smtpfake_server(smtpfake_backend: SmtpFake | RemoteSmtpFake) -> Server:
    """The in-process server behind the ``smtpfake`` fixture (not with ``--smtpfake-remote``)."""
    if not isinstance(smtpfake_backend, SmtpFake):
        raise pytest.UsageError("smtpfake_server is in-process only; --smtpfake-remote is set")
    return smtpfake_backend.server


@pytest.fixture
def smtpfake(request: pytest.FixtureRequest, _smtpfake_session: _Session) -> Iterator[Control]:
    """A running fake SMTP server on 127.0.0.1 for this test alone: nothing leaks between tests.

    The scenario comes from, in order: indirect parametrization, ``@pytest.mark.smtpfake(...)``,
    the ``smtpfake_scenario`` setting. Change it inside the test with ``smtpfake.use(...)``.
    With ``--smtpfake-remote`` the same methods drive a sidecar over HTTP.
    """
    scenario: Any = _smtpfake_session.settings.scenario
    seed = _smtpfake_session.settings.seed
    marker = request.node.get_closest_marker("smtpfake")
    if marker is not None:
        scenario = marker.kwargs.get("scenario", marker.args[0] if marker.args else scenario)
        if "seed" in marker.kwargs:
            seed = int(marker.kwargs["seed"])
    params = marker.kwargs.get("params") if marker is not None else None
    if hasattr(request, "param"):
        scenario = request.param
    backend = _smtpfake_session.backend
    backend.reset()
    try:
        if params and isinstance(backend, SmtpFake):
            backend.use(scenario, seed=seed, params=params)  # the scenario's ${name} values
        elif params:
            pytest.fail("smtpfake: marker params= needs the in-process server", pytrace=False)
        else:
            backend.use(scenario, seed=seed)
    except ScenarioError as exc:
        pytest.fail(f"smtpfake: cannot load scenario {scenario!r}:\n{exc}", pytrace=False)
    request.node.stash[_HANDLE] = backend
    yield backend
    if isinstance(backend, SmtpFake):
        errors = list(backend.server.errors)
        backend.reset()  # drop this test's connections now, not at the next test
        if errors:
            # A bug inside smtpfake while serving this test: it fails here, never lost in a thread.
            pytest.fail("\n".join(str(e) for e in errors), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    handle = item.stash.get(_HANDLE, None)
    # The "call" report is made before teardown resets the journal, so the transcript is whole.
    if handle is not None and report.when == "call" and report.failed:
        report.sections.append(
            (f"smtpfake transcript ({handle.scenario_name})", handle.transcript())
        )
    return report
