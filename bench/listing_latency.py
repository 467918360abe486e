"""SMTP reply latency while the sidecar serves its largest answers, side by side with none.

Starts a sidecar in a child process - ``Server`` and ``ApiServer`` in one event loop, as
``smtpfake serve --api-port`` runs them (its journal's byte bound raised to keep every message) -
fills it with MESSAGES messages of SIZE MiB (a text part and a base64 attachment, sent with
smtplib) and SESSIONS short sessions, then, in interleaved rounds, runs each phase while a probe
(a separate process, so the two never share a GIL) times SMTP NOOP round trips on one open
session:
- baseline: no HTTP request;
- GET /api/messages: the listing (summaries);
- GET /api/messages?include=data: every message's data, the largest answer there is;
- GET /api/sessions: the whole journal of sessions;
- GET /api/messages/{id}/raw: the largest message's bytes;
- GET /api/messages/{id}: the largest message parsed (text, HTML, attachments).
Each load phase repeats its request until the probe's window is over (at least once). Printed per
phase: NOOP latency p50/p99/max and count, the request's time and size, the server's peak RSS
during the phase (VmHWM, reset before each phase through /proc/PID/clear_refs), and the sidecar's
longest event-loop turn in CPU time (its own work holding SMTP up) and in wall time (that, plus
waiting for a core: on a shared machine the NOOP maximum is mostly the latter).
Loopback only; every wait is bounded.

Usage: python bench/listing_latency.py [--messages 5] [--size 30] [--sessions 2000]
       [--rounds 2] [--window 3]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import smtplib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

HOST = "127.0.0.1"
TIMEOUT = 120.0
MiB = 1 << 20


# -- the sidecar (a child process: python bench/listing_latency.py --serve MESSAGE_BYTES) --------


async def serve_sidecar(message_bytes: int) -> None:
    """``Server`` and ``ApiServer`` in one event loop, as ``smtpfake serve --api-port`` runs
    them, plus a monitor task: each turn it sleeps 1 ms and notes how long the turn took in wall
    time and in this thread's CPU time. A long turn with the CPU busy is the loop held by
    smtpfake's own work; a long turn with the CPU idle is the process waiting for a core (other
    work on the machine), which no code of ours can shorten. ``MARK`` on stdin prints the worst
    of each since the last mark, as JSON."""
    from smtpfake.http import ApiServer
    from smtpfake.journal import JournalLimits
    from smtpfake.server import Server

    server = Server("default", port=0, journal_limits=JournalLimits(message_bytes=message_bytes))
    await server.open()
    api = ApiServer(server)
    await api.open()
    print(f"PORTS {server.port} {api.port}", flush=True)
    worst = {"busy_ms": 0.0, "wall_ms": 0.0}

    async def monitor() -> None:
        while True:
            wall, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(0.001)
            busy = (time.thread_time() - cpu) * 1000
            late = (time.perf_counter() - wall) * 1000 - 1.0
            worst["busy_ms"] = max(worst["busy_ms"], busy)
            worst["wall_ms"] = max(worst["wall_ms"], late)

    watching = asyncio.create_task(monitor())
    loop = asyncio.get_running_loop()
    while (await loop.run_in_executor(None, sys.stdin.readline)).strip() == "MARK":
        print(json.dumps(worst), flush=True)
        worst.update(busy_ms=0.0, wall_ms=0.0)
    watching.cancel()
    await api.aclose()
    await server.aclose()


def start_sidecar(message_bytes: int) -> tuple[subprocess.Popen[str], int, int]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(message_bytes)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORTS "):
        proc.kill()
        raise RuntimeError(f"the sidecar did not start: {line!r}")
    _, smtp, api = line.split()
    return proc, int(smtp), int(api)


def mark(proc: subprocess.Popen[str]) -> dict[str, float]:
    """The sidecar's worst loop turn since the last mark (see serve_sidecar)."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("MARK\n")
    proc.stdin.flush()
    return dict(json.loads(proc.stdout.readline()))


