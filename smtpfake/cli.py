"""The ``smtpfake`` command: serve, list, show, validate, explain, probe."""

from __future__ import annotations

import dataclasses
import gc
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeAlias

from smtpfake import __version__
from smtpfake.journal_limits import JournalLimits
from smtpfake.plain_args import NEGATABLE, Options, read_plain

# Start-up cost: each command imports what it needs (the scenario loader, yaml, asyncio, the
# server) when it runs; argparse (cli_parser) only when a command line is not plain (parse()).
if TYPE_CHECKING:
    import argparse
    from types import SimpleNamespace

    from _typeshed import DataclassInstance

    from smtpfake.http import ApiServer
    from smtpfake.journal import SessionRecord
    from smtpfake.remote import RemoteSmtpFake
    from smtpfake.scenario import Scenario, ScenarioError
    from smtpfake.scenario.model import Param, Rule

#: the event loops `serve --loop` takes: smtpfake.wire.loops.CHOICES, written out so that parsing
#: the command line does not import asyncio (tests/cli/test_cli.py keeps the two equal)
LOOP_CHOICES = ("auto", "asyncio", "uvloop")

#: a command's options as :func:`parse` gives them: argparse's, or read plain (plain_args)
Args: TypeAlias = "argparse.Namespace | SimpleNamespace"


def _yes_no(text: str) -> bool:
    """An on/off setting from the environment: ``1``, ``true``, ``yes``, ``on`` or ``0``,
    ``false``, ``no``, ``off`` (any case); ValueError for anything else."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not an on/off value: {text!r}")


def duration(text: str) -> float:
    """Seconds as a scenario writes them: a number (``300``, ``0.5``) or with a unit (``5m``,
    ``250ms``); ValueError for anything else (``inf``, ``-5``, ``5 minutes``)."""
    from smtpfake.scenario import limits

    seconds = limits.duration_seconds(text)
    if seconds is None:
        raise ValueError(f"not a duration: {text!r}")
    return seconds


#: what each kind of setting expects, for the error of an environment variable that is not one
_EXPECTED: dict[Callable[[str], object], str] = {
    int: "a whole number",
    float: "a number",
    _yes_no: "1, true, yes or on; or 0, false, no or off",
    duration: "seconds, or a duration with its unit (250ms, 30s, 5m, 1h)",
}


def duration_flag(text: str) -> float:
    """:func:`duration` for a flag (serve's, the probe's): argparse's error then says what a
    duration is, as the environment variable's does (``argument --grace-period: expected
    seconds, or ...``). The range is the caller's to check."""
    try:
        return duration(text)
    except ValueError:
        import argparse  # only for its error: see parse()

        raise argparse.ArgumentTypeError(f"expected {_EXPECTED[duration]}, got {text!r}") from None


#: serve option -> (environment variable, type, default); a flag on the command line wins
SERVE_ENV: dict[str, tuple[str, Callable[[str], object], object]] = {
    "scenario": ("SMTPFAKE_SCENARIO", str, "default"),
    "host": ("SMTPFAKE_HOST", str, "127.0.0.1"),
    "port": ("SMTPFAKE_PORT", int, 2525),
    "seed": ("SMTPFAKE_SEED", int, None),  # None: the scenario's own seed, else 0
    "api_host": ("SMTPFAKE_API_HOST", str, "127.0.0.1"),
    "api_port": ("SMTPFAKE_API_PORT", int, None),
    "api_token": ("SMTPFAKE_API_TOKEN", str, None),
    "server_ports": ("SMTPFAKE_SERVER_PORTS", str, None),  # servers on demand: 2600-2699
    "log_format": ("SMTPFAKE_LOG_FORMAT", str, "text"),
    "quiet": ("SMTPFAKE_QUIET", _yes_no, False),
    "clock": ("SMTPFAKE_CLOCK", str, "system"),
    "idle_timeout": ("SMTPFAKE_IDLE_TIMEOUT", duration, 300.0),
    # None: Server's own default (1 s; 0.25 s)
    "grace_period": ("SMTPFAKE_GRACE_PERIOD", duration, None),
    "stop_grace_period": ("SMTPFAKE_STOP_GRACE_PERIOD", duration, None),
    "loop": ("SMTPFAKE_LOOP", str, "auto"),
    "deliver": ("SMTPFAKE_DELIVER", str, None),
    # what the journal keeps (JournalLimits): --journal-sessions, SMTPFAKE_JOURNAL_SESSIONS, ...
    **{
        f"journal_{f.name}": (f"SMTPFAKE_JOURNAL_{f.name.upper()}", int, f.default)
        for f in dataclasses.fields(JournalLimits)
    },
}


#: the serve options that are seconds: whether 0 is allowed (a grace period of 0 closes at once;
#: an idle timeout of 0 would fire at once), as Server() checks them; at most MAX_SECONDS
SERVE_SECONDS: dict[str, bool] = {
    "idle_timeout": False,
    "grace_period": True,
    "stop_grace_period": True,
}


def serve_ranges() -> dict[str, tuple[int, int]]:
    """The serve options that are whole numbers, with their (minimum, maximum)."""
    from smtpfake.scenario import limits

    return {
        "seed": (0, limits.MAX_SEED),
        **{
            f"journal_{f.name}": (1, limits.MAX_JOURNAL_LIMIT)
            for f in dataclasses.fields(JournalLimits)
        },
    }


#: --param NAME=VALUE ... in the environment: assignments separated by whitespace
PARAMS_ENV = "SMTPFAKE_PARAMS"
SCENARIO_DIRS_ENV = "SMTPFAKE_SCENARIO_DIRS"


