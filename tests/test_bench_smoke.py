"""bench/session_cpu.py drives the wire with a transport of its own: when the wire starts
calling a transport method it lacks, the bench breaks without any test noticing (it did once,
for set_write_buffer_limits). Its measuring mode, on a few sessions, runs here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "session_cpu.py"


def test_session_cpu_bench_measures() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--measure", "20"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    per_session, in_gc = (float(x) for x in done.stdout.split())
    assert per_session > 0 and 0 <= in_gc <= per_session


DELAY_BENCH = BENCH.parent / "delay_accuracy.py"


def test_delay_accuracy_bench_interleaves_rounds() -> None:
    """bench/delay_accuracy.py on a few sessions: each server in each round, in fresh processes,
    the first of a round alternating; the idle sessions all still answer; then the summary of
    all rounds, with the load average (the figures mean nothing without it)."""
    done = subprocess.run(
        [sys.executable, str(DELAY_BENCH), "--idle", "5", "--samples", "8",
         "--concurrency", "2", "--rounds", "2", "--delay", "0.01", "--server-gc", "serve"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    rounds = [(row[0], row[1], row[3]) for row in rows if row[:1] in (["smtpfake"], ["aiosmtpd"])]
    # per round: server, round, alive; then the summary rows (server first)
    assert [r[:2] for r in rounds[:4]] == [
        ("smtpfake", "1"), ("aiosmtpd", "1"), ("aiosmtpd", "2"), ("smtpfake", "2")
    ]  # fmt: skip
    assert all(alive == "5" for _, _, alive in rounds[:4])
    assert [r[0] for r in rounds[4:]] == ["smtpfake", "aiosmtpd"]
    assert "server collector serve" in done.stdout
    assert "load average" in done.stdout
