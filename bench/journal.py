"""What the journal costs: memory per accepted message, and whether listing a full journal holds
up SMTP replies to other clients.

1. Memory: ``smtpfake serve`` in its own process accepts MESSAGES messages of SIZE MiB; its
   resident memory (VmRSS) is read before and after, and the growth per message is printed next
   to the message's own size (the baseline: one copy).
2. Listing: a server in this process, its journal filled to the default bounds through the
   journal's own interface (10,000 sessions of ENTRIES transcript entries, 10,000 messages); a
   thread lists it (``sessions()`` and ``messages()``) over and over while one client times NOOP
   round trips; the same NOOPs are timed with no listing, in alternating rounds.
Loopback only; every loop is bounded in count and time.

Usage: python bench/journal.py [--messages 10] [--size 30] [--entries 100] [--noops 2000]
"""

from __future__ import annotations

import argparse
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from smtpfake.engine.records import Message, SessionInfo, TranscriptEntry
from smtpfake.server import Server

HOST = "127.0.0.1"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def memory(messages: int, size_mib: int) -> tuple[float, float]:
    """(MiB of RSS growth per message, MiB of each message)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    total = messages * (size_mib + 1) * 1024 * 1024
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smtpfake",
            "serve",
            "--port",
            str(port),
            "--journal-message-bytes",
            str(total),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        assert b"listening" in proc.stdout.readline()
        subprocess.Popen(["cat"], stdin=proc.stdout, stdout=subprocess.DEVNULL)
        body = ("x" * 998 + "\r\n") * (size_mib * 1024 * 1024 // 1000)
        message = f"Subject: m\r\n\r\n{body}"
        with smtplib.SMTP(HOST, port, timeout=120) as client:
            client.sendmail("a@x.test", ["b@x.test"], message)  # warm-up: buffers, imports
            time.sleep(0.5)
            before = rss_kib(proc.pid)
            for _ in range(messages):
                client.sendmail("a@x.test", ["b@x.test"], message)
        time.sleep(0.5)
        after = rss_kib(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    return (after - before) / 1024 / messages, len(message) / 1024 / 1024


def fill(server: Server, entries: int) -> None:
    journal = server.journal
    for i in range(journal.limits.sessions):
        info = SessionInfo(index=i + 1, peer=f"127.0.0.1:{i}", started=float(i))
        journal.started(info)
        for j in range(entries):
            journal.transcript(info, TranscriptEntry(float(j), "client", f"RCPT TO:<u{j}@x.test>"))
        journal.message(info, Message("a@x.test", ("b@x.test",), b"x" * 1000, i, 0.0, f"Q{i}"))
        journal.ended(info, float(i))


def noop_latencies(server: Server, count: int) -> list[float]:
    out = []
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        for _ in range(count):
            start = time.perf_counter()
            sock.sendall(b"NOOP\r\n")
            assert reader.readline().startswith(b"250")
            out.append(time.perf_counter() - start)
        sock.sendall(b"QUIT\r\n")
    return out


def lister(server: Server, stop: threading.Event, listings: list[int]) -> None:
    """List the whole journal until ``stop`` (at most 120 s), counting the listings."""
    deadline = time.monotonic() + 120
    while not stop.is_set() and time.monotonic() < deadline:
        server.journal.sessions()
        server.journal.messages()
        listings[0] += 1


def listing(entries: int, noops: int, rounds: int = 3) -> None:
    with Server() as server:
        start = time.perf_counter()
        fill(server, entries)
        took = time.perf_counter() - start
        print(f"filled {server.journal.counts().sessions_started:,} sessions in {took:.1f} s")
        for label in ("first (every snapshot made)", "again (nothing changed since)"):
            start = time.perf_counter()
            server.journal.sessions()
            took = (time.perf_counter() - start) * 1000
            print(f"sessions() on a full journal, {label}: {took:.2f} ms")
        quiet: list[float] = []
        busy: list[float] = []
        listings = [0]
        for _ in range(rounds):
            quiet += noop_latencies(server, noops)
            stop = threading.Event()
            thread = threading.Thread(target=lister, args=(server, stop, listings))
            thread.start()
            busy += noop_latencies(server, noops)
            stop.set()
            thread.join()
        print(f"NOOP round trip (ms), {rounds} alternating rounds of {noops}:")
        for name, values in (("no listing", quiet), (f"listing ({listings[0]:,} listings)", busy)):
            values = sorted(values)
            p99 = values[int(len(values) * 0.99)]
            print(
                f"  {name:28} median {statistics.median(values) * 1000:6.2f}"
                f"  p99 {p99 * 1000:6.2f}  max {values[-1] * 1000:6.2f}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--size", type=int, default=30, help="MiB per message")
    parser.add_argument("--entries", type=int, default=100, help="transcript entries per session")
    parser.add_argument("--noops", type=int, default=2000)
    args = parser.parse_args()
    growth, size = memory(args.messages, args.size)
    print(f"RSS growth per accepted message: {growth:.1f} MiB for a {size:.1f} MiB message")
    listing(args.entries, args.noops)
    return 0


if __name__ == "__main__":
    sys.exit(main())
