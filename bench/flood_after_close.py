"""How long one read's callback takes when a client floods pipelined lines after the server's
close (fresh16 F4): 400,000 ``RSET`` (2.4 MB) fed to the engine after the idle timeout's 421,
in 256 KiB reads (asyncio's read size) and in one read (uvloop reads more at once). Reports the
longest callback and the total, CPU time (``time.process_time``), engine only (no sockets).

``--baseline DIR`` measures the same with smtpfake imported from another checkout (e.g. a
``git worktree add --detach /tmp/base main``), side by side in the same run: on a shared
machine only the ratio means much.

Usage: python bench/flood_after_close.py [--lines 400000] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

READ = 256 * 1024  # asyncio's selector transport reads at most this much per callback


def carry(conn: object, actions: tuple[object, ...]) -> None:
    """Carry out a batch the way the wire does (timers are not run here)."""
    from smtpfake.scenario.plan import ArmTimer, CancelTimer, Close, Reset, Sleep

    while actions:
        batch = False
        for action in actions:
            if isinstance(action, ArmTimer | CancelTimer | Sleep):
                continue
            batch = True
            conn.performed(action)  # type: ignore[attr-defined]
            if isinstance(action, Close | Reset):
                return
        actions = conn.done() if batch else ()  # type: ignore[attr-defined]


def measure(lines: int, read: int) -> dict[str, float]:
    """The longest and total callback (ms) for the flood fed in reads of ``read`` octets."""
    from smtpfake.engine import FakeClock, Session, Shared
    from smtpfake.engine.connection import Connection
    from smtpfake.journal import Journal
    from smtpfake.scenario import resolve

    scenario = {"summary": "bench", "expect": "bench", "server": {"idle_timeout": 5}}
    session = Session(resolve(scenario), Shared(), Journal(), peer="p:1", clock=FakeClock())
    conn = Connection(session)
    carry(conn, conn.connected())
    carry(conn, conn.receive_data(b"EHLO c.test\r\n"))
    carry(conn, conn.timer_fired("idle"))  # the 421, the half-close: the grace period runs
    flood = b"RSET\r\n" * lines
    longest = total = 0.0
    for at in range(0, len(flood), read):
        start = time.process_time()
        conn.receive_data(flood[at : at + read])
        took = time.process_time() - start
        longest, total = max(longest, took), total + took
    return {"longest_ms": longest * 1e3, "total_ms": total * 1e3}


def in_child(lines: int, read: int, tree: str | None) -> dict[str, float]:
    env = None if tree is None else {**os.environ, "PYTHONPATH": os.path.abspath(tree)}
    out = subprocess.run(
        [sys.executable, __file__, "--measure", "--lines", str(lines), "--read", str(read)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    result: dict[str, float] = json.loads(out.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=400_000)
    parser.add_argument("--read", type=int, default=READ)
    parser.add_argument("--baseline", help="another checkout to measure side by side")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.lines, args.read)))
        return
    trees = [("this tree", None)] + ([("baseline", args.baseline)] if args.baseline else [])
    for read in (READ, args.lines * 6):
        for name, tree in trees:
            got = in_child(args.lines, read, tree)
            print(
                f"{name:>9}, reads of {read:>9,} octets: longest callback "
                f"{got['longest_ms']:9.1f} ms, all {got['total_ms']:9.1f} ms"
            )


if __name__ == "__main__":
    main()
