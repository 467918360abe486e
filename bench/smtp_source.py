"""Server throughput under Postfix's smtp-source (a C client, so the client is not the limit):
smtpfake as users run it (``smtpfake serve``), smtpfake's Server in-process, bare aiosmtpd and
Postfix's smtp-sink, side by side in one run.

``smtpfake-serve*`` run the real ``smtpfake serve --port 0`` process, default scenario, its stdout
(the event log, one line per event) into a file as a CI log would be: ``smtpfake-serve`` on
asyncio's loop, ``smtpfake-serve-uvloop`` with ``--loop uvloop``, and each with ``--quiet`` (no
per-event lines: what a load test would use); ``smtpfake-serve-uvloop-api`` also serves the HTTP
API, idle (``--api-port 0``, as the sidecar runs). The count of accepted messages is read from
the lines serve prints when it stops (SIGINT); with the log on, its ``accepted message`` lines
must number the same. ``inproc-*`` run smtpfake's ``Server`` in this script's child process with
no event log: the default scenario (``inproc-default``, on uvloop ``inproc-uvloop``) and 50 rules
that never fire (``inproc-busy``).

Every round runs each server once per mode, in a rotating order (noise on a shared machine hits
them all alike); a round's ratios are taken within the round, and the report gives the median
ratio over the rounds. Modes: ``per-connection`` (``smtp-source -s S -m M -l L``: a connection,
EHLO, MAIL, RCPT, DATA, QUIT per message) and ``reused`` (``-d``: each of the S connections sends
message after message). Each smtpfake and aiosmtpd server counts what it accepted, which must be
M. Loopback only; every run is bounded in time.

Needs /usr/sbin/smtp-source and /usr/sbin/smtp-sink (Debian: ``apt-get install postfix``).

``--baseline DIR`` adds ``baseline-default`` and ``baseline-busy`` (in-process) and
``baseline-serve`` (``smtpfake serve``): the same smtpfake servers imported from another checkout
(e.g. ``git worktree add /tmp/base main``), so a change is measured against the revision before it
in the same interleaved rounds; with uvloop also ``baseline-uvloop``, ``baseline-serve-uvloop`` and
``baseline-serve-uvloop-quiet``.

``python-sink`` and ``python-sink-uvloop`` (bench/protocol_sink.py) are the floor: a minimal
asyncio.Protocol SMTP sink with no record, on each loop; ``baseline-uvloop`` is the baseline on
uvloop.

Usage: python bench/smtp_source.py [--sessions 10] [--messages 2000] [--length 1000]
       [--rounds 5] [--profile inproc-default] [--baseline DIR] [--only KIND,...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import math
import os
import pstats
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import protocol_sink  # bench/ is the script's directory, so first on sys.path
import serverproc
from throughput import busy_scenario, serve_aiosmtpd

HOST = "127.0.0.1"
RUN_TIMEOUT = 120.0
SOURCE = "/usr/sbin/smtp-source"
SINK = "/usr/sbin/smtp-sink"


def have(module: str) -> bool:
    """Whether ``module`` is installed (found, not imported)."""
    import importlib.util

    return importlib.util.find_spec(module) is not None


def kinds(baseline: str | None) -> list[str]:
    uv = have("uvloop")
    out = ["smtpfake-serve", "smtpfake-serve-quiet"]
    out += ["smtpfake-serve-uvloop", "smtpfake-serve-uvloop-quiet"] if uv else []
    out += ["smtpfake-serve-uvloop-api"] if uv and have("aiohttp") else []
    if baseline is not None:
        uv_kinds = ["baseline-serve-uvloop", "baseline-serve-uvloop-quiet"] if uv else []
        out += ["baseline-serve", *uv_kinds]
    out += ["inproc-default", *(["inproc-uvloop"] if uv else []), "inproc-busy"]
    if baseline is not None:
        out += ["baseline-default", *(["baseline-uvloop"] if uv else []), "baseline-busy"]
    out += ["aiosmtpd-sink", "python-sink", *(["python-sink-uvloop"] if uv else []), "smtp-sink"]
    return out


def is_serve(kind: str) -> bool:
    """A kind that runs the real ``smtpfake serve`` process."""
    return kind.startswith(("smtpfake-serve", "baseline-serve"))


# -- the servers (run with --serve KIND in a child process) -------------------------------------


async def serve_smtpfake(kind: str, profile: str | None) -> int:
    from smtpfake.server import Server

    server = Server(busy_scenario() if kind.endswith("-busy") else "default")
    stop = asyncio.Event()
    task = asyncio.create_task(server.serve(stop, ready=lambda: serverproc.announce(server.port)))
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    await serverproc.wait_for_stdin_eof()
    if profiler is not None:
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats(os.environ.get("PROFILE_SORT", "tottime"))
        stats.print_stats(int(os.environ.get("PROFILE_LINES", "25")))
        if os.environ.get("PROFILE_CALLEES"):  # e.g. connection_made: what it spends its time on
            stats.print_callees(os.environ["PROFILE_CALLEES"])
    stop.set()
    await task
    if server.errors:
        raise RuntimeError("\n".join(str(e) for e in server.errors))
    bad = [v for s in server.sessions for v in s.violations]
    if bad:
        raise RuntimeError(f"the client was recorded doing something wrong: {bad[:3]}")
    return len(server.messages)


def serve(kind: str, profile: str | None) -> None:
    if kind == "aiosmtpd-sink":
        count = asyncio.run(serve_aiosmtpd())
    elif kind.startswith("python-sink"):
        count = protocol_sink.run(use_uvloop=kind.endswith("-uvloop"))
    elif kind.endswith("-uvloop"):  # inproc-uvloop, baseline-uvloop
        import uvloop

        count = uvloop.run(serve_smtpfake(kind, profile))
    else:
        count = asyncio.run(serve_smtpfake(kind, profile))
    print(f"COUNT {count}", flush=True)


# -- the runs --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def source(port: int, args: argparse.Namespace, reused: bool) -> float:
    """Run smtp-source against ``port``; the seconds it took."""
    command = [SOURCE, "-s", str(args.sessions), "-m", str(args.messages), "-l", str(args.length)]
    command += ["-f", "a@x.test", "-t", "b@y.test", "-M", "client.test"]
    if reused:
        command.append("-d")
    started = time.perf_counter()
    subprocess.run([*command, f"{HOST}:{port}"], check=True, timeout=RUN_TIMEOUT)
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) a process has used so far, from Linux's /proc; NaN where
    there is none."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()  # from field 3, the state, on
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def measure(kind: str, args: argparse.Namespace, reused: bool) -> tuple[float, float]:
    """Messages per second through one server, and messages per second of the server's own CPU
    time (what it could do with a core to itself: far steadier on a shared machine)."""
    if kind == "smtp-sink":
        port = free_port()
        privs = ["-u", "nobody"] if os.geteuid() == 0 else []  # it will not run as root
        sink = subprocess.Popen([SINK, *privs, f"{HOST}:{port}", "1024"])
        try:
            for _ in range(100):  # until it listens, at most 1 s
                with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.1):
                    break
                time.sleep(0.01)
            cpu = cpu_seconds(sink.pid)
            seconds = source(port, args, reused)
            cpu = cpu_seconds(sink.pid) - cpu
        finally:
            sink.terminate()
            sink.wait(timeout=10)
        return args.messages / seconds, args.messages / cpu
    if is_serve(kind):
        return measure_serve(kind, args, reused)
    extra = ["--profile", args.profile] if args.profile == kind else []
    tree = args.baseline if kind.startswith("baseline-") else None
    proc, port = serverproc.start(__file__, kind, *extra, source=tree)
    try:
        cpu = cpu_seconds(proc.pid)  # from here: start-up and imports are done
        seconds = source(port, args, reused)
        cpu = cpu_seconds(proc.pid) - cpu
    finally:
        out, _ = proc.communicate(timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} exited with status {proc.returncode}")
    accepted = int(out.split()[-1])
    if accepted != args.messages:
        raise RuntimeError(f"{kind}: sent {args.messages}, the server accepted {accepted}")
    return args.messages / seconds, args.messages / cpu


#: what `smtpfake serve` prints when it stops: how much it served
SERVED = re.compile(r"^smtpfake: (\d+) sessions?, (\d+) messages? accepted$", re.M)


def measure_serve(kind: str, args: argparse.Namespace, reused: bool) -> tuple[float, float]:
    """As measure(), for the ``smtpfake serve`` process: its stdout into a file."""
    command = [sys.executable, "-m", "smtpfake", "serve", "--port", "0"]
    command += ["--loop", "uvloop" if "-uvloop" in kind else "asyncio"]
    command += ["--quiet"] if kind.endswith("-quiet") else []
    command += ["--api-port", "0"] if kind.endswith("-api") else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPFAKE_")}
    if kind.startswith("baseline-"):
        env["PYTHONPATH"] = os.path.abspath(args.baseline)
    with tempfile.TemporaryDirectory() as folder:
        log_path = os.path.join(folder, "stdout.log")
        with open(log_path, "w") as log, open(os.path.join(folder, "stderr"), "w") as err:
            # cwd: not this directory, where `-m smtpfake` could find a checkout's package
            proc = subprocess.Popen(
                command, stdout=log, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=folder
            )
        try:
            port = listening_port(proc, folder)
            cpu = cpu_seconds(proc.pid)  # from here: start-up and imports are done
            seconds = source(port, args, reused)
            cpu = cpu_seconds(proc.pid) - cpu
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        with open(log_path) as log:
            text = log.read()
        with open(os.path.join(folder, "stderr")) as err:
            errors = err.read()
    if proc.returncode != 0 or errors:
        raise RuntimeError(f"{kind} exited with status {proc.returncode}: {errors[-2000:]}")
    served = SERVED.search(text)
    logged = text.count(" accepted message ")
    # a baseline from before serve printed its count: what its log says it accepted
    accepted = int(served.group(2)) if served else logged
    if accepted != args.messages or (logged != accepted and not kind.endswith("-quiet")):
        raise RuntimeError(
            f"{kind}: sent {args.messages}, the server accepted {accepted}, logged {logged}"
        )
    return args.messages / seconds, args.messages / cpu


#: where serve listens: its text line, or its JSON ``listening`` event
_LISTENING = re.compile(r'listening on [^ ]+:(\d+),|"smtp": \{"host": "[^"]*", "port": (\d+)\}')


def listening_port(proc: subprocess.Popen[bytes], folder: str, timeout: float = 30.0) -> int:
    """The port in serve's ``listening on HOST:PORT`` line (or its JSON ``listening`` event),
    read from its log (``stdout.log`` in ``folder``) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with open(os.path.join(folder, "stdout.log")) as log:
            found = _LISTENING.search(log.readline())
        if found:
            return int(found.group(1) or found.group(2))
        time.sleep(0.02)
    with open(os.path.join(folder, "stderr")) as err:
        raise RuntimeError(f"smtpfake serve did not start (status {proc.poll()}): {err.read()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", help="print the cProfile of this smtpfake server (stderr)")
    parser.add_argument("--baseline", metavar="DIR", help="also run smtpfake from this checkout")
    parser.add_argument(
        "--only",
        help="comma-separated servers to run (aiosmtpd-sink and "
        "smtp-sink always run: the ratios need them)",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.serve:
        serve(args.serve, rest[1] if rest[:1] == ["--profile"] else args.profile)
        return
    if not (shutil.which(SOURCE) and shutil.which(SINK)):
        sys.exit("needs Postfix's smtp-source and smtp-sink (apt-get install postfix)")
    if not 0 < args.messages <= 10_000:
        sys.exit("--messages: 1 to 10,000 (smtpfake's journal keeps the last 10,000 messages)")

    servers = kinds(args.baseline)
    if args.only:
        wanted = set(args.only.split(",")) | {"aiosmtpd-sink", "smtp-sink"}
        servers = [k for k in servers if k in wanted]
    rates: dict[tuple[str, str], list[float]] = {}
    cpu_rates: dict[tuple[str, str], list[float]] = {}
    for round_ in range(args.rounds):
        order = servers[round_ % len(servers) :] + servers[: round_ % len(servers)]
        for mode in ("per-connection", "reused"):
            for kind in order:
                rate, cpu_rate = measure(kind, args, mode == "reused")
                rates.setdefault((mode, kind), []).append(rate)
                cpu_rates.setdefault((mode, kind), []).append(cpu_rate)

    print(
        f"smtp-source -s {args.sessions} -m {args.messages} -l {args.length} (-d: reused); "
        f"{args.rounds} interleaved rounds; python {sys.version.split()[0]}; medians of the "
        f"rates and of the per-round ratios; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs"
    )
    print("msg/s: wall clock; msg/cpu-s: per second of the server's own CPU time")
    print(
        "smtpfake-serve*: the `smtpfake serve` process, event log to a file (-quiet: --quiet); "
        "inproc-*: smtpfake's Server in-process, no event log"
    )
    head = (
        f"{'mode':<15} {'server':<27} {'msg/s':>7} {'vs aiosmtpd':>11} {'vs sink':>8}"
        f" {'msg/cpu-s':>10} {'vs aiosmtpd':>11} {'vs sink':>8}"
    )
    print(head)
    print("-" * len(head))
    for (mode, kind), values in rates.items():
        cpu_values = cpu_rates[mode, kind]
        print(
            f"{mode:<15} {kind:<27} {statistics.median(values):>7.0f} "
            f"{ratio(values, rates[mode, 'aiosmtpd-sink']):>10.2f}x "
            f"{ratio(values, rates[mode, 'smtp-sink']):>7.2f}x "
            f"{statistics.median(cpu_values):>10.0f} "
            f"{ratio(cpu_values, cpu_rates[mode, 'aiosmtpd-sink']):>10.2f}x "
            f"{ratio(cpu_values, cpu_rates[mode, 'smtp-sink']):>7.2f}x"
        )


def ratio(values: list[float], base: list[float]) -> float:
    """The median over rounds of the within-round ratio."""
    return statistics.median(v / b for v, b in zip(values, base, strict=True))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
