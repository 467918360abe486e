"""Memory per idle session: smtpfake (default scenario) and bare aiosmtpd, side by side.

Each server runs in its own process and reports its resident set size (VmRSS, Linux) on request.
The client (this process, plain sockets) opens SESSIONS connections, reads each greeting and sends
EHLO, then, with all of them open and idle, asks the server for its RSS; the figure is the RSS
growth over the server's RSS before the first connection, divided by SESSIONS. Every session must
have been accepted (each answered its EHLO). Servers run in interleaved rounds; the report gives
the median per-session figure and the median ratio of the rounds. Loopback only; bounded.

Usage: python bench/idle_memory.py [--sessions 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

import serverproc  # bench/ is the script's directory, so first on sys.path

HOST = "127.0.0.1"
SERVERS = ("smtpfake", "aiosmtpd")
STEP_TIMEOUT = 60.0  # opening and greeting all sessions


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


# -- the servers (run with --serve KIND in a child process) -------------------------------------


async def answer_rss_requests() -> None:
    """Each line on stdin asks for the RSS; EOF stops the server."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        print(f"RSS {rss_kib()}", flush=True)


async def serve_smtpfake() -> None:
    from smtpfake.server import Server

    server = Server("default", idle_timeout=600)
    stop = asyncio.Event()
    task = asyncio.create_task(server.serve(stop, ready=lambda: serverproc.announce(server.port)))
    await answer_rss_requests()
    stop.set()
    await task


async def serve_aiosmtpd() -> None:
    from aiosmtpd.smtp import SMTP

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    loop = asyncio.get_running_loop()
    listener = await loop.create_server(
        lambda: SMTP(Sink(), hostname="aiosmtpd.test", timeout=600), HOST, 0, backlog=4096
    )
    serverproc.announce(listener.sockets[0].getsockname()[1])
    await answer_rss_requests()
    listener.close()


def serve(kind: str) -> None:
    raise_fd_limit()
    asyncio.run(serve_smtpfake() if kind == "smtpfake" else serve_aiosmtpd())


# -- the client ----------------------------------------------------------------------------------


def raise_fd_limit() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def ask_rss(proc: subprocess.Popen[str]) -> int:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("rss\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if not line.startswith("RSS "):
        raise RuntimeError(f"unexpected answer {line!r}")
    return int(line.split()[1])


def open_idle(port: int, count: int) -> list[socket.socket]:
    """``count`` connections, each greeted and past EHLO (non-blocking, one selector)."""
    sel = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    deadline = time.monotonic() + STEP_TIMEOUT
    waiting: dict[socket.socket, int] = {}  # socket -> replies still due (220, 250)
    received: dict[socket.socket, bytes] = {}
    for _ in range(count):
        sock = socket.create_connection((HOST, port), timeout=STEP_TIMEOUT)
        sock.setblocking(False)
        socks.append(sock)
        waiting[sock] = 2
        received[sock] = b""
        sel.register(sock, selectors.EVENT_READ)
        drain(sel, waiting, received, 0)
    while waiting:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(waiting)} sessions were not answered in time")
        drain(sel, waiting, received, 1.0)
    sel.close()
    return socks


def drain(
    sel: selectors.BaseSelector,
    waiting: dict[socket.socket, int],
    received: dict[socket.socket, bytes],
    timeout: float,
) -> None:
    for key, _ in sel.select(timeout):
        sock: Any = key.fileobj
        data = sock.recv(4096)
        if not data:
            raise RuntimeError("the server closed an idle session")
        received[sock] += data
        text = received[sock]
        if waiting[sock] == 2 and text.endswith(b"\r\n") and text.startswith(b"220"):
            received[sock] = b""
            waiting[sock] = 1
            sock.send(b"EHLO client.test\r\n")
        elif waiting[sock] == 1 and b"\r\n250 " in b"\r\n" + text and text.endswith(b"\r\n"):
            del waiting[sock]
            sel.unregister(sock)


def measure(kind: str, sessions: int) -> float:
    """KiB of server RSS per idle session."""
    proc, port = serverproc.start(__file__, kind)
    socks: list[socket.socket] = []
    try:
        time.sleep(0.2)
        before = ask_rss(proc)
        try:
            socks = open_idle(port, sessions)
        except RuntimeError as error:
            raise RuntimeError(f"{kind}: {error}") from None
        time.sleep(0.5)  # let the server settle (buffers, freed task memory)
        after = ask_rss(proc)
    finally:
        for sock in socks:
            sock.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=30)
    return (after - before) / sessions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    limit = raise_fd_limit()
    if limit < args.sessions + 100:
        sys.exit(f"the open-file limit is {limit}: not enough for {args.sessions} sessions")
    per: dict[str, list[float]] = {k: [] for k in SERVERS}
    for round_ in range(args.rounds):
        for kind in SERVERS if round_ % 2 == 0 else SERVERS[::-1]:
            per[kind].append(measure(kind, args.sessions))
    ratios = [f / a for f, a in zip(per["smtpfake"], per["aiosmtpd"], strict=True)]
    print(f"{args.sessions} idle sessions (greeted, after EHLO); {args.rounds} interleaved rounds")
    for kind in SERVERS:
        print(f"{kind:<10} {statistics.median(per[kind]):6.1f} KiB per session (median)")
    print(f"smtpfake / aiosmtpd: {statistics.median(ratios):.2f}x (median of the rounds' ratios)")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
