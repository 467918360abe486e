"""The ``smtpfake`` command: serve, list, validate, explain."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import io
import json
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import yaml

from smtpfake import __version__
from smtpfake.scenario import ScenarioError, load_file, resolve, scenario_files
from smtpfake.scenario.faults.reply import ReplyWith
from smtpfake.scenario.model import Rule, ServerSettings
from smtpfake.scenario.rule_reader import RULE_KEYS

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

#: serve option -> (environment variable, type, default); a flag on the command line wins
SERVE_ENV: dict[str, tuple[str, type, object]] = {
    "scenario": ("SMTPFAKE_SCENARIO", str, "default"),
    "host": ("SMTPFAKE_HOST", str, "127.0.0.1"),
    "port": ("SMTPFAKE_PORT", int, 2525),
    "seed": ("SMTPFAKE_SEED", int, None),  # None: the scenario's own seed, else 0
    "api_host": ("SMTPFAKE_API_HOST", str, "127.0.0.1"),
    "api_port": ("SMTPFAKE_API_PORT", int, None),
    "api_token": ("SMTPFAKE_API_TOKEN", str, None),
    "log_format": ("SMTPFAKE_LOG_FORMAT", str, "text"),
}
SCENARIO_DIRS_ENV = "SMTPFAKE_SCENARIO_DIRS"


def _stamp() -> dict[str, Any]:
    """``time`` and ``ts``, as on every other JSON log line (logging_observer.EventLog)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        "time": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "ts": now.timestamp(),
    }


class _ConfigError(Exception):
    pass


def _serve_settings(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, Any]:
    """Each serve option from its flag, else its environment variable, else its default."""
    out: dict[str, Any] = {}
    for key, (var, kind, default) in SERVE_ENV.items():
        value = getattr(args, key)
        if value is None and env.get(var, "") != "":
            text = env[var]
            try:
                value = kind(text)
            except ValueError:
                raise _ConfigError(f"{var}={text!r}: expected a whole number") from None
        out[key] = default if value is None else value
    for key in ("port", "api_port"):
        port = out[key]
        if port is not None and not 0 <= port <= 65535:
            flag = "--" + key.replace("_", "-")
            raise _ConfigError(f"{flag}/{SERVE_ENV[key][0]}: {port} is not a port (0-65535)")
    if out["log_format"] not in ("text", "json"):
        raise _ConfigError(
            f"--log-format/SMTPFAKE_LOG_FORMAT: {out['log_format']!r} is not text or json"
        )
    dirs = args.scenario_dir or [d for d in env.get(SCENARIO_DIRS_ENV, "").split(os.pathsep) if d]
    out["scenario_dirs"] = dirs
    return out


def _serve(args: argparse.Namespace) -> int:
    from smtpfake.http_api import ApiServer
    from smtpfake.logging_observer import EventLog, LoggingJournal
    from smtpfake.server import Server

    try:
        cfg = _serve_settings(args, os.environ)
    except _ConfigError as exc:
        print(f"smtpfake serve: {exc}", file=sys.stderr)
        return 2
    try:
        server = Server(
            cfg["scenario"],
            host=cfg["host"],
            port=cfg["port"],
            seed=cfg["seed"],
            scenario_dirs=cfg["scenario_dirs"],
        )
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2

    if isinstance(sys.stdout, io.TextIOWrapper):
        # an ASCII-only console (LANG=C in a container) must not turn a log line into an error
        sys.stdout.reconfigure(errors="backslashreplace")
    log = EventLog(sys.stdout, cfg["log_format"])
    server.journal = LoggingJournal(log)  # before serving: every session event becomes a line

    def report(error: object) -> None:
        print(error, file=sys.stderr, flush=True)

    server.on_error = report

    api: ApiServer | None = None
    if cfg["api_port"] is not None:
        api = ApiServer(
            server, host=cfg["api_host"], port=cfg["api_port"], token=cfg["api_token"], log=log
        )
        try:
            api.start()  # before SMTP listens, so /api/health can say 503 until it does
        except OSError as exc:
            where = f"{cfg['api_host']}:{cfg['api_port']}"
            print(f"smtpfake: cannot listen for the API on {where}: {exc}", file=sys.stderr)
            return 1
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

        def ready() -> None:
            nonlocal listening
            listening = True
            sc = server.scenario
            # a generated certificate's CA: what a client on this machine trusts to verify it
            tls = sc.server.tls
            ca = server.tls_ca_file if tls.enabled and tls.certificate is None else None
            if log.format == "json":
                print(
                    json.dumps(
                        {
                            **_stamp(),
                            "event": "listening",
                            "version": __version__,
                            "smtp": {"host": server.host, "port": server.port},
                            "api": api.url if api is not None else None,
                            "scenario": sc.name,
                            "source": sc.source,
                            "summary": sc.summary,
                            "tls_ca": ca,
                        }
                    ),
                    flush=True,
                )
                return
            print(
                f"smtpfake {__version__} listening on {server.host}:{server.port}, "
                f"playing '{sc.name}' ({sc.source}): {sc.summary}",
                flush=True,
            )
            if api is not None:
                guarded = " (bearer token required)" if cfg["api_token"] else ""
                print(f"smtpfake: control API on {api.url}/api/{guarded}", flush=True)
            if ca is not None:
                fetch = " (or GET /api/tls/ca)" if api is not None else ""
                print(f"smtpfake: TLS certificates issued by the CA in {ca}{fetch}", flush=True)

        await server.serve(stop, ready)

    try:
        asyncio.run(main())
    except OSError as exc:
        if listening:
            raise  # smtpfake's own failure while serving: loud, with its traceback
        print(f"smtpfake: cannot listen on {cfg['host']}:{cfg['port']}: {exc}", file=sys.stderr)
        return 1
    finally:
        if api is not None:
            api.stop()
    if log.format == "json":
        print(json.dumps({**_stamp(), "event": "stopped"}), flush=True)
    else:
        print("smtpfake: stopped", flush=True)
    return 0


