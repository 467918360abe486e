"""The pytest plugin (entry point ``pytest11``): the ``smtpfake`` fixtures, marker and options.

One server per test session (started on first use), reset before each test that uses it, so a
test pays microseconds rather than a server start (the pytest-httpserver pattern). Every option
is both an ini key and a command-line flag, and shows in the report header.

Import cost: pytest loads this module in every run where smtpfake is installed, used or not. It
imports nothing beyond what pytest already loaded; the server stack (asyncio, aiosmtpd, yaml, the
engine, the HTTP client) is imported inside the fixtures, on first use.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# the limits' dataclass alone (no engine, no yaml): its fields name the --smtpfake-journal-* flags
from smtpfake.journal_limits import JournalLimits

if TYPE_CHECKING:
    from smtpfake.control import Control
    from smtpfake.delivery import Handler
    from smtpfake.remote import RemoteSmtpFake
    from smtpfake.scenario import ScenarioError
    from smtpfake.server import Server

# name: (help, default, how the default reads in --help)
_OPTIONS: dict[str, tuple[str, str, str]] = {
    "scenario": ("scenario a test gets when it names none", "default", "the built-in 'default'"),
    "host": ("address the in-process server binds", "127.0.0.1", "127.0.0.1"),
    "port": ("port the in-process server listens on", "0", "a free port"),
    "seed": ("seed for every random choice, an integer", "", "the scenario's own"),
    "delivery": (
        "where accepted mail also goes: maildir:PATH or proxy:HOST:PORT",
        "",
        "the journal only",
    ),
    "remote": ("API URL of a running sidecar to use instead of an in-process server", "", "none"),
    "remote_token": ("bearer token for the sidecar's API", "", "$SMTPFAKE_API_TOKEN"),
    "remote_wait": ("seconds to wait for a sidecar that is still starting", "10", "10"),
}
_HANDLE = pytest.StashKey["Control"]()


class SmtpfakeWarning(pytest.PytestWarning):
    """A setting or marker smtpfake ignores (e.g. the marker on a test without the fixture)."""


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
    for name, (text, default, shown) in _OPTIONS.items():
        group.addoption(
            f"--smtpfake-{name.replace('_', '-')}",
            dest=f"smtpfake_{name}",
            metavar=name.upper(),
            help=f"{text} (ini: smtpfake_{name}; default: {shown})",
        )
        parser.addini(f"smtpfake_{name}", text, default=default)
    for f in dataclasses.fields(JournalLimits):
        name = f"journal_{f.name}"
        group.addoption(
            f"--smtpfake-{name.replace('_', '-')}",
            dest=f"smtpfake_{name}",
            metavar="N",
            help=f"the in-process journal keeps at most N {f.metadata['doc']} "
            f"(ini: smtpfake_{name}; default: {f.default})",
        )
        parser.addini(f"smtpfake_{name}", f"journal limit: {f.metadata['doc']}", default="")


def _setting(config: pytest.Config, name: str) -> str:
    value = config.getoption(f"smtpfake_{name}")
    return str(value if value is not None else config.getini(f"smtpfake_{name}")).strip()


def _scenario_dirs(config: pytest.Config) -> tuple[Path, ...]:
    cli = config.getoption("smtpfake_scenario_dirs") or []
    ini = config.getini("smtpfake_scenario_dirs") or []
    return tuple(Path(d) for d in (*ini, *cli))


def _number(config: pytest.Config, name: str, kind: type[int] | type[float], what: str) -> Any:
    raw = _setting(config, name)
    try:
        return kind(raw) if raw != "" else None
    except ValueError:
        flag = f"--smtpfake-{name.replace('_', '-')}"
        raise pytest.UsageError(
            f"smtpfake: {flag} (ini smtpfake_{name}): expected {what}, got {raw!r}"
        ) from None


@dataclass(frozen=True)
class Settings:
    """The plugin's settings, read once per test session. Override the ``smtpfake_settings``
    fixture in a conftest.py to set them in code."""

    scenario: str = "default"
    host: str = "127.0.0.1"
    port: int = 0
    seed: int | None = None
    scenario_dirs: tuple[Path, ...] = ()
    remote: str = ""
    remote_token: str | None = None
    remote_wait: float = 10.0
    #: a delivery back end for the in-process server: ``maildir:PATH``, ``proxy:HOST:PORT``, or
    #: (overriding this fixture) a handler object with aiosmtpd's ``async handle_DATA``
    delivery: Handler | str | None = None
    #: what the in-process journal keeps (None: JournalLimits' defaults); a sidecar's are its own
    journal_limits: JournalLimits | None = None


def _journal_limits(config: pytest.Config) -> JournalLimits | None:
    """JournalLimits from the --smtpfake-journal-* flags and ini keys given, else None."""
    given: dict[str, int] = {}
    for f in dataclasses.fields(JournalLimits):
        raw = _setting(config, f"journal_{f.name}")
        if raw:
            from smtpfake.scenario import limits

            flag = f"--smtpfake-journal-{f.name.replace('_', '-')}"
            try:
                given[f.name] = limits.number_from_text(
                    raw, flag, minimum=1, maximum=limits.MAX_JOURNAL_LIMIT, integer=True
                )
            except limits.LimitError as exc:
                raise pytest.UsageError(
                    f"smtpfake: {exc} (ini smtpfake_journal_{f.name})"
                ) from None
    return JournalLimits(**given) if given else None


def _seed(config: pytest.Config) -> int | None:
    """--smtpfake-seed: 0 to 2^64-1, the range a scenario's ``seed:`` and ``serve --seed`` take."""
    seed: int | None = _number(config, "seed", int, "an integer")
    if seed is not None:
        from smtpfake.scenario import limits

        try:
            limits.check_number(seed, "--smtpfake-seed", minimum=0, maximum=limits.MAX_SEED)
        except limits.LimitError as exc:
            raise pytest.UsageError(f"smtpfake: {exc}, got {seed} (ini smtpfake_seed)") from None
    return seed