def _json_line(fields: dict[str, Any]) -> str:
    """A JSON log line of serve's own (``listening``, ``stopped``): ``time`` and ``ts`` now, as on
    every other JSON log line (logging_observer.EventLog, ts_text), then ``fields``."""
    import datetime
    import json  # only for JSON lines: the text log starts without it

    from smtpfake.logging_observer import ts_text

    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f'{{"time": "{stamp}", "ts": {ts_text(now.timestamp())}, {json.dumps(fields)[1:]}'


class _ConfigError(Exception):
    """A serve setting (flag or environment) that cannot be used: a usage error, exit 2."""


class _ApiListenError(Exception):
    """The control API cannot listen where asked: one line, exit 1."""


def _not_an_address(exc: OSError, setting: str, host: str) -> str:
    """Why a bind failed, when the fault is the host ``setting`` gave (a usage error naming it,
    exit 2): a name that resolves to nothing (``999.1.1.1``), an address this machine does not
    have. "" for any other failure: a taken port stays a runtime error naming the port."""
    import errno
    import socket

    if isinstance(exc, socket.gaierror):
        return f"{setting}: {host!r} is not an address to listen on ({exc.strerror})"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{setting}: {host!r} is not an address of this machine ({exc.strerror})"
    return ""


def _overlap(host: str | None, api_host: str | None) -> bool:
    """Whether SMTP and the API would bind the same address: the same one, or a wildcard."""
    wild = ("", "0.0.0.0", "::", None)
    return host == api_host or host in wild or api_host in wild


def _serve_settings(args: Args, env: Mapping[str, str]) -> dict[str, Any]:
    """Each serve option from its flag, else its environment variable, else its default."""
    from smtpfake.scenario import limits

    out: dict[str, Any] = {}
    ranges = serve_ranges()
    for key, (var, kind, default) in SERVE_ENV.items():
        value = getattr(args, key)
        if value is None and env.get(var, "") != "":
            text = env[var]
            try:
                value = kind(text)
            except ValueError:
                flag = "--" + key.replace("_", "-")  # the variable stands for it: say which
                raise _ConfigError(
                    f"{var}={text[:40]!r} (the environment's {flag}): expected {_EXPECTED[kind]}"
                ) from None
        out[key] = default if value is None else value
        if out[key] is None or (key not in ranges and key not in SERVE_SECONDS):
            continue
        try:
            if key in ranges:
                low, high = ranges[key]
                limits.check_number(out[key], "", minimum=low, maximum=high, integer=True)
            else:
                zero = SERVE_SECONDS[key]
                limits.check_number(
                    out[key], "", minimum=0, exclusive_minimum=not zero,
                    maximum=limits.MAX_SECONDS, unit=" seconds",
                )  # fmt: skip
        except limits.LimitError as exc:
            flag = "--" + key.replace("_", "-")
            raise _ConfigError(f"{flag}/{var}{exc}, got {out[key]:g}") from None
    if out["api_token"] is not None:
        from smtpfake.bearer_token import clean

        try:
            out["api_token"] = clean(out["api_token"])
        except ValueError as exc:
            raise _ConfigError(f"--api-token/SMTPFAKE_API_TOKEN: {exc}") from None
    for key in ("port", "api_port"):
        port = out[key]
        if port is not None and not 0 <= port <= 65535:
            flag = "--" + key.replace("_", "-")
            raise _ConfigError(f"{flag}/{SERVE_ENV[key][0]}: {port} is not a port (0-65535)")
    if out["port"] and out["port"] == out["api_port"] and _overlap(out["host"], out["api_host"]):
        # else SMTP's bind failed with "address already in use", as if something else held it
        raise _ConfigError(
            f"--port/SMTPFAKE_PORT and --api-port/SMTPFAKE_API_PORT: both are {out['port']}; "
            "SMTP and the API need a port each"
        )
    if out["server_ports"] is not None:
        try:
            out["server_ports"] = parse_ports(out["server_ports"])
        except ValueError as exc:
            raise _ConfigError(f"--server-ports/SMTPFAKE_SERVER_PORTS: {exc}") from None
    _check_needs_api(args, env, out)
    if out["log_format"] not in ("text", "json"):
        raise _ConfigError(
            f"--log-format/SMTPFAKE_LOG_FORMAT: {out['log_format']!r} is not text or json"
        )
    if out["clock"] not in ("system", "manual"):
        raise _ConfigError(f"--clock/SMTPFAKE_CLOCK: {out['clock']!r} is not system or manual")
    env_params = []
    if env.get(PARAMS_ENV, "").strip():
        from smtpfake.scenario.params import parse_assignment  # with the YAML loader: only if set

        try:
            env_params = [parse_assignment(a) for a in env[PARAMS_ENV].split()]
        except ValueError as exc:
            raise _ConfigError(f"{PARAMS_ENV} (the environment's --param): {exc}") from None
    out["params"] = dict(args.param or env_params)
    if out["loop"] not in LOOP_CHOICES:
        raise _ConfigError(f"--loop/SMTPFAKE_LOOP: {out['loop']!r} is not auto, asyncio or uvloop")
    if out["loop"] == "uvloop":
        from smtpfake.wire import loops  # (the loop's module, loaded to serve anyway)

        problem = loops.uvloop_problem()  # imports it: found is not enough (installed, broken)
        if problem:
            raise _ConfigError(
                f"--loop/SMTPFAKE_LOOP: {problem}, "
                "or --loop auto (uvloop when installed, else asyncio's loop)"
            )
    dirs = args.scenario_dir or [d for d in env.get(SCENARIO_DIRS_ENV, "").split(os.pathsep) if d]
    for folder in dirs:
        if not os.path.isdir(folder):
            raise _ConfigError(f"--scenario-dir/{SCENARIO_DIRS_ENV}: {folder!r} is not a directory")
    out["scenario_dirs"] = dirs
    return out


#: serve options that act only through the API, and why: given without --api-port they did nothing
NEEDS_API = {
    "server_ports": "servers on demand are made by POST /api/servers",
    "clock": "a manual clock moves only by POST /api/clock",
    "api_token": "it guards the API",
    "api_host": "the API's address",
}


