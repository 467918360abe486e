"""``smtpfake probe [options] -- COMMAND [ARG...]``: the command line of the probe.

Only argparse at import time: ``smtpfake`` builds every subcommand's parser on each run, and
the probe's machinery (server, runner, reports) is imported when ``probe`` itself runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smtpfake.probe.cases import Case
    from smtpfake.probe.runner import CaseResult

DESCRIPTION = """\
Run COMMAND once per case, each against a fresh server on its own port, and judge what the
client did (from the server's record, and for a one-shot client from its exit status: by
default 0 delivered, 75 transient (EX_TEMPFAIL), anything else permanent).

The client learns where to connect and what to send from its environment - SMTP_HOST,
SMTP_PORT, SMTP_URL, SMTP_TLS (none/starttls/implicit), SMTP_CA_FILE, SMTP_USER,
SMTP_PASSWORD, SMTP_FROM, SMTP_TO (comma-separated), SMTP_MESSAGE_FILE, SMTP_CASE - and from
the same names as placeholders in its arguments: {host} {port} {url} {tls} {ca_file} {user}
{password} {from} {to} {message_file} {case}.

Exit status: 0 when no case failed (non-strict counts as passed), 1 when any case failed,
2 on a usage or scenario problem."""


def add_parser(sub: Any, dirs: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Register ``probe`` on the ``smtpfake`` subparsers ``sub`` (``dirs``: --scenario-dir);
    returns its parser (the CLI adds ``--param``, shared with serve and show)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "probe",
        parents=[dirs],
        help="run an SMTP client against every case and judge it (a conformance suite)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--case",
        action="append",
        default=[],
        metavar="NAME",
        help="run this case (a glob: '421-*'); repeatable; default: all",
    )
    p.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="run the cases with this tag; repeatable",
    )
    p.add_argument(
        "--skip-tag",
        action="append",
        default=[],
        metavar="TAG",
        help="leave out the cases with this tag (e.g. 'waits': slow on purpose)",
    )
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="FILE",
        help="also probe this scenario file (it needs checks:); repeatable",
    )
    p.add_argument("--list", action="store_true", help="list the selected cases and exit")
    p.add_argument(
        "-j", "--jobs", type=int, default=1, metavar="N", help="run N cases at a time (default 1)"
    )
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=30.0,
        metavar="S",
        help="stop a one-shot client after S seconds (or 2m, ...; at most a day; default 30)",
    )
    p.add_argument(
        "--retrying",
        action="store_true",
        help="the client is a queue or MTA that retries by itself: judge what it "
        "does within --budget instead of its exit status",
    )
    p.add_argument(
        "--budget",
        type=_seconds,
        default=None,
        metavar="S",
        help="seconds a retrying client gets per case (or 5m, ...; at most a day; default 30)",
    )
    p.add_argument(
        "--exit-codes",
        default="delivered=0,transient=75",
        metavar="MAP",
        help="exit statuses of a one-shot client: delivered=N[:N],transient=N[:N]; "
        "any other is permanent (default: delivered=0,transient=75)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address the servers bind")
    p.add_argument(
        "--port",
        type=int,
        default=0,
        help="serve every case on this port (one case at a time), for clients "
        "whose server address is fixed (an MTA's relayhost); default: a free port",
    )
    p.add_argument("--seed", type=int, help="seed for the scenarios' random choices")
    p.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    p.add_argument("--json", metavar="FILE", help="write a JSON report")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the summary line")
    p.add_argument("client", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARG...]")
    p.set_defaults(func=main)
    return p


def _seconds(text: str) -> float:
    """``--timeout``, ``--budget``: seconds or a duration (``90``, ``2m``), as serve's options
    take them, so never ``inf`` or ``nan`` (which once reached the runner's waits as a
    traceback); :func:`main` checks the range."""
    from smtpfake.cli import duration_flag

    return duration_flag(text)


def _range_problem(args: argparse.Namespace) -> str | None:
    """What is out of range among -j, --timeout and --budget, naming the option, or None."""
    from smtpfake.scenario import limits

    if args.jobs < 1:
        return f"-j/--jobs: must be at least 1, got {args.jobs}"
    for flag, seconds in (("--timeout", args.timeout), ("--budget", args.budget)):
        try:
            limits.check_number(
                seconds, "", minimum=0, exclusive_minimum=True, maximum=limits.MAX_SECONDS,
                unit=" seconds",
            )  # fmt: skip
        except limits.LimitError as exc:
            return f"{flag}{exc}, got {seconds:g}"
    return None


def main(args: argparse.Namespace) -> int:
    import shlex

    from smtpfake.cli import scenario_problems, usage_problem  # the one way it is told
    from smtpfake.probe.cases import load_cases, select, selection_problem, with_params
    from smtpfake.probe.outcomes import ExitMap
    from smtpfake.probe.reports import (
        html_report,
        json_report,
        junit_report,
        summary_line,
    )
    from smtpfake.probe.reports.terminal import Table
    from smtpfake.probe.runner import Options, command_client, placeholder_problem, run_cases
    from smtpfake.probe.unreached import Unreached
    from smtpfake.scenario import ScenarioError
    from smtpfake.scenario.checks import ClientKind
    from smtpfake.scenario.errors import ParamsError
    from smtpfake.visible import visible

    command = list(args.client)
    if command[:1] == ["--"]:
        command = command[1:]
    try:
        exits = ExitMap.parse(args.exit_codes)
    except ValueError as exc:
        return usage_problem("smtpfake probe", f"--exit-codes: {exc}")
    if args.budget is not None and not args.retrying:
        # a one-shot client is judged on its exit, never waited for: the budget would be ignored
        return usage_problem("smtpfake probe", "--budget is for a --retrying client")
    args.budget = 30.0 if args.budget is None else args.budget
    if problem := _range_problem(args):
        return usage_problem("smtpfake probe", problem)
    if problem := _setup_problem(args):
        return usage_problem("smtpfake probe", problem)
    if problem := _case_named_as_file(args.scenario, args.scenario_dir):
        return usage_problem("smtpfake probe", problem)
    try:
        everything = load_cases(args.scenario, args.scenario_dir)
    except ScenarioError as exc:  # one it cannot read is the option's mistake, as serve's
        return scenario_problems(exc, "smtpfake probe", "--scenario")
    except ValueError as exc:  # a --scenario file without checks
        return usage_problem("smtpfake probe", f"--scenario {exc}")
    if problem := selection_problem(everything, args.case, args.tag, args.skip_tag):
        suffix = " (see --list)" if problem.startswith("the selection") else ""
        return usage_problem("smtpfake probe", f"{problem}{suffix}")
    cases = select(everything, args.case, args.tag, args.skip_tag)
    try:
        cases = with_params(cases, dict(args.param))
    except ValueError as exc:
        return usage_problem("smtpfake probe", f"--param: {exc}")
    except ParamsError as exc:  # a value a case's scenario does not take: the option's mistake
        return usage_problem("smtpfake probe", "; ".join(f"--param {s}" for s in exc.settings))
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.list:
        for case in cases:
            tags = f" [{', '.join(case.tags)}]" if case.tags else ""
            print(f"{case.name}{tags}: {case.scenario.summary}")
        return 0
    if not command:
        return usage_problem(
            "smtpfake probe", "give the client to run after --: smtpfake probe -- COMMAND"
        )
    if problem := placeholder_problem(command) or _client_problem(command[0]):
        return usage_problem("smtpfake probe", problem)
    # the command line's own mistakes first: the selection's needs are news only once it runs
    if problem := _tls_problem(cases):
        return usage_problem("smtpfake probe", problem)
    kind = ClientKind.RETRYING if args.retrying else ClientKind.ONE_SHOT
    options = Options(
        kind=kind, timeout=args.timeout, budget=args.budget, host=args.host, port=args.port,
        seed=args.seed,
    )  # fmt: skip
    table = Table([c.name for c in cases])
    results: list[CaseResult] = []
    unreached = Unreached()  # a client that never connected, alike in every case: told once
    run = run_cases(cases, command_client(command, exits), options, args.jobs)
    for result in unreached.shown(run):
        if not args.quiet:
            if not results:  # held back with the first rows (see Unreached)
                print(table.header(), flush=True)
            print(table.row(result), flush=True)
        results.append(result)
    if problem := unreached.problem(visible(shlex.join(command))):
        return usage_problem("smtpfake probe", problem)
    print(summary_line(results))
    reports = (("--junit", args.junit, junit_report(results)),
               ("--html", args.html, html_report(results, command)),
               ("--json", args.json, json_report(results, command)))  # fmt: skip
    for flag, path, text in reports:
        try:
            if path:
                Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:  # a folder that went away or is not ours: the user's to fix
            print(f"smtpfake probe: {flag}: cannot write {path}: {exc.strerror or exc}",
                  file=sys.stderr)  # fmt: skip
            return 2
    return 1 if any(r.verdict.value == "fail" for r in results) else 0


def _client_problem(program: str) -> str:
    """Why the client's program cannot be run, or "": told once, before any case, rather than
    as every case failing with "the client could not be run" (a typo in the command ran all 78
    cases, the slow ones included). A program named by a placeholder is left to the run."""
    import os
    import shutil

    from smtpfake.visible import visible  # a name not UTF-8, or with an ESC, shown as \xNN

    if "{" in program or shutil.which(program) is not None:
        return ""
    shown = visible(program)
    if os.sep not in program:
        here = f" (the file here is run as .{os.sep}{shown})" if Path(program).is_file() else ""
        return f"the client {shown}: not found on PATH{here}"
    if Path(program).is_file():
        return (
            f"the client {shown}: not executable (chmod +x it, or name its interpreter first: "
            f"sh {shown})"
        )
    if Path(program).is_dir():
        return f"the client {shown}: is a directory (name the program to run in it)"
    return f"the client {shown}: no such file"


def _case_named_as_file(paths: Sequence[str], dirs: Sequence[str]) -> str | None:
    """``--scenario greylisting``: a case's name where a file is wanted (no such file, but a
    scenario of that name): said with the option that takes names, not as a file it cannot
    read."""
    from smtpfake.scenario import scenario_files

    names = scenario_files(dirs)
    for path in paths:
        if path in names and not Path(path).exists():
            return (
                f"--scenario: {path}: no such file (it takes a scenario file; a case is chosen "
                f"by name with --case {path})"
            )
    return None


def _tls_problem(cases: Sequence[Case]) -> str | None:
    """Selected TLS cases without the ``trustme`` package (``pip install .`` alone): told before
    any case runs, with both ways out, rather than a traceback at the first of them (exit 1, no
    report written) or a run that reports them failed, as if the client were at fault."""
    from smtpfake.probe.runner import NEEDS_TLS_EXTRA, needs_trustme, trustme_missing

    tls = [case.name for case in cases if needs_trustme(case)]
    if not tls or not trustme_missing():
        return None
    return (
        f"{len(tls)} selected case(s) serve TLS ({', '.join(tls)}): each "
        f"{NEEDS_TLS_EXTRA} (or leave them out: --skip-tag tls)"
    )


def _setup_problem(args: argparse.Namespace) -> str | None:
    """What would stop the run only once cases ran (a traceback from the first case's server,
    or from writing a report after the last case): a port out of range or that cannot be listened
    on, a seed out of range, a report whose folder does not exist. None when all is well."""
    import socket

    from smtpfake.scenario import limits

    if not 0 <= args.port <= 65535:
        return f"--port: {args.port} is not a port (0-65535)"
    if args.seed is not None and not 0 <= args.seed <= limits.MAX_SEED:
        return f"--seed: must be from 0 to 2^64-1, got {args.seed}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            args.host, args.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as trial:
            # as asyncio's create_server binds: a port left in TIME_WAIT is no problem
            trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            trial.bind(address)
    except OSError as exc:
        return f"--host/--port: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
    for flag, path in (("--junit", args.junit), ("--html", args.html), ("--json", args.json)):
        if path and not Path(path).absolute().parent.is_dir():
            return f"{flag}: cannot write {path}: its folder does not exist"
    return None


def run(argv: Sequence[str]) -> int:
    """``smtpfake probe ARGV`` in-process (tests)."""
    from smtpfake.cli import main as cli_main

    return cli_main(["probe", *argv])