def read_settings(config: pytest.Config) -> Settings:
    """Settings from flags, else ini keys; pytest.UsageError naming the first bad one."""
    port = _number(config, "port", int, "a port number 0-65535")
    if port is not None and not 0 <= port <= 65535:
        raise pytest.UsageError(f"smtpfake: --smtpfake-port: {port} is not a port (0-65535)")
    wait = _number(config, "remote_wait", float, "seconds")
    if wait is not None and not 0 <= wait <= 3600:  # also refuses NaN and inf
        raise pytest.UsageError(
            "smtpfake: --smtpfake-remote-wait (ini smtpfake_remote_wait): "
            f"expected seconds from 0 to 3600, got {wait:g}"
        )
    dirs = _scenario_dirs(config)
    for folder in dirs:
        if not folder.is_dir():
            # a misspelt folder would otherwise add nothing, and its scenarios go missing unseen
            raise pytest.UsageError(
                "smtpfake: --smtpfake-scenario-dir (ini smtpfake_scenario_dirs): "
                f"{str(folder)!r} is not a directory"
            )
    token = _setting(config, "remote_token") or os.environ.get("SMTPFAKE_API_TOKEN")
    delivery = _setting(config, "delivery")
    if delivery:
        _check_delivery(delivery, "--smtpfake-delivery (ini smtpfake_delivery)", pytest.UsageError)
    return Settings(
        scenario=_setting(config, "scenario") or "default",
        host=_setting(config, "host") or "127.0.0.1",
        port=port or 0,
        seed=_seed(config),
        scenario_dirs=dirs,
        remote=_setting(config, "remote"),
        remote_token=token or None,
        remote_wait=10.0 if wait is None else wait,
        delivery=delivery or None,
        journal_limits=_journal_limits(config),
    )


def _check_delivery(spec: str, where: str, error: type[Exception]) -> None:
    """Raise ``error`` naming ``where`` unless ``spec`` names a back end (loads aiosmtpd)."""
    from smtpfake.delivery import named

    try:
        named(spec)
    except ValueError as exc:
        raise error(f"smtpfake: {where}: {exc}") from None