def _check_needs_api(args: Args, env: Mapping[str, str], out: dict[str, Any]) -> None:
    """_ConfigError naming an API-only option (the flag, else its variable) given without the API.
    SMTPFAKE_API_TOKEN alone is no mistake: the clients (``show --remote``) read it too."""
    if out["api_port"] is not None:
        return
    for key, why in NEEDS_API.items():
        var = SERVE_ENV[key][0]
        if key == "clock" and out[key] != "manual":
            continue
        if getattr(args, key) is not None:
            given = "--" + key.replace("_", "-")
        elif env.get(var, "") != "" and key != "api_token":
            given = var
        else:
            continue
        raise _ConfigError(f"{given}: needs --api-port/SMTPFAKE_API_PORT ({why})")


def parse_ports(text: str) -> range:
    """``2600-2699`` (inclusive) or a single port: the SMTP ports for servers on demand."""
    low, dash, high = text.strip().partition("-")
    try:
        first, last = int(low), int(high if dash else low)
    except ValueError:
        raise ValueError(f"expected a port range like 2600-2699, got {text!r}") from None
    if not 1 <= first <= last <= 65535:
        raise ValueError(f"expected ports from 1 to 65535, low to high, got {text!r}")
    return range(first, last + 1)


def _serve(args: Args) -> int:
    import asyncio
    import io
    import signal

    from smtpfake.engine.clock import ManualClock
    from smtpfake.logging_observer import EventLog, LoggingJournal, dropped_line
    from smtpfake.scenario import ScenarioError
    from smtpfake.server import Server

    try:
        cfg = _serve_settings(args, os.environ)
    except _ConfigError as exc:
        return usage_problem("smtpfake serve", str(exc))
    if cfg["api_port"] is not None:
        try:
            from smtpfake.http import ApiServer
        except ImportError as exc:
            print(
                f"smtpfake serve: --api-port needs the sidecar extra ({exc}): install "
                "smtpfake with [sidecar], e.g. pip install '.[sidecar]' in a checkout",
                file=sys.stderr,
            )
            return 2
    # before the scenario is read: loading its YAML makes garbage, collected as usual
    _started(young=SERVE_YOUNG_COLLECTION)
    try:
        server = Server(
            cfg["scenario"],
            host=cfg["host"],
            port=cfg["port"],
            seed=cfg["seed"],
            scenario_dirs=cfg["scenario_dirs"],
            params=cfg["params"],
            clock=ManualClock() if cfg["clock"] == "manual" else None,
            idle_timeout=cfg["idle_timeout"],
            **{k: cfg[k] for k in ("grace_period", "stop_grace_period") if cfg[k] is not None},
            delivery=cfg["deliver"],
            journal_limits=JournalLimits(
                **{f.name: cfg[f"journal_{f.name}"] for f in dataclasses.fields(JournalLimits)}
            ),
        )
    except ScenarioError as exc:
        params_setting = "--param" if args.param else PARAMS_ENV
        return scenario_problems(
            exc, "smtpfake serve", "--scenario/SMTPFAKE_SCENARIO", params_setting
        )
    except ValueError as exc:  # --deliver names no back end
        return usage_problem("smtpfake serve", f"--deliver/SMTPFAKE_DELIVER: {exc}")

    if isinstance(sys.stdout, io.TextIOWrapper):
        # an ASCII-only console (LANG=C in a container) must not turn a log line into an error
        sys.stdout.reconfigure(errors="backslashreplace")
    stopping: list[Callable[[], None]] = []  # how to stop serving, once it runs

    def log_failed(_: OSError) -> None:
        # stdout cannot be written (its reader went away, a full disk): stop; raised below
        for stop_soon in stopping:
            stop_soon()

    # the event log writes in batches (EventLog: at most FLUSH_DELAY after a line is made), by
    # a thread of its own: a reader that does not keep up never holds the server up
    log = EventLog(sys.stdout, cfg["log_format"], on_failure=log_failed)

    def say(line: str) -> None:
        # serve's own lines go through the log too: in order with it, and never waited on
        log.write(line + "\n")
        log.flush()

    if not cfg["quiet"]:
        # before serving: every session event becomes a line
        server.journal = LoggingJournal(log, **server.journal.limits.keywords())

    def report(error: object) -> None:
        if not log.flush(wait=True) and _same_file(sys.stdout, sys.stderr):
            say(str(error))  # a pipe nobody reads: the log's thread writes it when it can
            return
        print(error, file=sys.stderr, flush=True)  # after the lines that led to it

    server.on_error = report

    api: ApiServer | None = None
    if cfg["api_port"] is not None:
        # the API publishes the journal's events: it takes the logging journal over
        api = ApiServer(
            server,
            host=cfg["api_host"],
            port=cfg["api_port"],
            token=cfg["api_token"],
            log=None if cfg["quiet"] else log,
            server_ports=cfg["server_ports"],
        )
        if not cfg["api_token"] and not api.guard_host:
            print(
                f"smtpfake: warning: the control API on {api.url} has no token; anyone who can "
                "reach it can read every message (set SMTPFAKE_API_TOKEN)",
                file=sys.stderr,
                flush=True,
            )

    listening = False  # past this point an OSError is not a failure to listen

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def stop_soon() -> None:
            if not loop.is_closed():  # from any thread, also once serving is over
                loop.call_soon_threadsafe(stop.set)

        stopping.append(stop_soon)
        if api is not None:
            try:
                await api.open()  # before SMTP listens, so /api/health can say 503 until it does
            except OSError as exc:
                bad = _not_an_address(exc, "--api-host/SMTPFAKE_API_HOST", cfg["api_host"])
                if bad:
                    raise _ConfigError(bad) from None
                where = f"{cfg['api_host']}:{cfg['api_port']}"
                raise _ApiListenError(
                    f"smtpfake: cannot listen for the API on {where}: {exc}"
                ) from None

        def ready() -> None:
            nonlocal listening
            listening = True
            log.flush()  # an API call's line made while SMTP was opening comes before this
            sc = server.scenario
            from smtpfake.wire import loops  # imported by now: it runs this loop

            on = loops.name(loop)  # --loop auto says here which loop it chose
            # a generated certificate's CA: what a client on this machine trusts to verify it
            tls = sc.server.tls
            ca = server.tls_ca_file if tls.enabled and tls.certificate is None else None
            if log.format == "json":
                say(
                    _json_line(
                        {
                            "event": "listening",
                            "version": __version__,
                            "loop": on,
                            "smtp": {"host": server.host, "port": server.port},
                            "api": api.url if api is not None else None,
                            "scenario": sc.name,
                            "source": sc.source,
                            "summary": sc.summary,
                            "tls_ca": ca,
                        }
                    )
                )
                return
            say(
                f"smtpfake {__version__} ({on}) listening on {server.host}:{server.port}, "
                f"playing '{sc.name}' ({sc.source}): {sc.summary}"
            )
            if api is not None:
                guarded = " (bearer token required)" if cfg["api_token"] else ""
                say(f"smtpfake: control API on {api.url}/api/{guarded}, the web page on {api.url}/")
            if ca is not None:
                fetch = " (or GET /api/tls/ca)" if api is not None else ""
                say(f"smtpfake: TLS certificates issued by the CA in {ca}{fetch}")

        try:
            await server.serve(stop, ready)
        finally:
            if api is not None:
                await api.aclose()

    try:
        from smtpfake.wire import loops

        try:
            loops.run(main(), cfg["loop"])
        finally:
            log.flush()  # every line, however serving ended, before the stop line or an error
    except _ApiListenError as exc:
        print(exc, file=sys.stderr)
        return 1
    except _ConfigError as exc:
        return usage_problem("smtpfake serve", str(exc))
    except OSError as exc:
        if listening:
            raise  # smtpfake's own failure while serving: loud, with its traceback
        bad = _not_an_address(exc, "--host/SMTPFAKE_HOST", cfg["host"])
        if bad:
            return usage_problem("smtpfake serve", bad)
        print(f"smtpfake: cannot listen on {cfg['host']}:{cfg['port']}: {exc}", file=sys.stderr)
        return 1
    if log.failure is not None:
        raise log.failure  # stdout went away while serving (main(): a closed pipe ends quietly)
    # what was served, even with --quiet (counted since start, or since the API's last reset)
    counts = server.journal.counts()
    sessions, messages = counts.sessions_started, counts.messages_accepted
    if log.format == "json":
        stopped = {"event": "stopped", "sessions": sessions, "messages": messages}
        say(_json_line(stopped))
    else:
        served = f"{sessions} session{'s' * (sessions != 1)}, "
        served += f"{messages} message{'s' * (messages != 1)} accepted"
        say(f"smtpfake: {served}")
        say("smtpfake: stopped")
    # a while at most (a pipe nobody reads), then what never reached stdout is said on stderr
    written = log.flush(wait=True)
    if log.dropped + log.unwritten and (written or not _same_file(sys.stdout, sys.stderr)):
        print(dropped_line(log.dropped + log.unwritten), file=sys.stderr, flush=True)
    return 0


