"""The pytest plugin (entry point ``pytest11``): the ``smtpfake`` fixtures, marker and options.

One server per test session (started on first use), reset before each test that uses it, so a
test pays microseconds rather than a server start (the pytest-httpserver pattern). Every option
is both an ini key and a command-line flag, and shows in the report header.

Load cost: pytest loads this module in every run where smtpfake is installed, used or not, and
compiles it anew (rewriting its asserts) wherever bytecode is not written (PYTHONDONTWRITEBYTECODE,
a read-only site-packages). So it holds only what pytest needs before a test asks for a fixture:
the options, the settings, the fixtures' declarations and the collection-time check of markers.
It imports nothing beyond what pytest already loaded. What the fixtures do is in
:mod:`smtpfake.pytest_plugin_marker` and :mod:`smtpfake.pytest_plugin_backend`, imported on
first use with the server stack (asyncio, aiosmtpd, yaml, the engine, the HTTP client); the
report hook that adds a failing test's transcript is registered then too, so a suite that never
uses the fixture runs no smtpfake hook in each test.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from smtpfake.control import Control
    from smtpfake.delivery import Handler
    from smtpfake.journal_limits import JournalLimits
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
    "loop": (
        "event loop of the in-process server: auto (uvloop when installed), asyncio or uvloop",
        "auto",
        "auto",
    ),
    "remote": ("API URL of a running sidecar to use instead of an in-process server", "", "none"),
    "remote_token": ("bearer token for the sidecar's API", "", "$SMTPFAKE_API_TOKEN"),
    "remote_wait": ("seconds to wait for a sidecar that is still starting", "10", "10"),
}
#: the loops --smtpfake-loop takes (smtpfake.wire.loops.CHOICES, written out so that loading the
#: plugin does not import asyncio: tests/plugin/test_loop_setting.py holds the two equal)
LOOPS = ("auto", "asyncio", "uvloop")
#: JournalLimits' fields, name: (default, what N counts), which name the --smtpfake-journal-*
#: flags; written out so that loading the plugin does not import that dataclass (nor
#: frozen_dataclass): tests/plugin/test_journal_settings.py holds the two equal
_JOURNAL_LIMITS: dict[str, tuple[int, str]] = {
    "sessions": (10_000, "sessions (the oldest go whole)"),
    "messages": (10_000, "messages, across all sessions"),
    "message_bytes": (
        256 * 1024 * 1024,
        "bytes of message data (the newest message is always kept)",
    ),
    "entries": (1_000, "transcript entries (and violations) per session, the latest"),
    "transcript_bytes": (
        64 * 1024 * 1024,
        "bytes of transcript text (past it the oldest sessions go)",
    ),
    "entry_chars": (4_096, "characters per transcript entry (a longer one is cut)"),
}


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
    for field, (limit, doc) in _JOURNAL_LIMITS.items():
        name = f"journal_{field}"
        group.addoption(
            f"--smtpfake-{name.replace('_', '-')}",
            dest=f"smtpfake_{name}",
            metavar="N",
            help=f"the in-process journal keeps at most N {doc} "
            f"(ini: smtpfake_{name}; default: {limit})",
        )
        parser.addini(f"smtpfake_{name}", f"journal limit: {doc}", default="")


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
        raise pytest.UsageError(f"smtpfake: {_named(name)}: expected {what}, got {raw!r}") from None


def _named(name: str) -> str:
    """A setting as its errors name it: the flag, then its ini key."""
    return f"--smtpfake-{name.replace('_', '-')} (ini smtpfake_{name})"


class SettingsError(ValueError):
    """A :class:`Settings` field made in code that the flags would refuse, named."""


#: a seed's range, as a scenario's ``seed:`` and ``serve --seed`` (scenario.limits.MAX_SEED,
#: written out so that loading the plugin imports nothing more)
_MAX_SEED = 2**64 - 1


@dataclass(frozen=True)
class Settings:
    """The plugin's settings, read once per test session. Override the ``smtpfake_settings``
    fixture in a conftest.py to set them in code: a field the flags would refuse is a
    :class:`SettingsError` naming it, here, as the flag's usage error does."""

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
    #: the in-process server's event loop: ``auto`` (uvloop when installed), ``asyncio`` or
    #: ``uvloop``; a sidecar's is its own (``smtpfake serve --loop``)
    loop: str = "auto"

    def __post_init__(self) -> None:
        problem = _settings_problem(self)
        if problem:
            raise SettingsError(f"smtpfake: Settings({problem}")


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _settings_problem(s: Settings) -> str:
    """What is wrong with ``s``, as ``field=value): why``; "" when nothing is. The checks
    read_settings makes of the flags (a delivery spec is checked when the server is made)."""
    if not isinstance(s.scenario, str | Path) or not str(s.scenario):
        return f"scenario={s.scenario!r}): expected a scenario name or a path to a YAML file"
    if not isinstance(s.host, str) or not s.host:
        return f"host={s.host!r}): expected an address to bind"
    if not _whole(s.port) or not 0 <= s.port <= 65535:
        return f"port={s.port!r}): expected a port number 0-65535"
    if s.seed is not None and (not _whole(s.seed) or not 0 <= s.seed <= _MAX_SEED):
        return f"seed={s.seed!r}): expected None or a whole number from 0 to 2^64-1"
    wait = s.remote_wait
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= 3600:
        return f"remote_wait={wait!r}): expected seconds from 0 to 3600"
    for folder in s.scenario_dirs:
        if not Path(folder).is_dir():
            return f"scenario_dirs=...): {str(folder)!r} is not a directory"
    problem = _loop_problem(s.loop)
    return f"loop={s.loop!r}): {problem}" if problem else ""


