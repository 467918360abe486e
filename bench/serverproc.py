"""A benchmark server in a child process, so the client's work is not measured with it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys


def start(script: str, *args: str, source: str | None = None) -> tuple[subprocess.Popen[str], int]:
    """Run ``script --serve ARGS...``; it prints ``PORT n`` once it listens. ``source``: import
    smtpfake from this checkout instead (a baseline revision measured in the same run)."""
    env = None
    if source is not None:
        env = {**os.environ, "PYTHONPATH": os.path.abspath(source)}
    proc = subprocess.Popen(
        [sys.executable, script, "--serve", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"{' '.join(args)} server did not start (got {line!r})")
    return proc, int(line.split()[1])


# -- in the child ----------------------------------------------------------------------------------


def announce(port: int) -> None:
    """Tell the parent where we listen (what start() reads)."""
    print(f"PORT {port}", flush=True)


async def wait_for_stdin_eof() -> None:
    """The parent closes our stdin to stop us."""
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