def _same_file(one: TextIO, other: TextIO) -> bool:
    """Whether two streams write to the same file (``2>&1``): a pipe stdout is stuck on
    would hold up a write to stderr too."""
    try:
        return os.path.sameopenfile(one.fileno(), other.fileno())
    except (AttributeError, OSError, ValueError):
        return False


def _list(args: Args) -> int:
    from smtpfake.scenario import ScenarioError, load_file, scenario_files
    from smtpfake.scenario.params import text_of

    files = scenario_files(args.scenario_dir)
    status = 0
    width = max((len(n) for n in files), default=0)
    for name, path in sorted(files.items()):
        try:
            sc = load_file(path)
            summary = sc.summary
            if sc.params:
                summary += (
                    " [params: "
                    + ", ".join(f"{p.name}={text_of(p.value)}" for p in sc.params)
                    + "]"
                )
        except ScenarioError as exc:
            summary = f"(invalid: {exc.problems[0]})"
            status = 1
        print(f"{name.ljust(width)}  {summary}")
    return status


def _validate(args: Args) -> int:
    from smtpfake.scenario import ScenarioError, load_file

    status = 0
    for path in args.files:
        try:
            load_file(path)
        except ScenarioError as exc:
            print(exc)  # one line per problem, then "... and N more problems" past the cap
            status = 1
        else:
            print(f"{path}: ok")
    return status


def _explain(args: Args) -> int:
    from smtpfake.explain import ExplainError, explain

    try:
        print(explain(args.codes, lang=args.lang))
    except ExplainError as exc:
        return usage_problem("smtpfake explain", str(exc))
    return 0


