"""A benchmark server in a child process, so the client's work is not measured with it."""

from __future__ import annotations

import subprocess
import sys


def start(script: str, *args: str) -> tuple[subprocess.Popen[str], int]:
    """Run ``script --serve ARGS...``; it prints ``PORT n`` once it listens."""
    proc = subprocess.Popen(
        [sys.executable, script, "--serve", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"{' '.join(args)} server did not start (got {line!r})")
    return proc, int(line.split()[1])
