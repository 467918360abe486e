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