def _show(args: Args) -> int:
    """The scenario (NAME, or with --remote alone the sidecar's scenario in force), then with
    --journal or --remote each rule's hits and near misses over the sessions recorded."""
    from smtpfake.journal import rules_report
    from smtpfake.scenario import ScenarioError, resolve

    if args.scenario is None and args.remote is None:
        return usage_problem(
            "smtpfake show", "name a scenario (NAME or PATH), or give --remote URL"
        )
    if args.journal is not None and args.remote is not None:
        return usage_problem("smtpfake show", "--journal and --remote are two sources; give one")
    token = args.api_token or os.environ.get("SMTPFAKE_API_TOKEN") or None
    if token is not None and args.remote is not None:
        from smtpfake.bearer_token import clean

        try:
            token = clean(token)
        except ValueError as exc:
            return usage_problem("smtpfake show", f"--api-token/SMTPFAKE_API_TOKEN: {exc}")
    failures: tuple[type[Exception], ...] = (OSError, ValueError)
    if args.remote is not None:  # the HTTP client is imported only when it is used
        from smtpfake.remote import RemoteError

        failures += (RemoteError,)
    sessions = None
    try:
        if args.scenario is not None:
            sc = resolve(args.scenario, args.scenario_dir, dict(args.param))
            text, labels = show_text(sc), [rule.label for rule in sc.rules]
        if args.remote is not None:
            try:
                remote = _remote(args.remote, token)
            except ValueError as exc:  # not a URL: the option's mistake, not the sidecar's
                return usage_problem("smtpfake show", f"--remote: {exc}")
            remote.health()  # NotASidecar from another JSON API, before its answers are read
            if args.scenario is None:
                body = remote.scenario
                text, labels = str(body["show"]), [str(r["label"]) for r in body["rules"]]
            sessions, source = _remote_sessions(remote), f"{remote.url}{remote.prefix}/sessions"
        elif args.journal is not None:
            try:
                sessions = _journal_sessions(args.journal)
            except OSError as exc:  # the file named: worded as a scenario file's (validate's)
                said = f"--journal: {args.journal}: cannot read: {exc.strerror or exc}"
                return usage_problem("smtpfake show", said)
            except ValueError as exc:  # read, but no journal: the option's mistake as well
                return usage_problem("smtpfake show", f"--journal: {exc}")
            source = "standard input" if args.journal == "-" else args.journal
    except ScenarioError as exc:
        return scenario_problems(exc, "smtpfake show", "")
    except failures as exc:
        if getattr(exc, "status", None) in (401, 403):  # the token: the option that gives it
            return usage_problem("smtpfake show", f"--api-token/SMTPFAKE_API_TOKEN: {exc}")
        print(f"smtpfake show: {exc}", file=sys.stderr)
        return 2
    print(text)
    if sessions is not None:
        from smtpfake.visible import visible

        print(f"rule hits and near misses in {len(sessions)} session(s) from {source}:")
        lines = rules_report(labels, sessions, "the session JSON's near_misses")
        for line in lines:
            print(f"  {visible(line)}")  # a near miss quotes what the client sent
        if not lines:  # not a header over nothing, as if the report were cut off
            print("  none: the scenario has no rules, and no rule shaped these sessions")
    return 0


def scenario_problems(
    exc: ScenarioError, prog: str, setting: str, params_setting: str = "--param"
) -> int:
    """``exc`` on stderr, one problem a line, ``file:line:col: ...``; a problem that points into
    no file (a scenario name that resolves to nothing, a file that cannot be read) is a usage
    error of ``setting`` (the option, or ``""`` for the NAME argument) instead, worded as the
    pytest plugin words it: ``--scenario/SMTPFAKE_SCENARIO: a.yaml: cannot read: ...``. So are
    parameter values the scenario does not take (ParamsError), told as ``params_setting``'s
    (``--param x=1: ...``): the mistake is on the command line, not in the (maybe installed)
    file. Returns exit status 2."""
    from pathlib import Path

    from smtpfake.scenario.errors import ParamsError

    if isinstance(exc, ParamsError):
        return usage_problem(prog, "; ".join(f"{params_setting} {s}" for s in exc.settings))
    if len(exc.problems) == 1 and not Path(exc.problems[0].location.file).is_file():
        said = f"{setting}: " if setting else ""
        return usage_problem(prog, said + str(exc.problems[0]))  # a name's has no file
    print(exc, file=sys.stderr)
    return 2


def _remote(url: str, token: str | None) -> RemoteSmtpFake:
    from smtpfake.remote import RemoteSmtpFake

    return RemoteSmtpFake(url, token)


def _for_rules(item: Any) -> SessionRecord:
    """A session of the API's JSON as ``show`` reads it, for its rule outcomes: without its
    messages, which the API lists as summaries (their data is at /api/messages/{id}/raw), and
    ``session_to_json`` whole. TypeError for a value that is not an object."""
    from smtpfake.serialize import session_from_json

    return session_from_json({**item, "messages": []})


def _remote_sessions(remote: RemoteSmtpFake) -> list[SessionRecord]:
    """Every session the sidecar keeps, page by page (GET /api/sessions?offset=N)."""
    return [_for_rules(s) for s in remote.listed("sessions")]


def _journal_sessions(path: str) -> list[SessionRecord]:
    """The sessions in a JSON file (``-``: standard input): the body of GET /api/sessions
    (``{"sessions": [...]}``), a list of sessions, or one session, each as the API writes it
    (smtpfake.serialize.session_to_json). ValueError naming the file for anything else."""
    from smtpfake.scenario.limits import LimitError, loads_json

    if path == "-":
        raw = sys.stdin.buffer.read()
    else:
        with open(path, "rb") as f:
            raw = f.read()
    try:
        data = loads_json(raw)
    except (LimitError, ValueError) as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    if isinstance(data, dict) and "sessions" in data:
        data = data["sessions"]
    elif isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected sessions as GET /api/sessions gives them")
    sessions = []
    for number, item in enumerate(data, 1):
        try:
            sessions.append(_for_rules(item))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # what is wrong in the user's words, not the name of the exception it raised
            if not isinstance(item, dict):
                kinds = {bool: "boolean", int: "number", float: "number", str: "string"}
                why = f"a JSON {kinds.get(type(item), 'array' if item else 'null')}, not an object"
            elif isinstance(exc, KeyError):
                why = f"it has no {exc.args[0]!r}"
            else:
                why = str(exc)
            raise ValueError(
                f"{path}: session {number} is not a session as GET /api/sessions gives it ({why})"
            ) from None
    return sessions