def _loop_problem(loop: object) -> str:
    """Why ``loop`` cannot be the in-process server's; "" when it can. ``uvloop`` is imported to
    know (installed but failing to import, the server would not have it)."""
    if loop not in LOOPS:
        return "expected auto, asyncio or uvloop"
    if loop == "uvloop":
        problem = _uvloop_problem()
        if problem:
            return f"{problem}, or auto (uvloop when installed, else asyncio's loop)"
    return ""


def _uvloop_problem() -> str:
    """Why uvloop cannot run the in-process server ("" when it can): not installed, or installed
    but failing to import. smtpfake.wire.loops.uvloop_problem() written out, so that the header
    does not load the wire (tests/plugin/test_loop_setting.py holds the two equal)."""
    import importlib.util  # loaded by pytest already (its assertion rewriting)

    if importlib.util.find_spec("uvloop") is None:
        return _NO_UVLOOP
    try:  # its spec alone does not tell (a build for another Python, a broken install)
        importlib.import_module("uvloop")
    except ImportError as exc:
        why = (str(exc).splitlines() or [type(exc).__name__])[0]
        return f"uvloop is installed but fails to import ({why}): {_REINSTALL}"
    return ""


_NO_UVLOOP = "uvloop is not installed: pip install 'smtpfake[uvloop]'"
_REINSTALL = "pip install --force-reinstall uvloop"


def _loop_in_use(settings: Settings) -> str:
    """``uvloop`` or ``asyncio``: the loop the in-process server of ``settings`` runs on (with
    ``auto``, asyncio's where uvloop is installed but fails to import, said with why)."""
    if settings.loop != "auto":
        return settings.loop
    problem = _uvloop_problem()
    if not problem:
        return "uvloop"
    return "asyncio" if problem == _NO_UVLOOP else f"asyncio ({problem})"


def _journal_limits(config: pytest.Config) -> JournalLimits | None:
    """JournalLimits from the --smtpfake-journal-* flags and ini keys given, else None."""
    given: dict[str, int] = {}
    for field in _JOURNAL_LIMITS:
        raw = _setting(config, f"journal_{field}")
        if raw:
            from smtpfake.scenario import limits

            try:
                given[field] = limits.number_from_text(
                    raw, "", minimum=1, maximum=limits.MAX_JOURNAL_LIMIT, integer=True
                )
            except limits.LimitError as exc:
                # the setting first, as every other setting's error names it
                raise pytest.UsageError(f"smtpfake: {_named(f'journal_{field}')}{exc}") from None
    if not given:
        return None
    from smtpfake.journal_limits import JournalLimits

    return JournalLimits(**given)


def _seed(config: pytest.Config) -> int | None:
    """--smtpfake-seed: 0 to 2^64-1, the range a scenario's ``seed:`` and ``serve --seed`` take."""
    seed: int | None = _number(config, "seed", int, "an integer")
    if seed is not None:
        from smtpfake.scenario import limits

        try:
            limits.check_number(seed, "", minimum=0, maximum=limits.MAX_SEED)
        except limits.LimitError as exc:
            raise pytest.UsageError(f"smtpfake: {_named('seed')}{exc}, got {seed}") from None
    return seed


