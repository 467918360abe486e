"""Run real SMTP clients through ``smtpfake probe`` and write the matrix (docs/probe-matrix.md).

    python scripts/probe_matrix.py                      # every client that is installed
    python scripts/probe_matrix.py --clients smtplib,curl --skip-waits
    python scripts/probe_matrix.py --case no-smtputf8   # only these rows, in the table as it is

The clients (scripts/probe_clients/): Python's smtplib, aiosmtplib and Django's SMTP backend
(one-shot scripts), msmtp, swaks, curl and Node's nodemailer (one-shot, by their own exit
statuses), and Postfix as a retrying MTA (``--retrying``, one case at a time on a fixed port;
needs root and the postfix-relay tool, see --postfix-relay). ``bash .ci/sidecar-deps`` installs
the outside clients, ``pip install django`` Django. A client that is missing is left out of the
table with the reason. tests/probe/test_matrix.py re-runs smtplib and curl and compares.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CLIENTS_DIR = REPO / "scripts" / "probe_clients"
MATRIX = REPO / "docs" / "probe-matrix.md"
NODE_DEPS = Path(
    os.environ.get("SMTPFAKE_NODE_DEPS", Path.home() / ".cache" / "smtpfake" / "node-deps")
)
POSTFIX_RELAY = Path(
    os.environ.get("SMTPFAKE_POSTFIX_RELAY", REPO.parent / "shared" / "tools" / "postfix-relay")
)
POSTFIX_DIR = Path("/tmp/smtpfake-postfix/probe-matrix")  # short: Postfix's socket paths
POSTFIX_PORT = 2640
#: the cases Postfix is probed on: the ones about retrying, duplicates and plain delivery
POSTFIX_CASES = (
    "default", "421-at-greeting-once", "transient-at-two-stages", "421-after-dot",
    "close-after-dot", "close-mid-data", "reset-mid-data", "450-mailbox-busy", "451-local-error",
    "554-after-data", "550-at-mail", "550-all-recipients", "550-one-recipient-unknown",
    "452-too-many-recipients", "error-at-quit", "close-at-quit", "reset-after-250",
    "retry-after", "strict-503-ordering", "multiline-replies", "no-pipelining", "bare-lf-body",
    "8bit-without-8bitmime",
)  # fmt: skip
#: what one run cannot show: verdicts seen to change between runs (each checked by hand, 5 runs)
NOTES = {
    "aiosmtplib": "On `421-at-data` and `421-after-dot` aiosmtplib sends RSET after the 421 "
    "when it reads the reply before it notices the server's close (0.2 ms behind it), so its "
    "verdict there varies between runs (pass or non-strict; 421-at-data non-strict in 3 of 8 "
    "runs).",
    "msmtp": "On `rst-at-greeting` msmtp exits 75 or 74 (EX_IOERR) depending on when the reset "
    "arrives, so its verdict there varies between runs (pass or fail).",
}
VERDICT_CELL = {"pass": "pass", "non-strict": "non-strict", "fail": "**fail**",
                "informational": "info"}  # fmt: skip


def _run(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=3600, **kw)


def _first_line(args: list[str]) -> str:
    try:
        done = _run(args)
    except OSError:
        return "?"
    return ((done.stdout or done.stderr).strip().splitlines() or ["?"])[0]


def _module_version(name: str) -> str:
    done = _run([sys.executable, "-c", f"import {name}; print({name}.__version__)"])
    return done.stdout.strip() or "?"


@dataclass(frozen=True)
class Client:
    name: str
    command: list[str]
    missing: Callable[[], str]  # why it cannot run here, or ""
    version: Callable[[], str]
    env: dict[str, str] = field(default_factory=dict)
    retrying: bool = False


def _needs_module(name: str) -> Callable[[], str]:
    return lambda: "" if importlib.util.find_spec(name) else f"pip install {name}"


def _needs_program(name: str) -> Callable[[], str]:
    return lambda: "" if shutil.which(name) else f"{name} is not installed (.ci/sidecar-deps)"


def _nodemailer_missing() -> str:
    if not shutil.which("node"):
        return "node is not installed (.ci/sidecar-deps)"
    if not (NODE_DEPS / "node_modules" / "nodemailer").is_dir():
        return f"nodemailer is not in {NODE_DEPS} (.ci/sidecar-deps)"
    return ""


def _postfix_missing() -> str:
    if os.geteuid() != 0:
        return "needs root (postfix-relay edits /etc/postfix/main.cf)"
    if not POSTFIX_RELAY.is_file():
        return f"no postfix-relay at {POSTFIX_RELAY} (set SMTPFAKE_POSTFIX_RELAY)"
    return ""


def _nodemailer_version() -> str:
    package = NODE_DEPS / "node_modules" / "nodemailer" / "package.json"
    return str(json.loads(package.read_text())["version"]) if package.is_file() else "?"


PY = sys.executable
CLIENTS = [
    Client("smtplib", [PY, str(CLIENTS_DIR / "smtplib_send.py")], lambda: "",
           lambda: f"Python {platform.python_version()}"),
    Client("aiosmtplib", [PY, str(CLIENTS_DIR / "aiosmtplib_send.py")],
           _needs_module("aiosmtplib"), lambda: _module_version("aiosmtplib")),
    Client("django", [PY, str(CLIENTS_DIR / "django_send.py")], _needs_module("django"),
           lambda: _module_version("django")),
    Client("msmtp", ["sh", str(CLIENTS_DIR / "msmtp.sh")], _needs_program("msmtp"),
           lambda: _first_line(["msmtp", "--version"])),
    Client("swaks", ["sh", str(CLIENTS_DIR / "swaks.sh")], _needs_program("swaks"),
           lambda: _first_line(["swaks", "--version"])),
    Client("curl", ["sh", str(CLIENTS_DIR / "curl.sh")], _needs_program("curl"),
           lambda: _first_line(["curl", "--version"]).split(" (")[0]),
    Client("nodemailer", ["node", str(CLIENTS_DIR / "nodemailer_send.js")], _nodemailer_missing,
           _nodemailer_version, env={"NODE_PATH": str(NODE_DEPS / "node_modules")}),
    Client("postfix", ["sh", str(CLIENTS_DIR / "postfix.sh")], _postfix_missing,
           lambda: "Postfix " + _first_line(["postconf", "-h", "-d", "mail_version"]),
           env={"POSTFIX_DIR": str(POSTFIX_DIR)}, retrying=True),
]  # fmt: skip


def probe(client: Client, args: list[str], jobs: int, timeout: float) -> list[dict[str, Any]]:
    """``smtpfake probe ARGS -- COMMAND``; the cases of its JSON report."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "r.json"
        cmd = [PY, "-m", "smtpfake", "probe", "-q", "-j", str(jobs), "--timeout", str(timeout),
               "--json", str(report), *args, "--", *client.command]  # fmt: skip
        done = _run(cmd, env={**os.environ, **client.env}, cwd=REPO)
        if not report.is_file():
            raise SystemExit(f"{client.name}: the probe failed:\n{done.stdout}{done.stderr}")
        cases: list[dict[str, Any]] = json.loads(report.read_text())["cases"]
        return cases