def _list(args: argparse.Namespace) -> int:
    files = scenario_files(args.scenario_dir)
    status = 0
    width = max((len(n) for n in files), default=0)
    for name, path in sorted(files.items()):
        try:
            summary = load_file(path).summary
        except ScenarioError as exc:
            summary = f"(invalid: {exc.problems[0]})"
            status = 1
        print(f"{name.ljust(width)}  {summary}")
    return status


def _validate(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            load_file(path)
        except ScenarioError as exc:
            for problem in exc.problems:
                print(problem)
            status = 1
        else:
            print(f"{path}: ok")
    return status


def _explain(args: argparse.Namespace) -> int:
    from smtpfake.explain import ExplainError, explain

    try:
        print(explain(args.codes))
    except ExplainError as exc:
        print(f"smtpfake explain: {exc}", file=sys.stderr)
        return 2
    return 0


def _show(args: argparse.Namespace) -> int:
    try:
        sc = resolve(args.scenario, args.scenario_dir)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{sc.name} ({sc.source})\n  summary: {sc.summary}\n  expect:  {sc.expect}")
    if sc.seed is not None:
        print(f"  seed: {sc.seed}")
    defaults = ServerSettings()
    for f in dataclasses.fields(ServerSettings):
        value = getattr(sc.server, f.name)
        if value != getattr(defaults, f.name):
            print(f"  server.{f.name}: {_show_value(value)}")
    for rule in sc.rules:
        print(f"  {rule.label}: {_show_rule(rule)}")
    return 0


def _show_value(value: Any) -> str:
    """A setting or parameter as it would be written in YAML flow style."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [f for f in dataclasses.fields(value) if f.compare]  # not where it was written
        value = {f.name: getattr(value, f.name) for f in fields}
    if isinstance(value, tuple):
        value = [_plain_tuple(v) for v in value]
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000)
    return text.strip().removesuffix("...").strip()


def _plain_tuple(value: Any) -> Any:
    return [_plain_tuple(v) for v in value] if isinstance(value, tuple) else value


def _show_rule(rule: Rule) -> str:
    """``on STAGE, CONDITION VALUE...: FAULT PARAMETERS; ...`` with the conditions that are set."""
    parts = [f"on {','.join(sorted(s.value for s in rule.stages))}"]
    for key in RULE_KEYS:
        if key in ("on", "name"):
            continue
        value = getattr(rule, key)
        if value is None:
            continue
        if isinstance(value, tuple):
            value = ("+" if key == "per" else ",").join(str(v) for v in value)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smtpfake", description=__doc__)
    parser.add_argument("--version", action="version", version=f"smtpfake {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    dirs = argparse.ArgumentParser(add_help=False)
    dirs.add_argument(
        "--scenario-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="also load scenarios (*.yaml) from DIR; repeatable",
    )

    serve = sub.add_parser(
        "serve",
        parents=[dirs],
        help="run the fake SMTP server (and its HTTP control API with --api-port)",
        description="Every option can also be set in the environment variable named in its help "
        "(a flag wins); --scenario-dir as SMTPFAKE_SCENARIO_DIRS, separated by "
        f"'{os.pathsep}'.",
    )
    # defaults are None here: _serve_settings fills them from the environment, then the default
    serve.add_argument(
        "--scenario", help="built-in name or YAML path (SMTPFAKE_SCENARIO; default: default)"
    )
    serve.add_argument("--host", help="SMTP address to bind (SMTPFAKE_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="SMTP port (SMTPFAKE_PORT; default 2525)")
    serve.add_argument("--seed", type=int, help="seed for every random choice (SMTPFAKE_SEED)")
    serve.add_argument(
        "--api-port", type=int, help="serve the HTTP control API on this port (SMTPFAKE_API_PORT)"
    )
    serve.add_argument(
        "--api-host", help="address the API binds (SMTPFAKE_API_HOST; default 127.0.0.1)"
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
    serve.set_defaults(func=_serve)

    lst = sub.add_parser("list", parents=[dirs], help="list scenarios with their summaries")
    lst.set_defaults(func=_list)

    show = sub.add_parser("show", parents=[dirs], help="show one scenario's rules")
    show.add_argument("scenario")
    show.set_defaults(func=_show)

    validate = sub.add_parser("validate", help="check scenario files; file:line:col per problem")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(func=_validate)

    explain = sub.add_parser("explain", help="what SMTP reply codes mean and what a client does")
    explain.add_argument("codes", nargs="+", metavar="CODE")
    explain.set_defaults(func=_explain)

    from smtpfake.probe.command import add_parser as add_probe  # argparse only; the rest lazily

    add_probe(sub, dirs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