def show_text(sc: Scenario) -> str:
    """What ``smtpfake show`` prints for a scenario (the sidecar's page shows it too)."""
    import dataclasses

    from smtpfake.scenario.model import ServerSettings

    lines = [f"{sc.name} ({sc.source})", f"  summary: {sc.summary}", f"  expect:  {sc.expect}"]
    if sc.seed is not None:
        lines.append(f"  seed: {sc.seed}")
    lines += [f"  param {_show_param(param)}" for param in sc.params]
    defaults = ServerSettings()
    for f in dataclasses.fields(ServerSettings):
        value = getattr(sc.server, f.name)
        if value != getattr(defaults, f.name):
            lines.append(f"  server.{f.name}: {_show_value(value)}")
    lines += [f"  {rule.label}: {_show_rule(rule)}" for rule in sc.rules]
    return "\n".join(lines)


def _show_param(param: Param) -> str:
    """``delay = 5 (duration, default 300, 1..86400): what it sets``"""
    from smtpfake.scenario.params import text_of

    extra = [param.type]
    if param.is_set:
        extra.append(f"default {text_of(param.default)}")
    low, high = param.minimum, param.maximum
    if low is not None and high is not None:
        extra.append(f"{text_of(low)}..{text_of(high)}")
    elif low is not None or high is not None:
        extra.append(f">= {text_of(low)}" if low is not None else f"<= {text_of(high)}")
    doc = f": {param.doc}" if param.doc else ""
    return f"{param.name} = {text_of(param.value)} ({', '.join(extra)}){doc}"


def _show_value(value: Any) -> str:
    """A setting or parameter as it would be written in YAML flow style."""
    import dataclasses

    import yaml

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [f for f in dataclasses.fields(value) if f.compare]  # not where it was written
        value = {f.name: getattr(value, f.name) for f in fields}
    if isinstance(value, tuple):
        value = [_plain_tuple(v) for v in value]
    text = yaml.dump(
        value, Dumper=_show_dumper(), default_flow_style=True, sort_keys=False, width=10_000
    )
    return text.strip().removesuffix("...").strip()


