"""What the pytest plugin's fixtures stand on, loaded on their first use (or at start-up when a
setting needs checking against the network): the in-process server or the sidecar's server of
this process, the start-up checks of a fixed port and of ``--smtpfake-remote``, and the
transcript section of a failing test's report. :mod:`smtpfake.pytest_plugin` (which pytest loads
in every run) holds the options, settings and fixture declarations."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from smtpfake.control import Control
    from smtpfake.pytest_plugin import Settings
    from smtpfake.remote import RemoteSmtpFake, SidecarUnreachable
    from smtpfake.scenario import ScenarioError

#: the control a test's ``smtpfake`` drove, on its item: what its failure report shows
HANDLE = pytest.StashKey["Control"]()

#: the line every later test using the fixture fails with, once the sidecar of
#: ``--smtpfake-remote`` could not be reached: a sidecar gone is not waited for again in each test
GONE = pytest.StashKey[str]()
#: the sidecar URL of this run's remote backend (the report hook's handle knows only its own)
REMOTE = pytest.StashKey[str]()

REMOTE_DELIVERY = (
    "delivery is for the in-process server; with --smtpfake-remote start the sidecar with "
    "`smtpfake serve --deliver ...`"
)
REMOTE_LOOP = (
    "the in-process server's event loop; with --smtpfake-remote the fixture's server runs on the "
    "sidecar's loop: start it with `smtpfake serve --loop asyncio|uvloop`"
)
REMOTE_LISTEN = (
    "where the in-process server listens; with --smtpfake-remote the fixture's server is on the "
    "sidecar, at the port it picks (`smtpfake serve --server-ports LOW-HIGH`): read "
    "smtpfake.host and smtpfake.port"
)


def remote_listen(settings: Settings) -> str:
    """ "host" or "port" when ``settings`` name one with ``remote`` set (a usage error): the
    sidecar's API cannot be asked for an address."""
    from smtpfake.pytest_plugin import Settings

    default = Settings()
    return "host" if settings.host != default.host else "port" if settings.port else ""


def xdist_worker() -> str:
    """This process's pytest-xdist worker id (``gw0``, ...), or ``""``."""
    return os.environ.get("PYTEST_XDIST_WORKER", "")


def port_for_this_process(port: int) -> int:
    """A fixed port as given; under pytest-xdist worker gwN listens on ``port + N``."""
    worker = xdist_worker()
    return port + int(worker[2:]) if port and worker.startswith("gw") else port


def check_port(settings: Settings, where: str, *, worker: int | None = None) -> None:
    """UsageError at start-up if the host and port ``settings`` give are taken (rather than an
    error in every test): for pytest-xdist's ``worker`` K, port N+K."""
    import socket

    port = settings.port + (worker or 0) if settings.port else 0
    try:
        with socket.create_server((settings.host, port)):
            pass
    except OSError as exc:
        problem = _cannot_listen(settings, where, port, exc, worker)
        raise pytest.UsageError(problem) from None


def _cannot_listen(
    settings: Settings, where: str, port: int, exc: OSError, worker: int | None
) -> str:
    from smtpfake.pytest_plugin import named

    said = f"smtpfake: {named(where, settings, 'host', 'port')}: "
    said += f"cannot listen on {settings.host}:{port}: {exc}"
    if worker is not None:
        said += f" (under pytest-xdist worker gw{worker} listens on {settings.port}+{worker})"
    return said


def wait_for_sidecar(settings: Settings, where: str = "") -> RemoteSmtpFake:
    """Poll the sidecar's health until it says ready, for at most ``remote_wait`` seconds;
    return a client of it. Errors name the settings as given (``where``: see ``named``)."""
    import time

    from smtpfake.pytest_plugin import named
    from smtpfake.remote import NotASidecar, RemoteError, RemoteSmtpFake

    try:
        remote = RemoteSmtpFake(settings.remote, settings.remote_token, timeout=2.0)
    except ValueError as exc:
        raise pytest.UsageError(f"smtpfake: {named(where, settings, 'remote')}: {exc}") from None
    deadline = time.monotonic() + settings.remote_wait
    while True:
        try:
            status = remote.health().get("status")
            problem = "" if status == "ready" else f"the sidecar is not ready (status {status!r})"
            if not problem:
                # health needs no token: one call that does, so a missing or wrong token is
                # this one usage error rather than an error in every test
                remote.request("GET", "/api/clock")
        except RemoteError as exc:
            if exc.status in (401, 403):
                token = "Settings(remote_token=...)" if where else "--smtpfake-remote-token"
                raise pytest.UsageError(
                    f"smtpfake: {token}: {settings.remote} refused it: {exc}"
                ) from None
            problem = str(exc)
            if isinstance(exc, NotASidecar):  # an SMTP port, another web server: waiting won't help
                given = f"--smtpfake-remote {settings.remote}"
                setting = named(where, settings, "remote") if where else given
                raise pytest.UsageError(f"smtpfake: {setting}: {problem}") from None
        if not problem:
            return remote
        if time.monotonic() >= deadline:
            wait = "Settings(remote_wait=...)" if where else "--smtpfake-remote-wait"
            given = f"--smtpfake-remote {settings.remote}"
            setting = named(where, settings, "remote") if where else given
            raise pytest.UsageError(
                f"smtpfake: {setting}: {problem} (waited {settings.remote_wait:g}s, see {wait})"
            )
        time.sleep(0.1)