def message(n: int, size: int) -> bytes:
    """About ``size`` bytes: the attachment is 3/4 of it before base64 (the default scenario
    accepts up to 32 MiB)."""
    msg = EmailMessage()
    msg["From"] = f"bench{n}@x.test"
    msg["To"] = "sink@y.test"
    msg["Subject"] = f"large {n}"
    msg.set_content("A large attachment follows.\n")
    blob = (bytes(range(256)) * (size // 256 + 1))[: size * 3 // 4]
    msg.add_attachment(blob, maintype="application", subtype="octet-stream", filename="b.bin")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def fill(smtp_port: int, messages: int, size: int, sessions: int) -> None:
    for n in range(messages):
        with smtplib.SMTP(HOST, smtp_port, timeout=TIMEOUT) as client:
            client.sendmail(f"bench{n}@x.test", ["sink@y.test"], message(n, size))
    for _ in range(sessions):
        with smtplib.SMTP(HOST, smtp_port, timeout=TIMEOUT) as client:
            client.noop()


def fetch(api_port: int, path: str) -> tuple[float, int]:
    """One GET, its body read and dropped: (seconds, bytes)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, api_port, timeout=TIMEOUT)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: {resp.status} {resp.read(200)!r}")
        size = 0
        while chunk := resp.read(MiB):
            size += len(chunk)
    finally:
        conn.close()
    return time.perf_counter() - started, size


# -- the probe (a child process) -------------------------------------------------------------------


def probe(smtp_port: int, window: float) -> None:
    """NOOP round trips for ``window`` seconds on one session; prints them (ms) as JSON."""
    with smtplib.SMTP(HOST, smtp_port, timeout=TIMEOUT) as client:
        client.noop()
        print("READY", flush=True)
        got: list[float] = []
        end = time.perf_counter() + window
        while time.perf_counter() < end and len(got) < 100_000:
            started = time.perf_counter()
            client.noop()
            got.append((time.perf_counter() - started) * 1000)
            time.sleep(0.002)
    print(json.dumps(got), flush=True)


def with_probe(smtp_port: int, window: float, load: Callable[[], tuple[float, int]] | None
               ) -> tuple[list[float], list[tuple[float, int]]]:  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, __file__, "--probe", str(smtp_port), str(window)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "READY":
        child.kill()
        raise RuntimeError("the probe did not start")
    runs: list[tuple[float, int]] = []
    end = time.perf_counter() + window
    while load is not None and (not runs or time.perf_counter() < end) and len(runs) < 1000:
        runs.append(load())
    latencies: list[float] = json.loads(child.stdout.readline())
    child.wait(TIMEOUT)
    return latencies, runs


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM (Linux, our own child)


def peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--size", type=int, default=30, help="MiB per message")
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--window", type=float, default=3.0, help="seconds per phase")
    args = parser.parse_args()

    size = args.size * MiB
    proc, smtp_port, api_port = start_sidecar(message_bytes=(args.messages + 1) * size * 2)
    try:
        started = time.perf_counter()
        fill(smtp_port, args.messages, size, args.sessions)
        print(
            f"filled: {args.messages} x {args.size} MiB messages, {args.sessions} sessions "
            f"in {time.perf_counter() - started:.1f}s; "
            f"server RSS peak {peak_mib(proc.pid):,.0f} MiB"
        )
        conn = http.client.HTTPConnection(HOST, api_port, timeout=TIMEOUT)
        conn.request("GET", "/api/messages?order=newest&limit=1")
        listed = json.loads(conn.getresponse().read())
        conn.close()
        largest = listed["messages"][0]["id"]
        phases: dict[str, Callable[[], tuple[float, int]] | None] = {
            "baseline (no HTTP)": None,
            "GET /api/messages": lambda: fetch(api_port, "/api/messages"),
            "GET /api/messages?include=data": lambda: fetch(api_port, "/api/messages?include=data"),
            "GET /api/sessions": lambda: fetch(api_port, "/api/sessions"),
            f"GET /api/messages/{largest}/raw": lambda: fetch(
                api_port, f"/api/messages/{largest}/raw"
            ),
            f"GET /api/messages/{largest}": lambda: fetch(api_port, f"/api/messages/{largest}"),
        }
        results: dict[str, list[float]] = {name: [] for name in phases}
        turns: dict[str, dict[str, float]] = {
            name: {"busy_ms": 0.0, "wall_ms": 0.0} for name in phases
        }
        runs: dict[str, list[tuple[float, int]]] = {name: [] for name in phases}
        peaks: dict[str, float] = dict.fromkeys(phases, 0.0)
        for _ in range(args.rounds):
            for name, load in phases.items():  # interleaved: noise falls on every phase
                reset_peak(proc.pid)
                mark(proc)
                latencies, done = with_probe(smtp_port, args.window, load)
                for key, value in mark(proc).items():
                    turns[name][key] = max(turns[name][key], value)
                results[name] += latencies
                runs[name] += done
                peaks[name] = max(peaks[name], peak_mib(proc.pid))
        print(
            f"\nSMTP NOOP round trips during each phase ({args.rounds} rounds x {args.window:g}s)"
        )
        print(
            f"{'phase':<34} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'NOOPs':>6}  "
            f"{'request s (median)':>18} {'answer MiB':>10} {'peak RSS MiB':>12}  "
            f"{'loop turn max ms: CPU busy':>26} {'wall':>6}"
        )
        for name in phases:
            got = sorted(results[name])
            p99 = got[min(len(got) - 1, int(len(got) * 0.99))]
            took = f"{statistics.median(t for t, _ in runs[name]):.3f}" if runs[name] else "-"
            answer = f"{runs[name][0][1] / MiB:.3f}" if runs[name] else "-"
            print(
                f"{name:<34} {statistics.median(got):7.2f} {p99:7.2f} {got[-1]:7.2f} "
                f"{len(got):6d}  {took:>18} {answer:>10} {peaks[name]:12,.0f}  "
                f"{turns[name]['busy_ms']:26.1f} {turns[name]['wall_ms']:6.1f}"
            )
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the sidecar's end
        try:
            proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--probe":
        probe(int(sys.argv[2]), float(sys.argv[3]))
    elif len(sys.argv) == 3 and sys.argv[1] == "--serve":
        asyncio.run(serve_sidecar(int(sys.argv[2])))
    else:
        main()