_SETTINGS = pytest.StashKey[Settings]()

_REMOTE_DELIVERY = (
    "delivery is for the in-process server; with --smtpfake-remote start the sidecar with "
    "`smtpfake serve --deliver ...`"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "smtpfake(scenario=NAME|PATH|DICT, seed=INT, params=DICT, delivery=SPEC|HANDLER, "
        "handler=OBJ): the scenario the smtpfake fixture plays, with its parameters set by "
        "name; where its accepted mail also goes; an object whose aiosmtpd hooks decide replies",
    )
    # One bad setting, one usage error at start-up (not a traceback in every test). Checks that
    # need the scenario loader or the network run only when that setting was given, so a suite
    # that never names smtpfake does not import them.
    settings = read_settings(config)
    config.stash[_SETTINGS] = settings
    if settings.remote:
        if settings.journal_limits is not None:
            raise pytest.UsageError(
                "smtpfake: --smtpfake-journal-* set the in-process journal; a sidecar's are its "
                "own (smtpfake serve --journal-*)"
            )
        if settings.delivery is not None:
            raise pytest.UsageError(
                f"smtpfake: --smtpfake-delivery (ini smtpfake_delivery): {_REMOTE_DELIVERY}"
            )
        remote = _wait_for_sidecar(settings)
        if settings.scenario != "default":
            _check_scenario_on_sidecar(remote, settings)
        return
    if (settings.port or settings.host != Settings.host) and not _worker():
        # The main process checks every worker's port (N, N+1, ... under pytest-xdist): a
        # UsageError inside a worker would be an xdist crash with a traceback, not one line.
        workers = getattr(config.option, "numprocesses", None)
        count = workers if isinstance(workers, int) and workers > 0 and settings.port else 1
        for k in range(count):
            _check_port(settings.host, settings.port + k if settings.port else 0)
    if settings.scenario != "default" or settings.scenario_dirs:
        from smtpfake.scenario import ScenarioError, resolve

        try:
            resolve(settings.scenario, settings.scenario_dirs)
        except ScenarioError as exc:
            raise pytest.UsageError(
                f"smtpfake: --smtpfake-scenario (ini smtpfake_scenario): {_problems(exc)}"
            ) from None


def _port_for_this_process(port: int) -> int:
    """A fixed port as given; under pytest-xdist worker gwN listens on ``port + N``."""
    worker = _worker()
    return port + int(worker[2:]) if port and worker.startswith("gw") else port