def read_settings(config: pytest.Config) -> Settings:
    """Settings from flags, else ini keys; pytest.UsageError naming the first bad one."""
    port = _number(config, "port", int, "a port number 0-65535")
    if port is not None and not 0 <= port <= 65535:
        raise pytest.UsageError(
            f"smtpfake: --smtpfake-port (ini smtpfake_port): {port} is not a port (0-65535)"
        )
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
    if not _setting(config, "remote"):
        # the sidecar's settings without a sidecar: the run would go in-process unawares (the
        # token's variable alone is no mistake: serve and show read it too)
        for name in ("remote_token", "remote_wait"):
            if config.getoption(f"smtpfake_{name}") is not None:
                raise pytest.UsageError(f"smtpfake: {_named(name)}: needs --smtpfake-remote")
    token = _setting(config, "remote_token") or os.environ.get("SMTPFAKE_API_TOKEN")
    if token:
        from smtpfake.bearer_token import clean

        try:
            token = clean(token)
        except ValueError as exc:
            where = _named("remote_token") if _setting(config, "remote_token") else None
            where = where or "SMTPFAKE_API_TOKEN"
            raise pytest.UsageError(f"smtpfake: {where}: {exc}") from None
    delivery = _setting(config, "delivery")
    if delivery:
        _check_delivery(delivery, "--smtpfake-delivery (ini smtpfake_delivery)", pytest.UsageError)
    loop = _setting(config, "loop") or "auto"
    problem = _loop_problem(loop)
    if problem:
        got = f", got {loop!r}" if loop not in LOOPS else ""
        raise pytest.UsageError(f"smtpfake: {_named('loop')}: {problem}{got}")
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
        loop=loop,
    )


def _check_delivery(spec: str, where: str, error: type[Exception]) -> None:
    """Raise ``error`` naming ``where`` unless ``spec`` names a back end (loads aiosmtpd)."""
    from smtpfake.delivery import named

    try:
        named(spec)
    except ValueError as exc:
        raise error(f"smtpfake: {where}: {exc}") from None


def named(where: str, settings: Settings, *fields: str) -> str:
    """The settings ``fields`` as the user gave them, for a message: the flags and ini keys,
    or (``where`` an ``smtpfake_settings`` override) the fields in code, with their values."""
    if where:
        given = ", ".join(f"{f}={getattr(settings, f)!r}" for f in fields)
        return f"Settings({given}) (smtpfake_settings in {where})"
    flags = "/".join(f"--smtpfake-{f.replace('_', '-')}" for f in fields)
    return f"{flags} (ini {'/'.join(f'smtpfake_{f}' for f in fields)})"


_SETTINGS = pytest.StashKey[Settings]()


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
    flags = read_settings(config)
    config.stash[_SETTINGS] = flags
    # a conftest's smtpfake_settings decides instead: checked (and shown) now when it can be
    settings = flags
    where = ""  # where the settings in force were made: "" for the flags and ini keys
    override = _override(config)
    if override is not None:
        where, fixture = override
        found = _evaluate(fixture, config, where)
        config.stash[_IN_FORCE] = (where, found)
        if found is None:
            return  # made at first use, and checked then (see smtpfake_backend)
        settings = found
        for flag in overridden_flags(config, flags, settings):
            config.issue_config_time_warning(
                SmtpfakeWarning(
                    f"smtpfake: {flag} is ignored: smtpfake_settings in {where} sets it"
                ),
                stacklevel=2,
            )
    if settings.remote or settings.port or settings.host != Settings.host:
        _check_network_settings(config, settings, where)
    if not settings.remote and (settings.scenario != "default" or settings.scenario_dirs):
        from smtpfake.pytest_plugin_backend import problem_lines
        from smtpfake.scenario import ScenarioError, resolve
        from smtpfake.tls import TlsContexts

        try:
            scenario = resolve(settings.scenario, settings.scenario_dirs)
            # and its TLS, as the server will set it up: a certificate file it cannot use, or
            # one to generate without trustme installed, is this setting's mistake too
            TlsContexts(settings.host).context(scenario.server)
        except ScenarioError as exc:
            setting = named(where, settings, "scenario")
            raise pytest.UsageError(f"smtpfake: {setting}: {problem_lines(exc)}") from None


_IN_FORCE = pytest.StashKey[tuple[str, "Settings | None"]]()