def probe_postfix(client: Client, budget: float, only: list[str]) -> list[dict[str, Any]]:
    """Postfix relays to a fixed port, so one case at a time, on that port (those of
    POSTFIX_CASES in ``only``, when given)."""
    names = [name for name in POSTFIX_CASES if not only or name in only]
    if not names:
        return []
    relay = [str(POSTFIX_RELAY)]
    _run([*relay, "stop", str(POSTFIX_DIR)])
    shutil.rmtree(POSTFIX_DIR, ignore_errors=True)
    started = _run([*relay, "start", str(POSTFIX_PORT), str(POSTFIX_DIR)])
    if started.returncode != 0:
        raise SystemExit(f"postfix: could not start: {started.stderr}")
    cases = []
    try:
        for name in names:
            args = ["--retrying", "--port", str(POSTFIX_PORT), "--budget", str(budget),
                    "--case", name]  # fmt: skip
            cases += probe(client, args, 1, budget)
            print(f"  postfix {name}: {cases[-1]['verdict']}", file=sys.stderr)
    finally:
        _run([*relay, "stop", str(POSTFIX_DIR)])
    return cases


def first_failure(case: dict[str, Any]) -> str:
    return str(case["reason"])


def render(results: dict[str, list[dict[str, Any]]], versions: dict[str, str],
           missing: dict[str, str], command: str) -> str:  # fmt: skip
    names = sorted({c["case"] for cases in results.values() for c in cases})
    by_client = {client: {c["case"]: c for c in cases} for client, cases in results.items()}
    clients = list(results)
    out = [
        "# smtpfake probe: the client matrix",
        "",
        "Real SMTP clients run through `smtpfake probe`, one column per client, one row per "
        "case (see `smtpfake probe --list` and each scenario's `checks:`). Verdicts: **pass**; "
        "**non-strict** (only SHOULD checks failed); **fail** (a MUST check failed); "
        "**info**; `-` not run. One-shot clients are judged on one attempt and their exit "
        "status (0 delivered, 75 transient, other permanent); Postfix as a retrying MTA on the "
        "cases about retries and duplicates. What each client did where it did not pass is "
        "listed below the table.",
        "",
        f"Produced by `{command}`; tests/probe/test_matrix.py re-runs smtplib and curl on "
        "every case that does not wait on purpose and compares with this table.",
        "",
        "| client | version |",
        "|---|---|",
        *(f"| {c} | {versions[c]} |" for c in clients),
        *(f"| {c} | not run: {why} |" for c, why in missing.items()),
        "",
        "| case | " + " | ".join(clients) + " |",
        "|---|" + "---|" * len(clients),
    ]
    for name in names:
        cells = [
            VERDICT_CELL[by_client[c][name]["verdict"]] if name in by_client[c] else "-"
            for c in clients
        ]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += ["", "## What the clients did where they did not pass", ""]
    for client in clients:
        misses = [c for c in results[client] if c["verdict"] not in ("pass", "informational")]
        out += [f"### {client}", ""]
        if client in NOTES:
            out += [NOTES[client], ""]
        out += [f"- `{c['case']}` ({c['verdict']}): {first_failure(c)}" for c in misses]
        out += ["- every case passed" if not misses else "", ""]
    return "\n".join(line for line in out).rstrip() + "\n"


