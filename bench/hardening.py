"""The hardening harness run long: the SMTP state machine and the garbage streams of
tests/hardening/smtp_machine.py (the same code ``pytest`` runs at a small budget), against one
smtpfake server on loopback, with the figures printed at the end.

Figures: sequences and streams run, commands and reply lines checked, messages acknowledged
(each found exactly once in the journal), 421s followed by a close, failures (the first is
shown, and the run stops), wall time and rate, the server process's peak RSS. For scale, the same
number of commands (up to 100,000) as a plain NOOP loop on one connection is timed in the same
run.

Usage: python bench/hardening.py [--sequences 100000] [--steps 30] [--streams 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import resource
import socket
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis.stateful import run_state_machine_as_test

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo, for tests/

from smtpfake.server import Server
from tests.hardening import smtp_machine as harness

#: sequences per hypothesis run (see main)
BATCH = 2_000


class Tally:
    commands = 0
    acked = 0
    closes = 0
    sequences = 0
    streams = 0
    reply_lines = 0


def instrument() -> None:
    """Count what the harness does, without changing what it checks."""
    command, closed, teardown = (
        harness.Client.command,
        harness.Client.closed,
        harness.SmtpMachine.teardown,
    )

    def counted_command(self: harness.Client, text: bytes) -> int:
        Tally.commands += 1
        return command(self, text)

    def counted_closed(self: harness.Client) -> bool:
        Tally.closes += 1
        return closed(self)

    def counted_teardown(self: harness.SmtpMachine) -> None:
        teardown(self)  # the journal check first: only what passed it is counted
        Tally.sequences += 1
        Tally.acked += sum(self.acked.values())

    harness.Client.command = counted_command  # type: ignore[method-assign]
    harness.Client.closed = counted_closed  # type: ignore[method-assign]
    harness.SmtpMachine.teardown = counted_teardown  # type: ignore[method-assign]


def describe(exc: BaseException) -> str:
    """The exception and, for hypothesis' groups (a flaky failure), each one inside it."""
    text = f"{type(exc).__name__}: {str(exc)[:2000]}"
    for inner in getattr(exc, "exceptions", ()):
        text += "\n  - " + describe(inner).replace("\n", "\n    ")
    return text


def noop_baseline(server: Server, count: int) -> float:
    """Seconds for ``count`` NOOP round trips on one connection (bounded by the socket timeout)."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        start = time.perf_counter()
        for _ in range(count):
            sock.sendall(b"NOOP\r\n")
            assert reader.readline().startswith(b"250")
        elapsed = time.perf_counter() - start
        sock.sendall(b"QUIT\r\n")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sequences", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=30, help="commands per sequence, at most")
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    instrument()
    failures: list[str] = []
    with Server(harness.SCENARIO) as server:
        harness.SmtpMachine.server = server
        common = settings(
            deadline=None,
            database=None,
            derandomize=False,
            report_multiple_bugs=False,
            suppress_health_check=list(HealthCheck),
        )
        start = time.perf_counter()
        # in batches: hypothesis keeps what it generated for the length of one run, so one run
        # of 100,000 would grow to gigabytes; each batch starts afresh (and draws afresh)
        left = args.sequences
        while left > 0 and not failures:
            batch = min(left, BATCH)
            left -= batch
            try:
                run_state_machine_as_test(
                    harness.SmtpMachine,
                    settings=settings(common, max_examples=batch, stateful_step_count=args.steps),
                )
            except Exception as exc:  # a failed invariant: reported with its shrunk example
                failures.append(f"state machine: {describe(exc)}")
            done = args.sequences - left
            print(f"... {done:,} of {args.sequences:,} sequences", file=sys.stderr, flush=True)
        machine_time = time.perf_counter() - start

        @settings(common, max_examples=args.streams)
        @given(data=harness.GARBAGE)
        def streams(data: bytes) -> None:
            server.reset()
            Tally.reply_lines += harness.garbage_stream(server, data)
            Tally.streams += 1

        start = time.perf_counter()
        try:
            streams()
        except Exception as exc:
            failures.append(f"garbage streams: {describe(exc)}")
        stream_time = time.perf_counter() - start
        # the rate matters, not the count: a long run's millions of commands are not repeated
        noops = min(max(Tally.commands, 1), 100_000)
        baseline = noop_baseline(server, noops)
        errors = len(server.errors)

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'':28}{'count':>12}{'seconds':>10}{'per second':>12}")
    rows = [
        ("sequences (state machine)", Tally.sequences, machine_time),
        ("  commands in them", Tally.commands, machine_time),
        ("  NOOP loop, for scale", noops, baseline),
        ("garbage streams", Tally.streams, stream_time),
    ]
    for name, count, seconds in rows:
        print(f"{name:28}{count:>12,}{seconds:>10.1f}{count / max(seconds, 1e-9):>12,.0f}")
    print(f"messages acknowledged, each in the journal exactly once: {Tally.acked:,}")
    print(f"421s (and QUITs) followed by a close: {Tally.closes:,}")
    print(f"reply lines from garbage streams, all well-formed: {Tally.reply_lines:,}")
    print(f"smtpfake server errors: {errors}; peak RSS (client and server): {rss:,.0f} MiB")
    print(f"failures: {len(failures)}")
    for failure in failures:
        print(failure)
    return 1 if failures or errors else 0


if __name__ == "__main__":
    sys.exit(main())