def _check_port(host: str, port: int) -> None:
    """UsageError at start-up if ``host:port`` is taken (rather than an error in every test)."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        flags = "--smtpfake-host/--smtpfake-port (ini smtpfake_host/smtpfake_port)"
        problem = f"cannot listen on {host}:{port}: {exc}"
        raise pytest.UsageError(f"smtpfake: {flags}: {problem}") from None


def _wait_for_sidecar(settings: Settings) -> RemoteSmtpFake:
    """Poll the sidecar's health until it says ready, for at most ``remote_wait`` seconds;
    return a client of it."""
    import time

    from smtpfake.remote import RemoteError, RemoteSmtpFake

    try:
        remote = RemoteSmtpFake(settings.remote, settings.remote_token, timeout=2.0)
    except ValueError as exc:
        raise pytest.UsageError(f"smtpfake: --smtpfake-remote: {exc}") from None
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
                raise pytest.UsageError(
                    f"smtpfake: --smtpfake-remote-token: {settings.remote} refused it: {exc}"
                ) from None
            problem = str(exc)
        if not problem:
            return remote
        if time.monotonic() >= deadline:
            raise pytest.UsageError(
                f"smtpfake: --smtpfake-remote {settings.remote}: {problem} "
                f"(waited {settings.remote_wait:g}s, see --smtpfake-remote-wait)"
            )
        time.sleep(0.1)


def _check_scenario_on_sidecar(remote: RemoteSmtpFake, settings: Settings) -> None:
    """UsageError at start-up for a default scenario the run cannot get: a name the sidecar's
    library does not hold, or a local YAML file (uploaded by each test) that does not load."""
    from smtpfake.scenario import ScenarioError, resolve
    from smtpfake.scenario.yamlwalk import did_you_mean
    from smtpfake.servers_on_demand import local_scenario

    setting = "--smtpfake-scenario (ini smtpfake_scenario)"
    name = settings.scenario
    if (
        local_scenario(name, settings.scenario_dirs) != name
        or name.endswith((".yaml", ".yml"))
        or "/" in name
    ):
        try:
            resolve(name, settings.scenario_dirs)
        except ScenarioError as exc:
            raise pytest.UsageError(f"smtpfake: {setting}: {_problems(exc)}") from None
        return
    known = [str(entry["name"]) for entry in remote.scenarios()]
    if name not in known:
        raise pytest.UsageError(
            f"smtpfake: {setting}: the sidecar at {settings.remote} has no scenario named "
            f"'{name}'{did_you_mean(name, known)}"
        )


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "")


def pytest_report_header(config: pytest.Config) -> str:
    s = config.stash[_SETTINGS]
    parts = [f"scenario={s.scenario}"]
    if s.remote:
        parts.append(f"remote={s.remote} (one server per pytest process, made on the sidecar)")
    else:
        parts.append(f"host={s.host} port={s.port or 'free'}")
        if config.pluginmanager.hasplugin("xdist") and config.getoption("numprocesses", None):
            parts.append("(one server per xdist worker; the worker id heads each transcript)")
    parts.append(f"seed={s.seed if s.seed is not None else 'per scenario'}")
    if s.journal_limits is not None:
        changed = [
            f"{f.name}={getattr(s.journal_limits, f.name)}"
            for f in dataclasses.fields(JournalLimits)
            if getattr(s.journal_limits, f.name) != f.default
        ]
        parts.append("journal " + ",".join(changed))
    if s.scenario_dirs:
        parts.append("scenario_dirs=" + ", ".join(str(d) for d in s.scenario_dirs))
    # a conftest's own smtpfake_settings decides instead: say so, rather than show the flags'
    # settings as if they were in force
    overrides = [
        _relative(Path(str(getattr(p, "__file__", "?"))), config.rootpath)
        for p in config.pluginmanager.get_plugins()
        if getattr(p, "__name__", __name__) != __name__
        and callable(getattr(p, "smtpfake_settings", None))
    ]
    if overrides:
        parts.append(f"(flags and ini keys; smtpfake_settings is overridden in {overrides[0]})")
    return "smtpfake: " + " ".join(parts)


def _relative(path: Path, root: Path) -> str:
    """``path`` from the rootdir on, when it is under it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """Readable ids for scenarios given indirectly: a dict by its ``name`` or its rules
    (``rcpt-452``), a path by its stem."""
    if argname != "smtpfake":
        return None
    if isinstance(val, Path):
        return val.stem
    if not isinstance(val, dict):
        return None
    if "name" in val:
        return str(val["name"])
    parts = []
    for rule in val.get("rules") or ():
        if isinstance(rule, dict):
            on = rule.get("on", "any")
            # on: [mail, rcpt] and reply: {code: 451, ...} as the YAML reads: mail,rcpt-451
            stages = ",".join(str(s) for s in on) if isinstance(on, list | tuple) else str(on)
            reply = rule.get("reply", "")
            code = reply.get("code", "") if isinstance(reply, dict) else reply
            parts.append("-".join(p for p in (stages, str(code).split(" ")[0]) if p))
    return "+".join(parts) or "inline"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("smtpfake") is None:
            continue
        if "smtpfake" not in getattr(item, "fixturenames", ()):
            item.warn(
                SmtpfakeWarning(
                    "@pytest.mark.smtpfake has no effect: the test does not use the smtpfake "
                    "fixture (add it as an argument)"
                )
            )


@pytest.fixture(scope="session")
def smtpfake_settings(pytestconfig: pytest.Config) -> Settings:
    """The settings read at start-up; override this fixture to set them in code."""
    return pytestconfig.stash.get(_SETTINGS, None) or read_settings(pytestconfig)


