"""Messages per second through smtpfake (with a busy rule set, and ``default``) and bare aiosmtpd.

Each server runs in its own process; the client is aiosmtplib in this process. Servers:
- ``smtpfake busy``: 50 rules, none of which ever fires, but all of which the engine has to check
  on every command: 20 on MAIL/RCPT whose ``match`` glob fails, 15 on any stage that count per
  client+sender (``after: 1e9``), 15 on any stage with ``probability: 1e-9`` (one RNG draw each);
- ``smtpfake default``: no rules;
- ``aiosmtpd sink``: aiosmtpd's SMTP class with a handler that only keeps the message.
Two ways to send 1 KB messages: CONNECTIONS reused connections sending one message after another,
and a new connection per message (CONNECTIONS at a time: connect, EHLO, MAIL, RCPT, DATA, QUIT).
Each server reports how many messages it accepted, which must equal the number sent. Loopback
only; every loop is bounded in count and in time.

Usage: python bench/throughput.py [--messages 3000] [--connections 10] [--seconds 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import aiosmtplib
import serverproc  # bench/ is the script's directory, so first on sys.path

HOST = "127.0.0.1"
SERVERS = ("smtpfake-busy", "smtpfake-default", "aiosmtpd-sink")
BODY = b"From: a@x.test\r\nTo: b@y.test\r\nSubject: bench\r\n\r\n" + (b"x" * 78 + b"\r\n") * 12
BODY = BODY + b"y" * (1024 - len(BODY) - 2) + b"\r\n"  # exactly 1 KB
assert len(BODY) == 1024


def busy_scenario() -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    rules += [
        {"on": ["mail", "rcpt"], "match": f"*@nowhere-{i}.test", "reply": "550 5.1.1 never"}
        for i in range(20)
    ]
    rules += [
        {"on": "any", "per": "client+sender", "after": 10**9, "reply": "451 4.3.0 never"}
        for _ in range(15)
    ]
    rules += [{"on": "any", "probability": 1e-9, "delay": 0} for _ in range(15)]
    return {"summary": "bench: 50 rules that never fire", "expect": "n/a", "rules": rules}


# -- the servers (run with --serve KIND in a child process) -------------------------------------


async def serve_smtpfake(busy: bool) -> int:
    from smtpfake.server import Server

    server = Server(busy_scenario() if busy else "default")
    if busy:
        assert len(server.scenario.rules) == 50
    stop = asyncio.Event()
    task = asyncio.create_task(server.serve(stop, ready=lambda: serverproc.announce(server.port)))
    await serverproc.wait_for_stdin_eof()
    stop.set()
    await task
    if server.errors:
        raise RuntimeError("\n".join(str(e) for e in server.errors))
    if any(s.violations for s in server.sessions):
        raise RuntimeError("the client was recorded doing something wrong")
    return len(server.messages)  # the journal keeps 10,000: main() sends no more


async def serve_aiosmtpd() -> int:
    from aiosmtpd.smtp import SMTP

    class Sink:
        def __init__(self) -> None:
            self.count = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.count += 1
            return "250 OK"

    sink = Sink()
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(
        lambda: SMTP(sink, hostname="aiosmtpd.test", timeout=60), HOST, 0
    )
    serverproc.announce(listener.sockets[0].getsockname()[1])
    await serverproc.wait_for_stdin_eof()
    listener.close()
    return sink.count


def serve(kind: str) -> None:
    if kind == "aiosmtpd-sink":
        count = asyncio.run(serve_aiosmtpd())
    else:
        count = asyncio.run(serve_smtpfake(kind == "smtpfake-busy"))
    print(f"COUNT {count}", flush=True)


# -- the client ----------------------------------------------------------------------------------


async def reused(port: int, total: int, connections: int, deadline: float) -> int:
    """``connections`` connections, each sending its share of ``total`` one after another."""

    async def one(share: int) -> int:
        sent = 0
        async with aiosmtplib.SMTP(hostname=HOST, port=port, timeout=10) as client:
            for _ in range(share):
                if time.monotonic() > deadline:
                    break
                errors, _ = await client.sendmail("a@x.test", ["b@y.test"], BODY)
                assert not errors, errors
                sent += 1
        return sent

    shares = [total // connections + (i < total % connections) for i in range(connections)]
    return sum(await asyncio.gather(*(one(s) for s in shares)))


async def per_connection(port: int, total: int, connections: int, deadline: float) -> int:
    """A new connection per message, ``connections`` of them at a time."""
    remaining = total

    async def worker() -> int:
        nonlocal remaining
        sent = 0
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            errors, _ = await aiosmtplib.send(
                BODY,
                sender="a@x.test",
                recipients=["b@y.test"],
                hostname=HOST,
                port=port,
                timeout=10,
            )
            assert not errors, errors
            sent += 1
        return sent

    return sum(await asyncio.gather(*(worker() for _ in range(connections))))


@dataclass(frozen=True)
class Result:
    server: str
    mode: str
    sent: int
    seconds: float
    accepted: int

    @property
    def rate(self) -> float:
        return self.sent / self.seconds


def run_server(kind: str) -> tuple[subprocess.Popen[str], int]:
    return serverproc.start(__file__, kind)


def stop_server(proc: subprocess.Popen[str]) -> int:
    """Stop the server; the number of messages it accepted."""
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"server exited with status {proc.returncode}")
    return int(out.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0, help="cap per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best of each is shown")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if not 0 < args.messages <= 10_000:
        sys.exit("--messages: 1 to 10,000 (smtpfake's journal keeps the last 10,000 messages)")

    modes = {"reused": reused, "per-connection": per_connection}
    # Rounds interleave the servers, and each cell keeps its best round: on a shared machine the
    # noise only ever slows a run down.
    results: dict[tuple[str, str], Result] = {}
    for _ in range(args.repeat):
        for mode, send in modes.items():
            for kind in SERVERS:
                proc, port = run_server(kind)
                accepted = -1
                try:
                    start = time.perf_counter()
                    deadline = time.monotonic() + args.seconds
                    sent = asyncio.run(send(port, args.messages, args.connections, deadline))
                    seconds = time.perf_counter() - start
                finally:
                    accepted = stop_server(proc)
                if accepted != sent:
                    raise RuntimeError(f"{kind}: sent {sent} but the server accepted {accepted}")
                result = Result(kind, mode, sent, seconds, accepted)
                best = results.get((mode, kind))
                if best is None or result.rate > best.rate:
                    results[mode, kind] = result

    print(
        f"1 KB messages, {args.connections} client connections at a time (aiosmtplib "
        f"{aiosmtplib.__version__}, its own process); best of {args.repeat} rounds; "
        f"python {sys.version.split()[0]}"
    )
    head = (
        f"{'mode':<15} {'server':<17} {'messages':>8} {'seconds':>8} {'msg/s':>8} "
        f"{'vs aiosmtpd':>12}"
    )
    print(head)
    print("-" * len(head))
    for r in results.values():
        base = results[r.mode, "aiosmtpd-sink"]
        print(
            f"{r.mode:<15} {r.server:<17} {r.sent:>8} {r.seconds:>8.2f} {r.rate:>8.0f} "
            f"{r.rate / base.rate:>11.2f}x"
        )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