def check_scenario_on_sidecar(remote: RemoteSmtpFake, settings: Settings, where: str = "") -> None:
    """UsageError at start-up for a default scenario the run cannot get: a name the sidecar's
    library does not hold, or a local YAML file (uploaded by each test) that does not load."""
    from smtpfake.pytest_plugin import named
    from smtpfake.scenario import ScenarioError, resolve
    from smtpfake.scenario.library import unknown_name
    from smtpfake.servers_on_demand import local_scenario

    setting = named(where, settings, "scenario")
    name = settings.scenario
    if (
        local_scenario(name, settings.scenario_dirs) != name
        or name.endswith((".yaml", ".yml"))
        or "/" in name
    ):
        try:
            resolve(name, settings.scenario_dirs)
        except ScenarioError as exc:
            raise pytest.UsageError(f"smtpfake: {setting}: {problem_lines(exc)}") from None
        return
    known = [str(entry["name"]) for entry in remote.scenarios()]
    if name not in known:
        # as the library words it, with the sidecar's own list pointed at
        listed_by = f"GET {settings.remote.rstrip('/')}/api/scenarios"
        raise pytest.UsageError(
            f"smtpfake: {setting}: the sidecar at {settings.remote} has "
            + unknown_name(name, known, listed_by)
        )


def problem_lines(exc: ScenarioError, *, positions: bool = True) -> str:
    """Problems one per line; a position only where it points into a real file (a dict, or a
    name that resolves to nothing, has none)."""
    lines = [
        str(p) if positions or Path(p.location.file).is_file() else p.message for p in exc.problems
    ]
    return lines[0] if len(lines) == 1 else "\n" + "\n".join(lines)


def settings_in_code(settings: Settings, where: str, overridden: list[str]) -> None:
    """At the first use of Settings a conftest made that start-up could not: a warning per flag
    they override, and the checks the flags get at start-up (a port it cannot listen on: the
    run ends, told once; a scenario is checked when the server is made)."""
    import warnings

    from smtpfake.pytest_plugin import SmtpfakeWarning, ignored_flag

    for flag in overridden:
        warnings.warn(SmtpfakeWarning(ignored_flag(flag, where)), stacklevel=2)
    if not settings.remote and not xdist_worker():
        problem = ""
        try:
            check_port(settings, where)
        except pytest.UsageError as exc:
            problem = str(exc)
        if problem:  # every test that uses the fixtures errors with it (see smtpfake_backend)
            pytest.fail(problem, pytrace=False)


