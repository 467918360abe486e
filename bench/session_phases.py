"""Where a session's CPU goes, callback by callback: the wire, engine and journal driven as in
bench/session_cpu.py (a counting transport, one smtp-source-like session: connect, HELO, MAIL,
RCPT, DATA, the message and its ".", QUIT, the client's EOF, the close), each callback timed on
its own, in microseconds per session.

``--sweep KB`` runs the same with a sweep through KB kilobytes of memory before every callback:
what a real server meets, where the kernel's network path and the client run on the same core
between two callbacks and leave little of smtpfake's code and data in the CPU caches (4000 KB
made smtpfake's own Python about 1.8 times as costly here, a minimal sink's hardly at all).
``--baseline DIR`` measures another checkout in alternating rounds.

Usage: python bench/session_phases.py [--sessions 2000] [--rounds 5] [--sweep KB] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

from session_cpu import LINES, CountingTransport, child_output  # bench/: the script's directory

PHASES = ("connect", "HELO", "MAIL", "RCPT", "DATA", "text+.", "QUIT", "EOF", "lost")


def measure(sessions: int, sweep_kb: int) -> list[float]:
    """Microseconds per session spent in each of PHASES (the callbacks alone, not the sweep)."""
    import asyncio

    from smtpfake.server import Server
    from smtpfake.wire.protocol import Wire, read_buffer

    server = Server("default")
    loop = asyncio.new_event_loop()  # never run: the wire only arms timers on it
    buffer = read_buffer()
    memory = bytearray(sweep_kb * 1000)
    zeros = bytes(len(memory[::64]))
    spent = [0] * len(PHASES)
    clock = time.perf_counter_ns

    def sweep() -> None:
        if memory:
            memory[::64] = zeros  # one write per 64-octet cache line

    def run(count: int, keep: bool) -> None:
        for _ in range(count):
            sweep()
            started = clock()
            wire = Wire(server, loop, buffer)
            transport = CountingTransport()
            wire.connection_made(transport)  # type: ignore[arg-type]
            took = [clock() - started]
            for line in LINES:
                sweep()
                buffer[: len(line)] = line
                started = clock()
                wire.buffer_updated(len(line))
                took.append(clock() - started)
            for event in (wire.eof_received, lambda w=wire: w.connection_lost(None)):
                sweep()
                started = clock()
                event()
                took.append(clock() - started)
            assert transport.writes == 7 and transport.closing
            if keep:
                for i, ns in enumerate(took):
                    spent[i] += ns

    run(min(sessions, 300), keep=False)  # warm up
    # the cyclic collector off while timing: it would land on whichever callback allocates
    # past its threshold (bench/session_cpu.py gives its share)
    gc.collect()
    gc.disable()
    try:
        run(sessions, keep=True)
    finally:
        gc.enable()
    assert not server.errors, server.errors
    loop.close()
    return [ns / sessions / 1000 for ns in spent]


def child(source: str | None, sessions: int, sweep_kb: int) -> list[float]:
    out = child_output(__file__, source, "--measure", str(sessions), "--sweep", str(sweep_kb))
    return [float(v) for v in out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sweep", type=int, default=0, metavar="KB")
    parser.add_argument("--baseline", metavar="DIR", help="also measure this checkout's smtpfake")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(" ".join(f"{v:.2f}" for v in measure(args.measure, args.sweep)))
        return
    trees: dict[str, str | None] = {"smtpfake": None}
    if args.baseline:
        trees["baseline"] = args.baseline
    results: dict[str, list[list[float]]] = {name: [] for name in trees}
    for _ in range(args.rounds):  # alternating: noise from other work hits both alike
        for name, tree in trees.items():
            results[name].append(child(tree, args.sessions, args.sweep))
    print(
        f"{args.sessions} sessions in-process, {args.rounds} alternating rounds, "
        f"{args.sweep} KB swept before each callback; python {sys.version.split()[0]}; "
        f"load average {os.getloadavg()[0]:.1f}; us per session, the least of the rounds "
        "(other work on the machine only adds), the cyclic collector off"
    )
    print(f"{'callback':<10}" + "".join(f" {name:>10}" for name in trees))
    least = {
        name: [min(r[i] for r in rounds) for i in range(len(PHASES))]
        for name, rounds in results.items()
    }
    for i, phase in enumerate(PHASES):
        print(f"{phase:<10}" + "".join(f" {least[name][i]:>10.1f}" for name in trees))
    print(f"{'total':<10}" + "".join(f" {sum(least[name]):>10.1f}" for name in trees))


if __name__ == "__main__":
    main()
