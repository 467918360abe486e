"""CPU per line of message text, by the shape of its lines and the server's line-ending
settings: the wire (smtpfake/wire/protocol.py) and the engine taking a message of one repeated
line in 64 KiB reads, with a transport that only counts writes (no kernel, no event loop). A
read is taken in one call, so the CPU a read costs is how long it holds every other session.

Made for fresh20 F2 (lines a bare CR ends under ``bare_cr: clean`` cost ~100x a CRLF line);
``--baseline DIR`` runs the same in another checkout, in alternating rounds.

Usage: python bench/text_shapes.py [--megabytes 2] [--rounds 3] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

from session_cpu import CountingTransport, child_output

#: (name, server settings, the repeated line)
SHAPES: tuple[tuple[str, dict[str, str], bytes], ...] = (
    ("a CRLF", {}, b"a\r\n"),
    ("a CRLF, clean", {"bare_cr": "clean"}, b"a\r\n"),
    ("a CR, clean", {"bare_cr": "clean"}, b"a\r"),
    ("78 CRLF, clean", {"bare_cr": "clean"}, b"x" * 76 + b"\r\n"),
    ("78 CR, clean", {"bare_cr": "clean"}, b"x" * 77 + b"\r"),
    ("a CR .b CR, clean", {"bare_cr": "clean"}, b"a\r.b\r"),
    ("a CR, clean, reject LF", {"bare_cr": "clean", "bare_lf": "reject"}, b"a\r"),
    ("a LF", {}, b"a\n"),
    ("a LF, normalize", {"bare_lf": "normalize"}, b"a\n"),
    ("a CR, accept", {}, b"a\r"),
    ("a LF .LF, normalize", {"bare_lf": "normalize"}, b"a\n.\n"),
    ("a CR .LF, clean+normalize", {"bare_cr": "clean", "bare_lf": "normalize"}, b"a\r.\n"),
    ("1024 CRLF, clean", {"bare_cr": "clean"}, b"x" * 1022 + b"\r\n"),
    ("1024 CR at 5, clean", {"bare_cr": "clean"}, b"x" * 5 + b"\r" + b"x" * 1016 + b"\r\n"),
    ("1024 CR at 5, accept", {}, b"x" * 5 + b"\r" + b"x" * 1016 + b"\r\n"),
    ("1024 CRLF", {}, b"x" * 1022 + b"\r\n"),
)
START = b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n"
READ = 65536


def measure(shape: int, megabytes: float) -> tuple[float, float]:
    """(CPU microseconds a line, CPU milliseconds of the costliest read) for SHAPES[shape]."""
    from smtpfake.server import Server
    from smtpfake.wire.protocol import Wire, read_buffer

    _, settings, line = SHAPES[shape]
    scenario = {"summary": "bench", "expect": "bench", "server": settings}
    server = Server(scenario)  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()  # never run: the wire only arms timers on it
    buffer = read_buffer()
    wire = Wire(server, loop, buffer)
    transport = CountingTransport()
    wire.connection_made(transport)  # type: ignore[arg-type]

    def feed(data: bytes) -> float:
        started = time.process_time()
        buffer[: len(data)] = data
        wire.buffer_updated(len(data))
        return time.process_time() - started

    for command in START.splitlines(keepends=True):
        feed(command)
    read = line * (READ // len(line))
    reads = max(1, int(megabytes * 2**20) // len(read))
    took = [feed(read) for _ in range(reads)]
    feed(b"\r\n.\r\nQUIT\r\n")
    wire.eof_received()
    wire.connection_lost(None)
    loop.close()
    assert not server.errors, server.errors
    assert len(server.messages) == 1 and len(server.messages[0].data) >= reads * len(read) // 2
    ends = line.count(b"\r") + line.count(b"\n") - line.count(b"\r\n")  # (a CR ending one too)
    lines = reads * (READ // len(line)) * ends
    return sum(took) / lines * 1e6, max(took) * 1e3


def child(source: str | None, shape: int, megabytes: float) -> tuple[float, float]:
    out = child_output(__file__, source, "--measure", str(shape), "--megabytes", str(megabytes))
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", metavar="DIR", help="also measure this checkout's smtpfake")
    parser.add_argument("--only", default="", help="only the shapes whose name holds this")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        per_line, worst = measure(args.measure, args.megabytes)
        print(f"{per_line:.3f} {worst:.1f}")
        return
    trees: dict[str, str | None] = {"smtpfake": None}
    if args.baseline:
        trees["baseline"] = args.baseline
    print(
        f"{args.megabytes} MB of one line a message, {READ} octets a read, {args.rounds} "
        f"alternating rounds (median); python {sys.version.split()[0]}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'':<28}" + "".join(f"{name + ' us/line':>20}{'ms/read':>9}" for name in trees))
    for shape, (name, _, _) in enumerate(SHAPES):
        if args.only not in name:
            continue
        results: dict[str, list[tuple[float, float]]] = {tree: [] for tree in trees}
        for _ in range(args.rounds):  # alternating: noise from other work hits both alike
            for tree, source in trees.items():
                results[tree].append(child(source, shape, args.megabytes))
        row = "".join(
            f"{statistics.median(v[0] for v in values):>20.3f}"
            f"{statistics.median(v[1] for v in values):>9.1f}"
            for values in results.values()
        )
        print(f"{name:<28}{row}", flush=True)


if __name__ == "__main__":
    main()