def read_matrix(
    text: str,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str], dict[str, str], str]:
    """The table as :func:`render` wrote it, read back into what render takes: the results
    (each case's verdict, and its reason where it did not pass), versions, missing clients and
    the command. ``render(*read_matrix(text)) == text`` for a table render wrote."""
    lines = text.splitlines()
    command = text.split("Produced by `", 1)[1].split("`", 1)[0]
    versions: dict[str, str] = {}
    missing: dict[str, str] = {}
    at = lines.index("| client | version |") + 2
    while lines[at].startswith("|"):
        name, version = (c.strip() for c in lines[at].strip("|").split("|", 1))
        if version.startswith("not run: "):
            missing[name] = version.removeprefix("not run: ")
        else:
            versions[name] = version
        at += 1
    reasons: dict[tuple[str, str], str] = {}
    client = ""
    for line in lines:
        if line.startswith("### "):
            client = line[4:]
        elif line.startswith("- `") and "` (" in line:
            case, rest = line[3:].split("` (", 1)
            reasons[client, case] = rest.split("): ", 1)[1]
    verdicts = {cell: verdict for verdict, cell in VERDICT_CELL.items()}
    at = next(i for i, line in enumerate(lines) if line.startswith("| case |"))
    clients = [c.strip() for c in lines[at].strip("|").split("|")][1:]
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
    for line in lines[at + 2 :]:
        if not line.startswith("|"):
            break
        case, *cells = (c.strip() for c in line.strip("|").split("|"))
        for name, cell in zip(clients, cells, strict=True):
            if cell != "-":
                verdict = verdicts[cell]
                reason = reasons.get((name, case), "")
                results[name].append({"case": case, "verdict": verdict, "reason": reason})
    return results, versions, missing, command


def update(text: str, fresh: dict[str, list[dict[str, Any]]], versions: dict[str, str]) -> str:
    """The table ``text`` with the cases in ``fresh`` (client -> cases probed now) replaced;
    the rest as it was. A client whose version is not the table's is refused: its other rows
    were not seen with this version."""
    results, known, missing, command = read_matrix(text)
    for client, cases in fresh.items():
        if not cases:  # Postfix, when none of the cases is one it is probed on
            continue
        if known.get(client) != versions[client]:
            raise SystemExit(
                f"{client} {versions[client]} is not the table's ({known.get(client, 'not run')}): "
                "run the whole matrix (without --case)"
            )
        now = {c["case"]: c for c in cases}
        kept = [c for c in results[client] if c["case"] not in now]
        results[client] = sorted(kept + cases, key=lambda c: str(c["case"]))
    return render(results, known, missing, command)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", default=",".join(c.name for c in CLIENTS))
    parser.add_argument(
        "--skip-waits",
        action="store_true",
        help="leave out the cases that wait on purpose (faster)",
    )
    parser.add_argument("-j", "--jobs", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--budget", type=float, default=25.0, help="Postfix's time per case")
    parser.add_argument("--output", type=Path, default=MATRIX)
    parser.add_argument(
        "--case",
        action="append",
        default=[],
        help="probe only this case (repeatable) and update its row and details in --output",
    )
    args = parser.parse_args()  # fmt: skip
    wanted = args.clients.split(",")
    results: dict[str, list[dict[str, Any]]] = {}
    versions: dict[str, str] = {}
    missing: dict[str, str] = {}
    for client in CLIENTS:
        if client.name not in wanted:
            continue
        why = client.missing()
        if why:
            missing[client.name] = why
            print(f"{client.name}: not run: {why}", file=sys.stderr)
            continue
        print(f"{client.name}: probing", file=sys.stderr)
        versions[client.name] = client.version()
        if client.retrying:
            results[client.name] = probe_postfix(client, args.budget, args.case)
        else:
            extra = ["--skip-tag", "waits"] if args.skip_waits else []
            extra += [f"--case={name}" for name in args.case]
            results[client.name] = probe(client, extra, args.jobs, args.timeout)
    if args.case:
        text = update(args.output.read_text(encoding="utf-8"), results, versions)
    else:
        command = "python scripts/probe_matrix.py" + (" --skip-waits" if args.skip_waits else "")
        text = render(results, versions, missing, command)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