def backend(
    settings: Settings, where: str = "", config: pytest.Config | None = None
) -> Iterator[Control]:
    """The ``smtpfake_backend`` fixture: an in-process server started once per test session,
    or a server of its own on the sidecar named by ``--smtpfake-remote``; yields it, stops it."""
    if settings.remote:
        if settings.delivery is not None:
            # flags were checked at start-up; this is a conftest's Settings: one line per test
            pytest.fail(f"smtpfake: Settings(delivery=...): {REMOTE_DELIVERY}", pytrace=False)
        if settings.loop != "auto":
            said = f"loop={settings.loop!r}"
            pytest.fail(f"smtpfake: Settings({said}): {REMOTE_LOOP}", pytrace=False)
        name = remote_listen(settings)
        if name:
            said = f"{name}={getattr(settings, name)!r}"
            pytest.fail(f"smtpfake: Settings({said}): {REMOTE_LISTEN}", pytrace=False)
        yield from _remote_backend(settings, where, config)
        return
    from smtpfake.control import SmtpFake
    from smtpfake.scenario import ScenarioError
    from smtpfake.server import Server

    # Each failure is told outside its except block: pytest would show the exception it
    # handled too ("During handling of the above exception, ..."), a second report of one line.
    problem = ""
    try:
        server = Server(
            settings.scenario,
            host=settings.host,
            port=port_for_this_process(settings.port),
            seed=settings.seed,
            scenario_dirs=settings.scenario_dirs,
            delivery=settings.delivery,
            journal_limits=settings.journal_limits,
            loop=settings.loop,
        )
    except ScenarioError as exc:
        # settings made in code that start-up could not make (an smtpfake_settings taking other
        # fixtures) are checked only here: one line, the error of each test using the fixtures
        from smtpfake.pytest_plugin import named

        problem = f"smtpfake: {named(where, settings, 'scenario')}: {problem_lines(exc)}"
    if problem:
        pytest.fail(problem, pytrace=False)
    try:
        server.start()
    except OSError as exc:
        # taken since the start-up check: one line in each test that needs it, no traceback
        worker = xdist_worker()
        k = int(worker[2:]) if settings.port and worker.startswith("gw") else None
        problem = _cannot_listen(settings, where, port_for_this_process(settings.port), exc, k)
    if problem:
        pytest.fail(problem, pytrace=False)
    fake = SmtpFake(server)
    fake.transcript_in_errors = False  # the report's own section carries it, once
    if config is not None:
        from smtpfake.pytest_plugin_errors import check_after_each_test

        check_after_each_test(config, server)
    yield fake
    from smtpfake.pytest_plugin_errors import AT_SESSION_END, stop_checking, take_errors

    if config is not None:
        stop_checking(config)
    told = take_errors(server)  # a session fixture's mail, sent after the last test's check
    server.stop()
    if told:
        pytest.fail(f"{AT_SESSION_END}\n{told}", pytrace=False)


def _remote_backend(
    settings: Settings, where: str, config: pytest.Config | None
) -> Iterator[Control]:

    from smtpfake.remote import RemoteError, SidecarUnreachable
    from smtpfake.scenario import ScenarioError
    from smtpfake.servers_on_demand import own_server

    if config is not None:
        config.stash[REMOTE] = settings.remote
    with contextlib.ExitStack() as stack:
        problem = ""
        try:
            remote = stack.enter_context(own_server(settings, lambda: _gone(config)))
        except SidecarUnreachable as exc:
            problem = sidecar_gone(config, settings.remote, exc)
        except (RemoteError, ScenarioError) as exc:
            # the sidecar refused a server of our own (out of ports, a bad scenario): one line
            # in each test, not a traceback through the fixtures (and told outside the except
            # block, as in backend())
            from smtpfake.pytest_plugin import named

            given = f"--smtpfake-remote {settings.remote}"
            problem = f"smtpfake: {named(where, settings, 'remote') if where else given}: {exc}"
        if problem:
            pytest.fail(problem, pytrace=False)
        remote.transcript_in_errors = False
        yield remote


def _gone(config: pytest.Config | None) -> bool:
    return config is not None and GONE in config.stash


def sidecar_gone(config: pytest.Config | None, url: str, exc: SidecarUnreachable) -> str:
    """The one line a test fails with when the sidecar cannot be reached, kept for the run."""
    line = f"smtpfake: --smtpfake-remote {url}: cannot reach the sidecar: {exc.reason}"
    if config is not None:
        config.stash[GONE] = line
    return line


def on_sidecar(
    config: pytest.Config,
    settings: Settings,
    call: Callable[[], object],
    *,
    quiet_if_told: bool = False,
    rejoin: Control | None = None,
) -> None:
    """``call`` (the fixture's reset or use): with ``--smtpfake-remote`` and the sidecar gone
    (now or earlier in the run), this test fails in one line without a traceback and at once;
    ``quiet_if_told`` (a teardown) says nothing when an earlier test already told it. With
    ``rejoin`` (the backend, at a test's start), a sidecar gone earlier that answers again is
    used again (:func:`back_again`)."""
    if not settings.remote:
        call()
        return
    from smtpfake.remote import SidecarRestarted, SidecarUnreachable

    problem = config.stash.get(GONE, "")
    if problem and quiet_if_told:
        return
    if problem and rejoin is not None:
        problem = back_again(config, settings, rejoin)
    if not problem:
        try:
            call()
        except SidecarUnreachable as exc:
            problem = sidecar_gone(config, settings.remote, exc)
        except SidecarRestarted:
            # restarted at the same URL while no test looked: this process's server went with
            # the old run (and its id may now be another client's); a test's start makes a new
            # one, as after a sidecar seen gone; a teardown leaves that to the next test
            if rejoin is None:
                return
            config.stash[GONE] = f"smtpfake: the sidecar at {settings.remote} was restarted"
            problem = back_again(config, settings, rejoin)
            if not problem:
                call()
    if problem:  # outside the except block: no chained exception shown
        pytest.fail(problem, pytrace=False)


