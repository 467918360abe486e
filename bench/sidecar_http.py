"""The sidecar's HTTP side under load, side by side with a bare aiohttp app (the baseline).

Each server runs in its own process:
- smtpfake: ``Server`` + ``ApiServer`` in one event loop, as ``smtpfake serve --api-port`` runs
  them (guards, routing, JSON answers);
- baseline: an aiohttp app with one route answering the same health JSON, nothing else.
Three measurements, run against both, interleaved (smtpfake, baseline, smtpfake, baseline ...) so
noise from other work on the machine falls on both:
1. burst: CONCURRENCY clients send REQUESTS ``GET /api/health`` in all (one connection each, as
   curl in a loop would); unanswered within 10 s, and latency percentiles;
2. slowloris: SLOW connections each send half a request and stop; then 20 health checks, timed;
3. shutdown (smtpfake only): with SLOW idle HTTP connections, SLOW open SMTP sessions and an
   event stream, SIGTERM to ``smtpfake serve``; time until it exits.
Loopback only; every wait is bounded.

Usage: python bench/sidecar_http.py [--concurrency 200] [--requests 2000] [--slow 1000]
       [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import signal
import statistics
import subprocess
import sys
import time

import serverproc  # bench/ is the script's directory, so first on sys.path

HOST = "127.0.0.1"
STEP_TIMEOUT = 10.0
HEALTH = f"GET /api/health HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# -- the servers (run with --serve KIND in a child process) ----------------------------------------


async def serve_smtpfake() -> None:
    from smtpfake.http import ApiServer
    from smtpfake.server import Server

    server = Server("default")
    await server.open()
    api = ApiServer(server)
    await api.open()
    serverproc.announce(api.port)
    await serverproc.wait_for_stdin_eof()
    await api.aclose()
    await server.aclose()


async def serve_baseline() -> None:
    from aiohttp import web

    async def health(request: web.Request) -> web.Response:
        body = {"status": "ready", "version": "0", "scenario": "default", "smtp": {}}
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/api/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    serverproc.announce(runner.addresses[0][1])
    await serverproc.wait_for_stdin_eof()
    await runner.cleanup()


# -- the client ------------------------------------------------------------------------------------


async def health(port: int) -> float | None:
    """One request on its own connection: seconds to a complete 200, None if none came."""
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), STEP_TIMEOUT)
        try:
            writer.write(HEALTH)
            answer = await asyncio.wait_for(reader.read(), STEP_TIMEOUT)
        finally:
            writer.close()
    except (OSError, asyncio.TimeoutError):
        return None
    return time.monotonic() - started if answer.startswith(b"HTTP/1.1 200 ") else None


async def burst(port: int, concurrency: int, requests: int) -> dict[str, float]:
    queue = iter(range(requests))
    times: list[float | None] = []

    async def client() -> None:
        for _ in queue:
            times.append(await health(port))

    await asyncio.gather(*(client() for _ in range(concurrency)))
    done = sorted(t for t in times if t is not None)
    return {
        "unanswered": float(len(times) - len(done)),
        "p50_ms": 1000 * statistics.median(done) if done else float("nan"),
        "p99_ms": 1000 * done[int(len(done) * 0.99) - 1] if done else float("nan"),
    }


async def hold_slow(port: int, count: int) -> list[asyncio.StreamWriter]:
    held = []
    for _ in range(count):
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), STEP_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            break
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        held.append(writer)
    return held


async def slowloris(port: int, count: int) -> dict[str, float]:
    held = await hold_slow(port, count)
    try:
        times = [await health(port) for _ in range(20)]
    finally:
        for writer in held:
            writer.close()
    done = [t for t in times if t is not None]
    return {
        "held": float(len(held)),
        "unanswered": float(len(times) - len(done)),
        "median_ms": 1000 * statistics.median(done) if done else float("nan"),
        "max_ms": 1000 * max(done) if done else float("nan"),
    }


def measure(kind: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    proc, port = serverproc.start(__file__, kind)
    try:
        return {
            "burst": asyncio.run(burst(port, args.concurrency, args.requests)),
            "slowloris": asyncio.run(slowloris(port, args.slow)),
        }
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def shutdown_time(slow: int) -> float:
    """``smtpfake serve`` with ``slow`` idle HTTP connections, as many open SMTP sessions and one
    event stream: SIGTERM -> exit."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smtpfake", "serve", "--port", "0", "--api-port", "0",
        "--log-format", "json",
        stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), STEP_TIMEOUT)
        listening = json.loads(line)
        port = int(listening["api"].rsplit(":", 1)[1])
        # its log (a line per session event) must be read, or a full pipe would stop it
        drain = asyncio.ensure_future(proc.stdout.read())
        held = await hold_slow(port, slow)
        for _ in range(slow):  # SMTP sessions, greeted and left open
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(HOST, listening["smtp"]["port"]), STEP_TIMEOUT
                )
                await asyncio.wait_for(reader.readline(), STEP_TIMEOUT)
            except (OSError, asyncio.TimeoutError):
                break
            held.append(writer)
        _, events = await asyncio.open_connection(HOST, port)
        events.write(f"GET /api/events HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        await asyncio.sleep(0.2)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), STEP_TIMEOUT)
        elapsed = time.monotonic() - started
        for writer in [*held, events]:
            writer.close()
        await drain
        return elapsed
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", choices=("smtpfake", "baseline"))
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--slow", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    raise_fd_limit(4 * args.slow + 1000)
    if args.serve:
        asyncio.run(serve_smtpfake() if args.serve == "smtpfake" else serve_baseline())
        return
    results: dict[str, list[dict[str, dict[str, float]]]] = {"smtpfake": [], "baseline": []}
    for _ in range(args.rounds):
        for kind in ("smtpfake", "baseline"):
            results[kind].append(measure(kind, args))
    print(f"{args.concurrency} clients x {args.requests} requests; {args.slow} slowloris "
          f"connections; {args.rounds} rounds, medians")  # fmt: skip
    print(f"{'':34}{'smtpfake':>12}{'baseline':>12}")
    for test, fields in (
        ("burst", ("unanswered", "p50_ms", "p99_ms")),
        ("slowloris", ("held", "unanswered", "median_ms", "max_ms")),
    ):
        for name in fields:
            cells = [
                statistics.median(r[test][name] for r in results[kind])
                for kind in ("smtpfake", "baseline")
            ]
            print(f"{test + ' ' + name:34}{cells[0]:>12.1f}{cells[1]:>12.1f}")
    stops = [asyncio.run(shutdown_time(args.slow)) for _ in range(args.rounds)]
    print(f"{'SIGTERM to exit, s (smtpfake)':34}{statistics.median(stops):>12.2f}")
    print(f"  (with {args.slow} idle HTTP connections, {args.slow} open SMTP sessions, one stream)")


if __name__ == "__main__":
    main()