def _override(config: pytest.Config) -> tuple[str, Any] | None:
    """Where a conftest overrides ``smtpfake_settings`` (from the rootdir), and its fixture."""
    for plugin in config.pluginmanager.get_plugins():
        fixture = getattr(plugin, "smtpfake_settings", None)
        if getattr(plugin, "__name__", __name__) != __name__ and callable(fixture):
            file = Path(str(getattr(plugin, "__file__", "?")))
            return relative_path(file, config.rootpath), fixture
    return None


def _evaluate(fixture: Any, config: pytest.Config, where: str) -> Settings | None:
    """The Settings an overriding fixture returns, made now when it can be: a plain function
    taking no fixture but ``pytestconfig``; else None (pytest makes it at first use). Its
    :class:`SettingsError` is a usage error; anything else it raises is left for pytest to
    report where the fixture is used."""
    import inspect

    function = getattr(fixture, "__wrapped__", None)
    if function is None or not inspect.isfunction(function):
        return None
    if inspect.isgeneratorfunction(function) or inspect.iscoroutinefunction(function):
        return None
    names = list(inspect.signature(function).parameters)
    if not set(names) <= {"pytestconfig"}:
        return None
    try:
        made = function(config) if names else function()
    except SettingsError as exc:
        raise pytest.UsageError(f"{exc} (smtpfake_settings in {where})") from None
    except Exception:  # the user's own code: pytest reports it when the fixture runs
        return None
    return made if isinstance(made, Settings) else None


def ignored_flag(flag: str, where: str) -> str:
    return f"smtpfake: {flag} is ignored: smtpfake_settings in {where} sets it (the code wins)"


def overridden_flags(config: pytest.Config, flags: Settings, settings: Settings) -> list[str]:
    """The flags given on the command line whose value ``settings`` (made in code) replaces."""
    named = {name: name for name in _OPTIONS} | {"scenario_dirs": "scenario_dirs"}
    named |= {f"journal_{field}": "journal_limits" for field in _JOURNAL_LIMITS}
    found = []
    for option, field in named.items():
        given = config.getoption(f"smtpfake_{option}")
        if given is not None and getattr(flags, field) != getattr(settings, field):
            found.append(f"--smtpfake-{option.replace('_', '-')} {given}".rstrip())
    return found


def _check_network_settings(config: pytest.Config, settings: Settings, where: str) -> None:
    """A sidecar that does not answer (waited for) or refuses the token, a scenario it lacks, a
    host:port the in-process server cannot listen on: a usage error at start-up, naming the
    setting as given (``where``: see :func:`named`)."""
    from smtpfake import pytest_plugin_backend as backend

    if settings.remote:
        if settings.journal_limits is not None:
            in_code = f"Settings(journal_limits=...) (smtpfake_settings in {where})"
            setting = in_code if where else "--smtpfake-journal-*"
            raise pytest.UsageError(
                f"smtpfake: {setting} set the in-process journal; a sidecar's are its own "
                "(smtpfake serve --journal-*)"
            )
        if settings.delivery is not None:
            setting = named(where, settings, "delivery")
            raise pytest.UsageError(f"smtpfake: {setting}: {backend.REMOTE_DELIVERY}")
        if settings.loop != "auto":
            setting = named(where, settings, "loop")
            raise pytest.UsageError(f"smtpfake: {setting}: {backend.REMOTE_LOOP}")
        listen = backend.remote_listen(settings)
        if listen:  # else silently on another port: an app set to that port finds nothing there
            setting = named(where, settings, listen)
            raise pytest.UsageError(f"smtpfake: {setting}: {backend.REMOTE_LISTEN}")
        if hasattr(config, "workerinput"):  # an xdist worker (its config, not an env var)
            # the main process waited for the sidecar and checked it; gone since, a UsageError
            # here crashed each worker (xdist restarts it: ten tracebacks, "no tests ran"):
            # instead each test that needs it errors in one line, as when it goes mid-run
            return
        remote = backend.wait_for_sidecar(settings, where)
        if settings.scenario != "default":
            backend.check_scenario_on_sidecar(remote, settings, where)
        return
    if not backend.xdist_worker():
        # The main process checks every worker's port (N, N+1, ... under pytest-xdist): a
        # UsageError inside a worker would be an xdist crash with a traceback, not one line.
        workers = getattr(config.option, "numprocesses", None)
        count = workers if isinstance(workers, int) and workers > 0 and settings.port else 1
        for k in range(count):
            backend.check_port(settings, where, worker=k if count > 1 else None)