#: how long a test's start looks for a sidecar gone earlier in the run: refused is at once; a
#: host that drops packets costs each later test this much, not the client's 10 s
REJOIN_LOOK = 1.0


def back_again(config: pytest.Config, settings: Settings, backend: Control) -> str:
    """After the sidecar could not be reached: one look whether it answers again (restarted).
    If so, ``backend`` gets a server of its own on it again, in place of the one that went with
    the old process (re-pointed in place, so fixtures holding it go on), one line says so, and
    "" is returned; else the line this test fails with (the old one while it is still gone, or
    why the sidecar refused a new server)."""
    from smtpfake.remote import RemoteError, RemoteSmtpFake, SidecarUnreachable
    from smtpfake.scenario import ScenarioError
    from smtpfake.servers_on_demand import create, first_scenario

    if not isinstance(backend, RemoteSmtpFake):
        return config.stash[GONE]
    shared = RemoteSmtpFake(settings.remote, settings.remote_token, timeout=REJOIN_LOOK)
    try:
        shared.health()  # the look: refused or silent, it is still gone
    except SidecarUnreachable:
        return config.stash[GONE]
    shared.timeout = backend.timeout  # answering: a new server gets the usual time
    try:
        backend.move_to(create(shared, first_scenario(settings), settings.seed) or shared)
    except SidecarUnreachable as exc:
        return sidecar_gone(config, settings.remote, exc)
    except (RemoteError, ScenarioError) as exc:
        return f"smtpfake: --smtpfake-remote {settings.remote}: {exc}"
    del config.stash[GONE]
    _say(
        config,
        f"smtpfake: the sidecar at {settings.remote} answers again: a new server of this "
        f"process's own on it (SMTP port {backend.port}) from here on",
    )
    return ""


def _say(config: pytest.Config, line: str) -> None:
    """``line`` on the terminal now, between the tests' progress (not into a test's capture)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.ensure_newline()
        reporter.write_line(line)


def report_transcripts(config: pytest.Config) -> None:
    """Add :class:`TranscriptReports` to this run (once)."""
    if not config.pluginmanager.has_plugin(_REPORTS):
        config.pluginmanager.register(TranscriptReports(), _REPORTS)


_REPORTS = "smtpfake-transcripts"


class TranscriptReports:
    """The failure report of a test that used ``smtpfake`` carries its transcript. Registered
    as a plugin by the first such test (:func:`report_transcripts`), so that a suite that never
    uses the fixture pays for no hook in each of its tests."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.when != "call" or not report.failed:
            return report
        handle = item.stash.get(HANDLE, None)
        if handle is None:
            return report
        # The "call" report is made before teardown resets the journal: the transcript is whole.
        worker = f", worker {xdist_worker()}" if xdist_worker() else ""
        title, text = _transcript(item.config, handle, worker)
        add = getattr(report.longrepr, "addsection", None)
        if add is not None:
            # in the failure itself: shown once in the terminal and kept in JUnit XML's <failure>
            add(title, text)
        else:
            report.sections.append((title, text))
        return report


def _transcript(config: pytest.Config, handle: Control, worker: str) -> tuple[str, str]:
    """The section's title and text; a sidecar gone says so there (a report hook that raised
    would end the whole run in INTERNALERROR)."""
    from smtpfake.remote import SidecarUnreachable

    try:
        title = f"smtpfake transcript ({handle.scenario_name}, {handle.host}:{handle.port}{worker})"
        text = handle.transcript()
        dropped = handle.counts.dropped()
    except SidecarUnreachable as exc:
        line = config.stash.get(GONE, "") or sidecar_gone(config, config.stash.get(REMOTE, ""), exc)
        return (
            f"smtpfake transcript (none{worker})",
            f"{line}\n(no transcript: the sidecar is gone)",
        )
    if dropped:  # a transcript missing what went before must say so
        text = f"{dropped}\n{text}"
    return title, text
