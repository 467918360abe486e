"""How long ``smtpfake serve`` takes to exit on SIGTERM: idle, with many open connections, and
after a large journal (the README promises a second).

Each case starts ``smtpfake serve`` (port 0 is not offered by serve, so a free port is picked
and bound just before), sets it up, sends SIGTERM and times until the process has exited:
- idle: nothing open;
- connections: CONNS connections, each greeted and past EHLO, left open;
- journal: MESSAGES messages of SIZE MiB accepted first (the journal's byte bound raised to hold
  them all), then SIGTERM with nothing open.
Rounds interleave the cases so noise from other processes spreads over all of them; the median
and the worst are printed. Loopback only; every wait is bounded.

Usage: python bench/shutdown.py [--rounds 3] [--conns 1000] [--messages 14] [--size 30]
"""

from __future__ import annotations

import argparse
import resource
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import time

HOST = "127.0.0.1"
EXIT_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start(extra: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpfake", "serve", "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "smtpfake ... listening on ..."
    if b"listening" not in line:
        proc.kill()
        raise RuntimeError(f"serve did not start: {line!r}")
    # the session log goes to stdout: drain it so the server never blocks writing it
    subprocess.Popen(["cat"], stdin=proc.stdout, stdout=subprocess.DEVNULL)
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> float:
    start = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(EXIT_TIMEOUT)
    elapsed = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"serve exited {code}")
    return elapsed


def idle() -> float:
    proc, _ = start([])
    return stop(proc)


def connections(count: int) -> float:
    proc, port = start([])
    socks = []
    try:
        for _ in range(count):
            s = socket.create_connection((HOST, port), timeout=10)
            socks.append(s)
        for s in socks:
            s.sendall(b"EHLO bench.test\r\n")
        for s in socks:  # the greeting and the EHLO reply, before the signal
            got = b""
            for _ in range(100):
                got += s.recv(65536)
                if got.count(b"\r\n250 ") or (got.endswith(b"\r\n") and b"250 " in got):
                    break
        return stop(proc)
    finally:
        for s in socks:
            s.close()


def journal(messages: int, size_mib: int) -> float:
    total = messages * size_mib * 1024 * 1024
    proc, port = start(["--journal-message-bytes", str(total + 1)])
    body = ("x" * 998 + "\r\n") * (size_mib * 1024 * 1024 // 1000)
    with smtplib.SMTP(HOST, port, timeout=120) as client:
        for i in range(messages):
            client.sendmail("a@x.test", ["b@x.test"], f"Subject: {i}\r\n\r\n{body}")
    return stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--conns", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=14)
    parser.add_argument("--size", type=int, default=30, help="MiB per message")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.conns + 200)), hard))
    times: dict[str, list[float]] = {"idle": [], "connections": [], "journal": []}
    for _ in range(args.rounds):
        times["idle"].append(idle())
        times["connections"].append(connections(args.conns))
        times["journal"].append(journal(args.messages, args.size))
    print(f"SIGTERM to exit, {args.rounds} interleaved rounds")
    labels = {
        "idle": "idle (baseline)",
        "connections": f"{args.conns} open connections",
        "journal": f"after {args.messages} x {args.size} MiB in the journal",
    }
    for case, values in times.items():
        print(
            f"  {labels[case]:40} median {statistics.median(values):6.2f} s   "
            f"worst {max(values):6.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