def _show_dumper() -> Any:
    """PyYAML's safe dumper, writing a string that holds a line break or another unprintable
    character double-quoted with escapes (``"250 lf\\n"``): PyYAML would fold it over several
    lines, and ``show`` gives one line per rule."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def string(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
        style = None if data.isprintable() else '"'
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    Dumper.add_representer(str, string)
    return Dumper


def _plain_tuple(value: Any) -> Any:
    return [_plain_tuple(v) for v in value] if isinstance(value, tuple) else value


def _show_rule(rule: Rule) -> str:
    """``on STAGE, CONDITION VALUE...: FAULT PARAMETERS; ...`` with the conditions that are set."""
    import dataclasses
    from typing import cast

    from smtpfake.scenario.faults.reply import ReplyWith
    from smtpfake.scenario.rule_reader import RULE_KEYS

    parts = [f"on {','.join(sorted(s.value for s in rule.stages))}"]
    for key in RULE_KEYS:
        if key in ("on", "name"):
            continue
        value = getattr(rule, key)
        if value is None:
            continue
        if isinstance(value, tuple):
            value = ("+" if key == "per" else ",").join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, float):
            value = f"{value:g}"
        parts.append(f"{key} {value}")
    faults = []
    for fault in rule.faults:
        if isinstance(fault, ReplyWith):
            lines = fault.as_reply().render().decode(errors="replace").splitlines()
            faults.append("reply " + " | ".join(lines))  # one line, as the log shows replies
            continue
        fields = dataclasses.fields(cast("DataclassInstance", fault))  # every fault is one
        params = {
            f.name: getattr(fault, f.name) for f in fields if getattr(fault, f.name) != f.default
        }
        faults.append(f"{fault.name} {_show_value(params)}" if params else fault.name)
    return ", ".join(parts) + (": " + "; ".join(faults) if faults else "")


def _assignment(text: str) -> tuple[str, str]:
    from smtpfake.scenario.params import parse_assignment

    try:
        return parse_assignment(text)
    except ValueError as exc:
        import argparse  # only for its error: see parse()

        raise argparse.ArgumentTypeError(str(exc)) from None


def _param_option(parser: Any, after: str = "") -> None:
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        type=_assignment,
        metavar="NAME=VALUE",
        help=f"set one of the scenario's parameters (repeatable), e.g. --param delay=5m{after}",
    )


def _directory(text: str) -> str:
    """A ``--scenario-dir`` that exists: a misspelt one would add nothing, silently."""
    if not os.path.isdir(text):
        import argparse  # only for its error: see parse()

        raise argparse.ArgumentTypeError(f"{text!r} is not a directory")
    return text


def _add_serve(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the fake SMTP server (and its HTTP control API with --api-port)",
        description="Every option can also be set in the environment variable named in its help "
        "(a flag wins); --scenario-dir as SMTPFAKE_SCENARIO_DIRS, separated by "
        f"'{os.pathsep}'.",
    )
    scenario_dir_option(serve)
    # defaults are None here: _serve_settings fills them from the environment, then the default
    serve.add_argument(
        "--scenario", help="built-in name or YAML path (SMTPFAKE_SCENARIO; default: default)"
    )
    serve.add_argument("--host", help="SMTP address to bind (SMTPFAKE_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="SMTP port (SMTPFAKE_PORT; default 2525)")
    serve.add_argument(
        "--seed",
        type=int,
        help="seed for every random choice (SMTPFAKE_SEED; default: the scenario's own seed:, "
        "else 0)",
    )
    _param_option(serve, f" ({PARAMS_ENV}, assignments separated by spaces)")
    serve.add_argument(
        "--clock",
        choices=("system", "manual"),
        help="the server's clock: system time, or manual (stands still until moved by "
        "POST /api/clock; rule windows, greylisting and retry_after follow it) (SMTPFAKE_CLOCK; "
        "default system)",
    )
    serve.add_argument(
        "--idle-timeout",
        type=duration_flag,
        metavar="SECONDS",
        help="the server's own idle timeout: a connection silent this long (seconds, or 5m, "
        "1h, ...; at most a day) is closed without a reply (SMTPFAKE_IDLE_TIMEOUT; default 300); "
        "a scenario's server.idle_timeout and "
        "idle_close choose a 421 or a reset instead",
    )
    serve.add_argument(
        "--grace-period",
        type=duration_flag,
        metavar="SECONDS",
        help="after its last reply (221, a 421, a close fault) the server keeps reading this "
        "long, recording what the client still sends (sent-after-close); it ends at the "
        "client's close (SMTPFAKE_GRACE_PERIOD; default 1; 0: close at once)",
    )
    serve.add_argument(
        "--stop-grace-period",
        type=duration_flag,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT each open session gets a 421 and at most this long of grace "
        "period before it is dropped (SMTPFAKE_STOP_GRACE_PERIOD; default 0.25; 0: at once)",
    )
    serve.add_argument(
        "--api-port", type=int, help="serve the HTTP control API on this port (SMTPFAKE_API_PORT)"
    )
    serve.add_argument(
        "--api-host", help="address the API binds (SMTPFAKE_API_HOST; default 127.0.0.1)"
    )
    serve.add_argument(
        "--server-ports",
        help="SMTP ports for servers on demand (POST /api/servers), e.g. 2600-2699 "
        "(SMTPFAKE_SERVER_PORTS; default: any free port)",
    )
    serve.add_argument(
        "--api-token",
        help="require 'Authorization: Bearer TOKEN' on the API (SMTPFAKE_API_TOKEN, which "
        "keeps it out of the process list)",
    )
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="session events on stdout as text or JSON lines (SMTPFAKE_LOG_FORMAT; default text)",
    )
    serve.add_argument(
        "--quiet",
        action=NEGATABLE,
        help="no line per session event: only where it listens, errors and the stop (for load "
        "tests; the journal and the API keep everything) (SMTPFAKE_QUIET=1)",
    )
    serve.add_argument(
        "--deliver",
        metavar="BACKEND",
        help="also deliver accepted mail: maildir:PATH (a Maildir) or proxy:HOST:PORT (relay to a "
        "real server) (SMTPFAKE_DELIVER)",
    )
    serve.add_argument(
        "--loop",
        choices=LOOP_CHOICES,
        help="event loop: uvloop when installed (auto), or force asyncio or uvloop "
        "(SMTPFAKE_LOOP; default auto)",
    )
    for f in dataclasses.fields(JournalLimits):
        serve.add_argument(
            f"--journal-{f.name.replace('_', '-')}",
            dest=f"journal_{f.name}",
            type=int,
            metavar="N",
            help=f"the journal keeps at most N {f.metadata['doc']} "
            f"(SMTPFAKE_JOURNAL_{f.name.upper()}; default {f.default})",
        )
    serve.set_defaults(func=_serve)


def _add_list(sub: Any) -> None:
    lst = sub.add_parser(
        "list",
        help="list scenarios with their summaries",
        description="List the built-in scenarios and those in --scenario-dir, each with its "
        "summary and the values of its parameters.",
    )
    scenario_dir_option(lst)
    lst.set_defaults(func=_list)


def _add_show(sub: Any) -> None:
    show = sub.add_parser(
        "show",
        help="show one scenario's rules; with --journal or --remote, each rule's hits and near "
        "misses",
        description="Print one scenario: its summary, expectation, seed, parameters, the server "
        "settings that differ from the defaults and a line per rule. With --journal or --remote, "
        "then each rule's hits and near misses over those sessions.",
    )
    scenario_dir_option(show)
    show.add_argument(
        "scenario",
        nargs="?",
        help="built-in name or YAML path (with --remote: default the sidecar's scenario in force)",
    )
    _param_option(show)
    show.add_argument(
        "--journal",
        metavar="FILE",
        help="sessions saved as JSON (GET /api/sessions, or session_to_json of each; - for "
        "stdin): print each rule's hits and near misses in them",
    )
    show.add_argument(
        "--remote",
        metavar="URL",
        help="a running sidecar's API (http://127.0.0.1:8025): print each rule's hits and near "
        "misses in its sessions",
    )
    show.add_argument("--api-token", help="the sidecar's API token (SMTPFAKE_API_TOKEN)")
    show.set_defaults(func=_show)


def _add_validate(sub: Any) -> None:
    validate = sub.add_parser(
        "validate",
        help="check scenario files; file:line:col per problem",
        description="Check scenario files: exit 0 when every one is valid; otherwise each "
        "problem on a line of its own, file:line:col: message, and exit 1.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="a scenario (YAML) file")
    validate.set_defaults(func=_validate)


def _add_explain(sub: Any) -> None:
    explain = sub.add_parser(
        "explain",
        help="what SMTP reply codes (421) and enhanced status codes (5.7.1) mean and what a "
        "client does; several side by side",
        description="What SMTP reply codes (421) and enhanced status codes (5.7.1) mean, when "
        "servers send them and what a client should do; two or more side by side.",
    )
    explain.add_argument(
        "codes",
        nargs="+",
        metavar="CODE",
        help="a reply code (421), an enhanced status code (5.7.1), or a line pasted from a "
        "log or a bounce ('550 5.1.1 No such user', '... said: 451 4.7.1 Greylisted ...': "
        "the reply code where a reply stands, as at the line's start or after 'said:', and "
        "the enhanced code after it; a delay or a version elsewhere is no code)",
    )
    explain.add_argument(
        "--lang", choices=("en", "zh"), default="en", help="language of the text (default: en)"
    )
    explain.set_defaults(func=_explain)


def _add_probe(sub: Any) -> None:
    from smtpfake.cli_parser import scenario_dir_parent
    from smtpfake.probe.command import add_parser as add_probe  # argparse only; the rest lazily

    probe = add_probe(sub, scenario_dir_parent())
    # set in every selected case that declares it; a name none declares is an error
    _param_option(probe, "; every selected case that declares it gets it")


def usage_problem(prog: str, message: str) -> int:
    """A mistake on the command line, told in two lines on stderr - ``PROG: error: MESSAGE``
    and where the options are (``PROG --help``); returns exit status 2, as argparse's own. Its
    usage block (some 20 lines for serve) would push the one line that matters out of sight;
    git, cargo and ripgrep answer a bad flag this way too. For the checks argparse cannot make
    (a port out of range, a setting from the environment, a scenario name that names none)."""
    sys.stderr.write(f"{prog}: error: {message}\nFor more information, try '{prog} --help'.\n")
    return 2


def usage_error(prog: str, message: str) -> NoReturn:
    """:func:`usage_problem`, then exit."""
    sys.exit(usage_problem(prog, message))


#: subcommand -> what adds its parser to ``smtpfake``'s subparsers (or to
#: :class:`~smtpfake.cli_parser._OneCommand`, or to :class:`~smtpfake.plain_args.Options`),
#: in the order ``smtpfake --help`` lists them
COMMANDS: dict[str, Callable[[Any], None]] = {
    "serve": _add_serve,
    "list": _add_list,
    "show": _add_show,
    "validate": _add_validate,
    "explain": _add_explain,
    "probe": _add_probe,
}


def scenario_dir_option(parser: Any) -> None:
    """``--scenario-dir``, for the commands that load scenarios by name, on ``parser`` (an
    argparse parser, or :class:`~smtpfake.plain_args.Options`). Added to each (a parent parser
    would cost a parser more at start-up: see :class:`~smtpfake.cli_parser._OneCommand`)."""
    parser.add_argument(
        "--scenario-dir",
        action="append",
        default=[],
        metavar="DIR",
        type=_directory,
        help="also load scenarios (*.yaml) from DIR; repeatable",
    )


#: the commands whose adders add only long options (no positionals, groups or parents): their
#: command lines are read without argparse when plain (:func:`parse`)
READ_PLAIN = ("serve", "list")


def parse(argv: Sequence[str]) -> Args:
    """The command line parsed by its subcommand's parser alone; a misspelt command or none
    are told by the whole parser (its message names every command). Exits after printing help
    or a usage error (:func:`usage_error`), as ``parse_args`` does. A :data:`READ_PLAIN`
    command's plain options (``--name VALUE``, see :mod:`smtpfake.plain_args`) are read from its
    adder's options without argparse (start-up time); any other word goes to argparse, which
    answers as always."""
    # the subcommand comes first: the top level's own options (--help, --version) only print
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    if chosen in READ_PLAIN:
        options = Options()
        COMMANDS[chosen](options)
        plain = read_plain(options, argv[1:])
        if plain is not None:
            return plain
    from smtpfake.cli_parser import build_parser

    if chosen is None:
        return build_parser().parse_args(argv)
    args, extra = build_parser(chosen).parse_known_args(argv[1:])
    if extra:
        # told by the command it was given to (argparse's parse_args names the top level)
        usage_error(f"smtpfake {chosen}", f"unrecognized arguments: {' '.join(extra)}")
    return args


#: True while :func:`program` holds Python's cyclic garbage collector off (see there)
_holding_collector = False
#: serve's threshold for the collector's youngest generation (objects made, less those freed,
#: between two passes; CPython's default: 700). At 700 the objects of the sessions under way (a
#: few hundred each) are caught by most passes, traversed and moved to the older generations,
#: traversed again there; at 5,000 most have died by the next pass. Under smtp-source (-s 10)
#: 1.4% fewer instructions a message (bench/serve_instructions.py; 20,000 gave no more), idle
#: memory the same (bench/idle_memory.py). Cyclic garbage waits longer: a few hundred KiB.
SERVE_YOUNG_COLLECTION = 5000


def program(held: bool = False) -> int:
    """``smtpfake`` as its own process (the console script, ``python -m smtpfake``): :func:`main`
    with the cyclic garbage collector held off while it starts. Start-up makes tens of thousands
    of objects that live as long as the process (modules, classes, functions: some 30,000 for
    serve) and next to no garbage, so the collector's passes over them are wasted: about 3.5 ms
    of serve's start (some 40 passes, CPython 3.11). :func:`_started` ends the hold. Only the
    process's own entry point does this: the collector is the whole process's, and :func:`main`
    is also called in-process. ``held``: the collector was running and the caller turned it off
    for this (:mod:`smtpfake.entry`, before importing this module)."""
    global _holding_collector
    if held or gc.isenabled():
        gc.disable()
        _holding_collector = True
    try:
        return main()
    finally:
        _started()


def _started(young: int | None = None) -> None:
    """The end of start-up (serve: once its modules are loaded; every other command: once its
    command line is read): what was made so far is frozen out of the collector's passes
    (``gc.freeze``: it lives as long as the process) and the collector runs again, with
    ``young`` as its youngest generation's threshold when given. Nothing when :func:`program`
    did not hold it (the collector is the whole process's: main() in a test's process leaves
    it as it is)."""
    global _holding_collector
    if _holding_collector:
        _holding_collector = False
        gc.freeze()
        if young is not None:
            gc.set_threshold(young, *gc.get_threshold()[1:])
        gc.enable()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.func is not _serve:
        _started()  # serve ends its start-up itself, later
    try:
        status: int = args.func(args)
    except BrokenPipeError:
        # the reader went away (`smtpfake list | head`): stop quietly, as other tools do; point
        # stdout at devnull so the interpreter's final flush does not fail on the pipe again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
