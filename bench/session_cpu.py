"""CPU per session of smtpfake's own code on the per-connection path, without the kernel or the
event loop: the wire (smtpfake/wire/protocol.py) driven through one smtp-source-like session
(greeting, HELO as smtp-source sends it, MAIL, RCPT, DATA, a 1 KB message, QUIT, the client's
EOF, the close) with a transport that only counts writes, the engine, the journal and the
cyclic garbage collector.
Far steadier on a shared machine than a socket benchmark (bench/smtp_source.py measures the
whole server); ``--baseline DIR`` runs the same in another checkout, in alternating rounds.

Usage: python bench/session_cpu.py [--sessions 5000] [--rounds 5] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import time
from typing import Any

BODY = b"From: a@x.test\r\nTo: b@y.test\r\nSubject: bench\r\n\r\n" + (b"x" * 78 + b"\r\n") * 12
LINES = (
    b"HELO client.test\r\n",
    b"MAIL FROM:<a@x.test>\r\n",
    b"RCPT TO:<b@y.test>\r\n",
    b"DATA\r\n",
    BODY + b".\r\n",
    b"QUIT\r\n",
)


class CountingTransport:
    """The transport methods the wire calls on this path; writes are only counted."""

    def __init__(self) -> None:
        self.closing = False
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0  # every write taken at once, as by a socket with room

    def resume_reading(self) -> None:
        pass


def measure(sessions: int) -> tuple[float, float]:
    """(CPU microseconds per session, of which in the garbage collector)."""
    from smtpfake.server import Server
    from smtpfake.wire.protocol import Wire, read_buffer

    server = Server("default")
    loop = asyncio.new_event_loop()  # never run: the wire only arms timers on it
    buffer = read_buffer()
    in_gc = [0.0, 0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            in_gc[1] = time.process_time()
        else:
            in_gc[0] += time.process_time() - in_gc[1]

    def run(count: int) -> None:
        for _ in range(count):
            wire = Wire(server, loop, buffer)
            transport = CountingTransport()
            wire.connection_made(transport)  # type: ignore[arg-type]
            for line in LINES:
                buffer[: len(line)] = line
                wire.buffer_updated(len(line))
            wire.eof_received()
            wire.connection_lost(None)
            assert transport.writes == 7 and transport.closing

    run(min(sessions, 500))  # warm the caches
    server.journal.clear()
    gc.callbacks.append(timed)
    started = time.process_time()
    run(sessions)
    took = time.process_time() - started
    gc.callbacks.remove(timed)
    assert not server.errors, server.errors
    assert len(server.messages) == sessions
    assert not any(s.violations for s in server.sessions)
    loop.close()
    return took / sessions * 1e6, in_gc[0] / sessions * 1e6


def child_output(script: str, source: str | None, *args: str) -> list[str]:
    """The words ``script ARGS`` prints, run in a child with smtpfake imported from ``source``
    (None: this checkout)."""
    env = {**os.environ, "PYTHONPATH": os.path.abspath(source)} if source else None
    return subprocess.run(
        [sys.executable, script, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout.split()


def child(source: str | None, sessions: int) -> tuple[float, float]:
    out = child_output(__file__, source, "--measure", str(sessions))
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", metavar="DIR", help="also measure this checkout's smtpfake")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        cpu, collector = measure(args.measure)
        print(f"{cpu:.2f} {collector:.2f}")
        return
    trees: dict[str, str | None] = {"smtpfake": None}
    if args.baseline:
        trees["baseline"] = args.baseline
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for _ in range(args.rounds):  # alternating: noise from other work hits both alike
        for name, tree in trees.items():
            results[name].append(child(tree, args.sessions))
    print(
        f"{args.sessions} sessions in-process, {args.rounds} alternating rounds; "
        f"python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'':<10} {'us/session':>10} {'min':>7} {'of it GC':>9}")
    for name, values in results.items():
        per_session = [v[0] for v in values]
        collector = statistics.median(v[1] for v in values)
        middle, least = statistics.median(per_session), min(per_session)
        print(f"{name:<10} {middle:>10.1f} {least:>7.1f} {collector:>9.1f}")


if __name__ == "__main__":
    main()
