"""A client that pipelines many NOOPs in one send, reads nothing for half a second, then reads
every reply: the wall time until the last reply came, for ``smtpfake serve`` of this checkout
and (``--baseline DIR``) of another one, in alternating rounds. The journal keeps every entry
(``--journal-entries``), so a cost per entry that grows with the session shows here; a run that
gets nothing for ``--stall`` seconds is reported as a stall with the replies it got.

Usage: python bench/unread_flood.py [--noops 200000] [--loop uvloop] [--baseline DIR]
       [--rounds 2] [--stall 8]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request

OK = b"250 2.0.0 Ok\r\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one(tree: str, args: argparse.Namespace) -> str:
    """One round against ``serve`` run from ``tree``: seconds to the last reply, or a stall."""
    smtp, api = _free_port(), _free_port()
    env = {**os.environ, "PYTHONPATH": os.path.abspath(tree)}
    command = [sys.executable, "-m", "smtpfake", "serve", "--loop", args.loop, "--quiet"]
    command += ["--port", str(smtp), "--api-port", str(api), "--journal-entries", "10000000"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):  # at most about 20 s to start
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{api}/api/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", smtp), timeout=5) as client:
            client.recv(1000)
            client.sendall(b"EHLO bench.test\r\n")
            time.sleep(0.1)
            client.recv(1000)
            client.sendall(b"NOOP\r\n" * args.noops)
            time.sleep(0.5)
            started = last = time.monotonic()
            client.settimeout(0.5)
            want, got = args.noops * len(OK), 0
            while got < want:
                try:
                    chunk = client.recv(1 << 20)
                except TimeoutError:
                    if time.monotonic() - last > args.stall:
                        return f"STALL after {got // len(OK)} replies"
                    continue
                if not chunk:
                    return f"EOF after {got // len(OK)} replies"
                got += len(chunk)
                last = time.monotonic()
            return f"{last - started:6.2f} s"
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--noops", type=int, default=200_000)
    parser.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    parser.add_argument("--baseline", help="another checkout, measured in the same run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--stall", type=float, default=8.0)
    args = parser.parse_args()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trees = [("this", here)] + ([("baseline", args.baseline)] if args.baseline else [])
    print(f"{args.noops} pipelined NOOPs read after 0.5 s, loop {args.loop}")
    for n in range(args.rounds):
        for name, tree in trees if n % 2 == 0 else trees[::-1]:
            print(f"  round {n + 1} {name:8s} {one(tree, args)}", flush=True)


if __name__ == "__main__":
    main()
