"""Wall time of ``smtpfake probe`` over every case that does not wait on purpose, with the
one-shot smtplib client (scripts/probe_clients/smtplib_send.py), side by side with a baseline:
the same number of runs of the same client, as many at a time, against one plain ``default``
server (what the client costs by itself: interpreter start, connect, send). The difference is
what the probe adds (a server per case, judging, reports) plus what the cases' faults cost.

Rounds alternate probe / baseline so that load from elsewhere hits both alike; medians shown.
Usage: python bench/probe_smtplib.py [JOBS] [ROUNDS]   (defaults: 4, 3)
"""

from __future__ import annotations

import concurrent.futures
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from smtpfake.probe.cases import WAITS, load_cases, target_for
from smtpfake.server import Server

REPO = Path(__file__).resolve().parent.parent
CLIENT = [sys.executable, str(REPO / "scripts" / "probe_clients" / "smtplib_send.py")]


def probe_round(jobs: int) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "smtpfake", "probe", "-q", "-j", str(jobs), "--skip-tag", WAITS,
         "--", *CLIENT],
        cwd=REPO, capture_output=True, check=False, timeout=600,
    )  # fmt: skip
    return time.perf_counter() - start


def baseline_round(jobs: int, runs: int) -> float:
    cases = [c for c in load_cases() if c.name == "default"]
    with Server("default") as server, tempfile.TemporaryDirectory() as folder:
        target = target_for(cases[0], server.host, server.port, None, Path(folder))
        env = {**os.environ, **target.variables()}
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            done = list(
                pool.map(
                    lambda _: subprocess.run(CLIENT, env=env, capture_output=True, timeout=60),
                    range(runs),
                )
            )
        elapsed = time.perf_counter() - start
    assert all(d.returncode == 0 for d in done), [d.stderr for d in done if d.returncode]
    return elapsed


def main() -> None:
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    runs = len([c for c in load_cases() if WAITS not in c.tags])
    probe, base = [], []
    for i in range(rounds):
        probe.append(probe_round(jobs))
        base.append(baseline_round(jobs, runs))
        print(f"round {i + 1}: probe {probe[-1]:.1f} s, baseline {base[-1]:.1f} s", flush=True)
    p, b = statistics.median(probe), statistics.median(base)
    print(f"{runs} cases, -j {jobs}, {os.cpu_count()} CPUs, median of {rounds}:")
    print(f"  smtpfake probe (smtplib client)     {p:6.1f} s   ({p / runs * 1000:.0f} ms/case)")
    print(f"  baseline: the client alone x{runs}   {b:6.1f} s   ({b / runs * 1000:.0f} ms/run)")
    print(f"  probe / baseline                    {p / b:6.2f}x   (budget: 60 s)")


if __name__ == "__main__":
    main()