def pytest_report_header(config: pytest.Config) -> str:
    s = config.stash[_SETTINGS]
    where, in_force = config.stash.get(_IN_FORCE, ("", None))
    s = in_force or s
    parts = [f"scenario={s.scenario}"]
    if s.remote:
        parts.append(f"remote={s.remote} (one server per pytest process, made on the sidecar)")
    else:
        parts.append(f"host={s.host} port={s.port or 'free'} loop={_loop_in_use(s)}")
        if config.pluginmanager.hasplugin("xdist") and config.getoption("numprocesses", None):
            parts.append("(one server per xdist worker; the worker id heads each transcript)")
    parts.append(f"seed={s.seed if s.seed is not None else 'per scenario'}")
    if s.journal_limits is not None:
        changed = [
            f"{f.name}={getattr(s.journal_limits, f.name)}"
            for f in dataclasses.fields(s.journal_limits)
            if getattr(s.journal_limits, f.name) != f.default
        ]
        parts.append("journal " + ",".join(changed))
    if s.scenario_dirs:
        parts.append("scenario_dirs=" + ", ".join(str(d) for d in s.scenario_dirs))
    if in_force is not None:
        parts.append(f"(in force: smtpfake_settings in {where})")
    elif where:
        # made at first use: say so, rather than show the flags' settings as if in force
        parts.append(f"(flags and ini keys; smtpfake_settings in {where} is made at first use)")
    return "smtpfake: " + " ".join(parts)


def relative_path(path: Path, root: Path) -> str:
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
    stray = [
        item
        for item in items
        if item.get_closest_marker("smtpfake") is not None
        and "smtpfake" not in getattr(item, "fixturenames", ())
    ]
    if stray and not config.pluginmanager.has_plugin(_STRAY):
        # Warned after each of them ran, not here: under -W error a warning at collection was an
        # INTERNALERROR that ended the run, and a test that takes the fixture by
        # request.getfixturevalue("smtpfake") does use the marker. Registered only when such a
        # test exists, so other suites run no smtpfake hook per test.
        config.pluginmanager.register(_StrayMarkers({id(item) for item in stray}), _STRAY)


_STRAY = "smtpfake-stray-markers"


class _StrayMarkers:
    """Warns, at teardown, of each test whose smtpfake marker had no effect."""

    def __init__(self, items: set[int]) -> None:
        self.items = items

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Iterator[None]:
        yield  # torn down first: a warning raised as an error (-W error) must not stop that
        from smtpfake.pytest_plugin_backend import HANDLE

        if id(item) in self.items and HANDLE not in item.stash:
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
def smtpfake_backend(request: pytest.FixtureRequest) -> Iterator[Control]:
    """What the ``smtpfake`` fixtures drive: an in-process server started once per test session,
    or a server of its own on the sidecar named by ``--smtpfake-remote``."""
    from smtpfake.pytest_plugin_backend import backend, settings_in_code

    config = request.config
    where, in_force = config.stash.get(_IN_FORCE, ("", None))
    problem = ""
    try:
        settings = _settings(request)
    except SettingsError as exc:
        problem = f"{exc} (smtpfake_settings in {where})"
    if problem:
        # told outside the except block, in one line: the error of every test that uses the
        # fixtures (pytest keeps a session fixture's failure), while the others run
        pytest.fail(problem, pytrace=False)
    if where and in_force is None:
        # made only now: what start-up did for the flags
        settings_in_code(
            settings, where, overridden_flags(config, config.stash[_SETTINGS], settings)
        )
    yield from backend(settings, where, config)


def _settings(request: pytest.FixtureRequest) -> Settings:
    """The settings in force: those start-up made of a conftest's ``smtpfake_settings`` (so
    its function runs once, not again for the fixture), else the fixture's value."""
    in_force = request.config.stash.get(_IN_FORCE, ("", None))[1]
    if in_force is not None:
        return in_force
    made: Settings = request.getfixturevalue("smtpfake_settings")
    return made


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


@pytest.fixture
def smtpfake(request: pytest.FixtureRequest, smtpfake_backend: Control) -> Iterator[Control]:
    """A running fake SMTP server on 127.0.0.1 for this test alone: nothing leaks between tests.

    The scenario comes from, in order: indirect parametrization, ``@pytest.mark.smtpfake(...)``,
    the ``smtpfake_scenario`` setting. Change it inside the test with ``smtpfake.use(...)``.
    With ``--smtpfake-remote`` the same methods drive a sidecar over HTTP.
    """
    from smtpfake.pytest_plugin_marker import for_the_test

    yield from for_the_test(request, smtpfake_backend, _settings(request))
