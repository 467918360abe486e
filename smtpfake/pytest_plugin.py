"""The pytest plugin (entry point ``pytest11``): the ``smtpfake`` fixture and friends.

One server per test session (started on first use), reset before each test that uses it, so a
test pays microseconds rather than a server start (the pytest-httpserver pattern). Every option
is both an ini key and a command-line flag, and shows in the report header.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
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
    "seed": ("seed for every random choice (an integer)", "0"),
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


def _seed(config: pytest.Config) -> int:
    raw = _setting(config, "seed")
    try:
        return int(raw)
    except ValueError:
        raise pytest.UsageError(f"smtpfake: seed must be an integer, got {raw!r}") from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "smtpfake(scenario=NAME|PATH|DICT, seed=INT): the scenario the smtpfake fixture plays",
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


@pytest.fixture(scope="session")
def smtpfake_server(pytestconfig: pytest.Config) -> Iterator[Server]:
    """The one server behind the ``smtpfake`` fixture; started on first use."""
    try:
        server = Server(
            _setting(pytestconfig, "scenario"),
            host=_setting(pytestconfig, "host"),
            seed=_seed(pytestconfig),
            scenario_dirs=_scenario_dirs(pytestconfig),
        )
    except ScenarioError as exc:
        raise pytest.UsageError(f"smtpfake: bad default scenario:\n{exc}") from None
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtpfake_remote(pytestconfig: pytest.Config) -> RemoteSmtpFake | None:
    """The sidecar behind the ``smtpfake`` fixture when ``--smtpfake-remote URL`` is given."""
    url = _setting(pytestconfig, "remote")
    if not url:
        return None
    token = _setting(pytestconfig, "remote_token") or os.environ.get("SMTPFAKE_API_TOKEN")
    remote = RemoteSmtpFake(url, token or None)
    try:
        remote.health()
    except RemoteError as exc:
        raise pytest.UsageError(f"smtpfake: --smtpfake-remote {url}: {exc}") from None
    return remote


@pytest.fixture
def smtpfake(
    request: pytest.FixtureRequest, smtpfake_remote: RemoteSmtpFake | None
) -> Iterator[Control]:
    """A running fake SMTP server on 127.0.0.1 for this test alone: nothing leaks between tests.

    The scenario comes from, in order: indirect parametrization, ``@pytest.mark.smtpfake(...)``,
    the ``smtpfake_scenario`` setting. Change it inside the test with ``smtpfake.use(...)``.
    """
    config = request.config
    scenario: Any = _setting(config, "scenario")
    seed = _seed(config)
    marker = request.node.get_closest_marker("smtpfake")
    if marker is not None:
        scenario = marker.kwargs.get("scenario", marker.args[0] if marker.args else scenario)
        seed = int(marker.kwargs.get("seed", seed))
    if hasattr(request, "param"):
        scenario = request.param
    if smtpfake_remote is not None:
        # The same test body runs against a sidecar: one control interface, two transports.
        smtpfake_remote.reset()
        try:
            smtpfake_remote.use(scenario, seed=seed)
        except ScenarioError as exc:
            pytest.fail(f"smtpfake: cannot load scenario {scenario!r}:\n{exc}", pytrace=False)
        request.node.stash[_HANDLE] = smtpfake_remote
        yield smtpfake_remote
        return
    server: Server = request.getfixturevalue("smtpfake_server")
    server.reset()
    try:
        server.use(scenario, seed=seed)
    except ScenarioError as exc:
        pytest.fail(f"smtpfake: cannot load scenario {scenario!r}:\n{exc}", pytrace=False)
    handle = SmtpFake(server)
    request.node.stash[_HANDLE] = handle
    yield handle
    errors = list(server.errors)
    server.reset()  # drop this test's connections now, not at the next test
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
