"""The ``smtpfake`` command: serve, list, validate, explain."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from smtpfake import __version__
from smtpfake.scenario import ScenarioError, load_file, resolve, scenario_files


def _serve(args: argparse.Namespace) -> int:
    from smtpfake.server import Server

    try:
        server = Server(
            args.scenario,
            host=args.host,
            port=args.port,
            seed=args.seed,
            scenario_dirs=args.scenario_dir,
        )
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2

    def report(error: object) -> None:
        print(error, file=sys.stderr, flush=True)

    server.on_error = report

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def ready() -> None:
            sc = server.scenario
            print(
                f"smtpfake {__version__} listening on {server.host}:{server.port}, "
                f"playing '{sc.name}' ({sc.source}): {sc.summary}",
                flush=True,
            )

        await server.serve(stop, ready)

    try:
        asyncio.run(main())
    except OSError as exc:
        print(f"smtpfake: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
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
    for rule in sc.rules:
        faults = ", ".join(type(f).__name__ for f in rule.faults)
        print(f"  {rule.label}: {faults}")
    return 0


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

    serve = sub.add_parser("serve", parents=[dirs], help="run the fake SMTP server")
    serve.add_argument("--scenario", default="default", help="built-in name or YAML path")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=2525, help="SMTP port (default 2525)")
    serve.add_argument("--seed", type=int, default=0, help="seed for every random choice")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