@pytest.fixture(scope="session")
def smtpfake_backend(smtpfake_settings: Settings) -> Iterator[Control]:
    """What the ``smtpfake`` fixtures drive: an in-process server started once per test session,
    or a server of its own on the sidecar named by ``--smtpfake-remote``."""
    settings = smtpfake_settings
    if settings.remote:
        if settings.delivery is not None:
            # flags were checked at start-up; this is a conftest's Settings: one line per test
            pytest.fail(f"smtpfake: Settings(delivery=...): {_REMOTE_DELIVERY}", pytrace=False)
        yield from _remote_backend(settings)
        return
    from smtpfake.control import SmtpFake
    from smtpfake.scenario import ScenarioError
    from smtpfake.server import Server

    try:
        server = Server(
            settings.scenario,
            host=settings.host,
            port=_port_for_this_process(settings.port),
            seed=settings.seed,
            scenario_dirs=settings.scenario_dirs,
            delivery=settings.delivery,
            journal_limits=settings.journal_limits,
        )
    except ScenarioError as exc:
        # settings made in code (an overridden smtpfake_settings) are checked only here: one
        # line in each test that needs the server, not a traceback through the fixtures
        problem = f"smtpfake: scenario {settings.scenario!r} (smtpfake_settings): {_problems(exc)}"
        pytest.fail(problem, pytrace=False)
    try:
        server.start()
    except OSError as exc:
        where = f"{settings.host}:{_port_for_this_process(settings.port)}"
        # taken since the start-up check: one line in each test that needs it, no traceback
        pytest.fail(
            f"smtpfake: --smtpfake-host/--smtpfake-port: cannot listen on {where}: {exc}",
            pytrace=False,
        )
    fake = SmtpFake(server)
    fake.transcript_in_errors = False  # the report's own section carries it, once
    yield fake
    server.stop()


def _remote_backend(settings: Settings) -> Iterator[Control]:
    import contextlib

    from smtpfake.remote import RemoteError
    from smtpfake.scenario import ScenarioError
    from smtpfake.servers_on_demand import own_server

    with contextlib.ExitStack() as stack:
        try:
            remote = stack.enter_context(own_server(settings))
        except (RemoteError, ScenarioError) as exc:
            # the sidecar refused a server of our own (gone since start-up, out of ports, a
            # bad scenario): one line in each test, not a traceback through the fixtures
            pytest.fail(f"smtpfake: --smtpfake-remote {settings.remote}: {exc}", pytrace=False)
        remote.transcript_in_errors = False
        yield remote


@pytest.fixture(scope="session")
def smtpfake_session(request: pytest.FixtureRequest, smtpfake_backend: Control) -> Control:
    """The same server for the whole test session: its ``host``/``port`` never change, and it
    is not reset between tests (use it from session- or module-scoped fixtures). Tests that
    take ``smtpfake`` still get it reset for them."""
    if hasattr(request, "param"):  # else the scenario was silently not played
        pytest.fail(
            f"parametrize('smtpfake_session', [{request.param!r}, ...], indirect=True): a "
            "scenario is picked for the function-scoped `smtpfake` only; parametrize that (or "
            "call smtpfake_session.use(...) yourself: it plays on for every later test)",
            pytrace=False,
        )
    return smtpfake_backend


@pytest.fixture(scope="session")
def smtpfake_server(smtpfake_backend: Control) -> Server:
    """The in-process :class:`Server` behind the fixtures (not with ``--smtpfake-remote``)."""
    server: Server | None = getattr(smtpfake_backend, "server", None)
    if server is None:
        # a test's own need, not a bad setting: it fails in one line (a UsageError raised in a
        # fixture was a traceback per test)
        pytest.fail(
            "smtpfake_server is the in-process Server, and --smtpfake-remote is set: "
            "take smtpfake (or smtpfake_session), which work both ways",
            pytrace=False,
        )
    return server


def _problems(exc: ScenarioError, *, positions: bool = True) -> str:
    """Problems one per line; a position only where it points into a real file (a dict, or a
    name that resolves to nothing, has none)."""
    lines = [
        str(p) if positions or Path(p.location.file).is_file() else p.message for p in exc.problems
    ]
    return lines[0] if len(lines) == 1 else "\n" + "\n".join(lines)


def _marker(node: pytest.Item) -> pytest.Mark | None:
    """The test's ``@pytest.mark.smtpfake(...)`` markers (module, class, function) as one, each
    checked: every keyword from the closest marker that gives it, so a function's ``seed=`` or
    ``params=`` keeps its module's scenario (the closest marker alone silently dropped it). A
    positional scenario counts as ``scenario=``; a marker that names a scenario drops the
    ``params`` of those further out (they were set for another scenario)."""
    marks = list(node.iter_markers_with_node("smtpfake"))  # the closest first
    if not marks:
        return None
    merged: dict[str, Any] = {}
    for owner, mark in reversed(marks):
        _check_marker(mark, owner)
        if _names_scenario(mark):
            merged.pop("params", None)
        merged.update(mark.kwargs, **({"scenario": mark.args[0]} if mark.args else {}))
    combined: pytest.MarkDecorator = pytest.mark.smtpfake(**merged)
    return combined.mark


def _names_scenario(mark: pytest.Mark) -> bool:
    return bool(mark.args) or "scenario" in mark.kwargs


def _written_at(item: pytest.Item, keyword: str) -> str:
    """Where the marker that gives ``keyword`` in force (see :func:`_marker`) was written, for a
    message that begins there: ``test_x.py:7`` (the decorator of a function or class; the
    line pytest reports for it), ``test_x.py (pytestmark)`` for a module's marker."""
    for owner, mark in item.iter_markers_with_node("smtpfake"):  # the closest first
        if keyword in mark.kwargs or (keyword == "scenario" and mark.args):
            return _place(owner)
        if keyword == "params" and _names_scenario(mark):
            break  # params further out were dropped: none in force (not reached in practice)
    return _place(item)


def _place(node: object) -> str:
    """``file:line`` of a test function's or class's first decorator, as pytest reports it;
    ``file (pytestmark)`` for a module (``node``: the pytest node a marker is on)."""
    if not isinstance(node, pytest.Item | pytest.Class | pytest.Module):
        return str(getattr(node, "nodeid", node))  # a package's: no line to point at
    path, line, _ = node.reportinfo()
    shown = _relative(Path(str(path)), node.config.rootpath)
    if isinstance(node, pytest.Module) or not line:
        return f"{shown} (pytestmark)"
    return f"{shown}:{line + 1}"


def _marker_scenario(
    marker: pytest.Mark | None, scenario: Any, seed: int | None, item: pytest.Item
) -> tuple[Any, int | None]:
    """The scenario and seed ``marker`` (see :func:`_marker`) names, else the ones given."""
    if marker is None:
        return scenario, seed
    scenario = marker.kwargs.get("scenario", scenario)
    if "seed" in marker.kwargs:
        raw = marker.kwargs["seed"]
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 2**64 - 1:
            pytest.fail(
                f"{_written_at(item, 'seed')}: @pytest.mark.smtpfake(seed={raw!r}): the seed "
                "must be an integer from 0 to 2^64-1",
                pytrace=False,
            )
        seed = raw
    return scenario, seed


#: the marker's keywords; anything else is a typo that would silently do nothing
_MARKER_KEYWORDS = ("scenario", "seed", "params", "delivery", "handler")


def _check_marker(marker: pytest.Mark, owner: object) -> None:
    """Fail the test with one line, at the marker's place (``owner``: the function, class or
    module it is on), when ``@pytest.mark.smtpfake(...)`` is not ``(scenario, seed=INT,
    params=DICT, delivery=..., handler=...)``: a misspelt keyword or a second scenario would
    otherwise be ignored, and the test run against the wrong scenario."""
    problem = ""
    unknown = [k for k in marker.kwargs if k not in _MARKER_KEYWORDS]
    if unknown:
        from difflib import get_close_matches

        near = get_close_matches(unknown[0], _MARKER_KEYWORDS, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        problem = f"unknown keyword {unknown[0]!r}; {hint}(known: {', '.join(_MARKER_KEYWORDS)})"
    elif len(marker.args) > 1 or (marker.args and "scenario" in marker.kwargs):
        problem = "one scenario only: a name, a path or a dict, positional or as scenario="
    elif not isinstance(marker.kwargs.get("params", {}), dict):
        got = type(marker.kwargs["params"]).__name__
        problem = f"params must be a dict of parameter names to values, got {got}"
    if problem:
        pytest.fail(f"{_place(owner)}: @pytest.mark.smtpfake: {problem}", pytrace=False)


def _load_problem(
    exc: ScenarioError,
    scenario: Any,
    params: dict[str, Any] | None,
    item: pytest.Item,
    from_marker: bool,
) -> str:
    """The one line (or one per problem) a test fails with when its scenario does not load.
    Parameter values that are the sole problem are the marker's mistake: told at the marker,
    as the command line tells ``--param x=1: ...``, not at the scenario file's declaration; so
    is a scenario the marker names that does not exist (``from_marker``)."""
    from smtpfake.scenario import ParamsError

    shown = repr(scenario) if not isinstance(scenario, dict) else "{...}"
    if isinstance(exc, ParamsError) and params:
        given = repr(params) if len(repr(params)) <= 60 else "{...}"
        return (
            f"{_written_at(item, 'params')}: @pytest.mark.smtpfake(params={given}) for scenario "
            f"{shown}: {'; '.join(exc.settings)}"
        )
    # a file keeps file:line:col; a name or a dict has no file, so only the key path
    is_file = isinstance(scenario, Path) or str(scenario).endswith((".yaml", ".yml"))
    problems = _problems(exc, positions=is_file)
    if from_marker:
        return f"{_written_at(item, 'scenario')}: @pytest.mark.smtpfake({shown}): {problems}"
    shown = scenario if not isinstance(scenario, dict) else "(inline dict)"
    return f"smtpfake: cannot load scenario {shown}: {problems}"


_NO_CHANGE = object()


def _marker_delivery(marker: pytest.Mark | None, server: Server | None) -> object:
    """``@pytest.mark.smtpfake(delivery=...)``: this test's back end (a spec or a handler
    object) replaces the session's until the test ends. Returns the one to restore."""
    if marker is None or "delivery" not in marker.kwargs:
        return _NO_CHANGE
    wanted = marker.kwargs["delivery"]
    if server is None:
        pytest.fail(
            "@pytest.mark.smtpfake(delivery=...): in-process only; with --smtpfake-remote "
            "start the sidecar with `smtpfake serve --deliver ...`",
            pytrace=False,
        )
    from smtpfake.hooks import plain_defs

    if isinstance(wanted, str):
        from smtpfake.delivery import named

        try:
            wanted = named(wanted)
        except ValueError as exc:
            pytest.fail(f"@pytest.mark.smtpfake(delivery=...): {exc}", pytrace=False)
    elif wanted is not None and not callable(getattr(wanted, "handle_DATA", None)):
        pytest.fail(
            f"@pytest.mark.smtpfake(delivery={wanted!r}): expected maildir:PATH, "
            "proxy:HOST:PORT, None or an object with aiosmtpd's async handle_DATA",
            pytrace=False,
        )
    elif wanted is not None and plain_defs(wanted, ("DATA",)):
        pytest.fail(
            f"@pytest.mark.smtpfake(delivery={wanted!r}): handle_DATA must be `async def`, as "
            "aiosmtpd's handlers are (the server awaits it)",
            pytrace=False,
        )
    kept = server.delivery
    server.delivery = wanted
    return kept


def _marker_handler(marker: pytest.Mark | None, server: Server | None) -> object:
    """``@pytest.mark.smtpfake(handler=obj)``: an object with aiosmtpd's reply-deciding hooks
    (smtpfake/hooks.py) for this test's connections. Returns the hooks to restore."""
    if marker is None or "handler" not in marker.kwargs:
        return _NO_CHANGE
    if server is None:
        pytest.fail("@pytest.mark.smtpfake(handler=...): in-process only", pytrace=False)
    from smtpfake.hooks import Hooks, hook_names, plain_defs

    wanted = marker.kwargs["handler"]
    if wanted is not None and not hook_names(wanted):
        pytest.fail(
            f"@pytest.mark.smtpfake(handler={wanted!r}): it has none of aiosmtpd's hooks "
            "(handle_HELO, handle_EHLO, handle_MAIL, handle_RCPT, handle_DATA, ...)",
            pytrace=False,
        )
    plain = plain_defs(wanted, hook_names(wanted)) if wanted is not None else []
    if plain:  # else each command fails with "object str can't be used in 'await' expression"
        pytest.fail(
            f"@pytest.mark.smtpfake(handler={wanted!r}): {', '.join(plain)} must be "
            "`async def`, as aiosmtpd's hooks are (the server awaits them)",
            pytrace=False,
        )
    kept = server.hooks
    server.hooks = Hooks(wanted, server) if wanted is not None else None
    return kept


@pytest.fixture
def smtpfake(
    request: pytest.FixtureRequest, smtpfake_backend: Control, smtpfake_settings: Settings
) -> Iterator[Control]:
    """A running fake SMTP server on 127.0.0.1 for this test alone: nothing leaks between tests.

    The scenario comes from, in order: indirect parametrization, ``@pytest.mark.smtpfake(...)``,
    the ``smtpfake_scenario`` setting. Change it inside the test with ``smtpfake.use(...)``.
    With ``--smtpfake-remote`` the same methods drive a sidecar over HTTP.
    """
    from smtpfake.control import SETTLE_TIMEOUT
    from smtpfake.scenario import ScenarioError

    settings = smtpfake_settings
    marker = _marker(request.node)
    scenario, seed = _marker_scenario(marker, settings.scenario, settings.seed, request.node)
    params = marker.kwargs.get("params") if marker is not None else None
    indirect = hasattr(request, "param")
    if indirect:
        scenario = request.param
    backend = smtpfake_backend
    backend.reset()
    backend.settle_timeout = SETTLE_TIMEOUT  # a test's own setting ends with the test
    problem = ""
    try:
        # params: the scenario's ${name} values (in-process, or sent to the sidecar)
        backend.use(scenario, seed=seed, params=params or None)
    except ScenarioError as exc:
        from_marker = marker is not None and "scenario" in marker.kwargs and not indirect
        problem = _load_problem(exc, scenario, params, request.node, from_marker)
    if problem:
        pytest.fail(problem, pytrace=False)  # outside the except: no chained exception shown
    server: Server | None = getattr(backend, "server", None)
    kept = _marker_delivery(marker, server)
    kept_hooks = _marker_handler(marker, server)
    request.node.stash[_HANDLE] = backend
    yield backend
    if server is not None and server.delivery is not None:
        # this test's messages reach its back end (and a handler's failure fails this test)
        server.wait_for_deliveries()
    errors = list(getattr(server, "errors", ()))
    if server is not None and kept is not _NO_CHANGE:
        server.delivery = kept  # type: ignore[assignment]
    if server is not None and kept_hooks is not _NO_CHANGE:
        server.hooks = kept_hooks  # type: ignore[assignment]
    backend.reset()  # drop this test's connections now, not at the next test
    if errors:
        # A bug inside smtpfake while serving this test: it fails here, never lost in a thread.
        pytest.fail("\n".join(str(e) for e in errors), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when != "call" or not report.failed:
        return report
    handle = item.stash.get(_HANDLE, None)
    if handle is None:
        return report
    # The "call" report is made before teardown resets the journal, so the transcript is whole.
    worker = f", worker {_worker()}" if _worker() else ""
    title = f"smtpfake transcript ({handle.scenario_name}, {handle.host}:{handle.port}{worker})"
    text = handle.transcript()
    dropped = handle.counts.dropped()
    if dropped:  # a transcript missing what went before must say so
        text = f"{dropped}\n{text}"
    add = getattr(report.longrepr, "addsection", None)
    if add is not None:
        # in the failure itself: shown once in the terminal and kept in JUnit XML's <failure>
        add(title, text)
    else:
        report.sections.append((title, text))
    return report
