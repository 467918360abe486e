"""Per-test cost of the ``smtpfake`` fixture, side by side with smtpdfix's ``smtpd`` fixture.

Runs three generated test files of N tests each in separate pytest processes: no fixture (the
baseline), ``smtpfake``, and smtpdfix's ``smtpd`` (a fresh server per test). Two measures:
- wall clock: (run time - baseline run time) / N, median of repeated runs; this includes pytest's
  own per-fixture bookkeeping and the one-off server start, amortised;
- setup+teardown: the mean of pytest's own setup and teardown phase durations per test, i.e. what
  the fixture itself costs a test; also shown beyond a no-op fixture (pytest's own price for any
  fixture). The first test's setup is left out of the mean and shown on its own ("one-off"): it
  starts the session's server and, since the plugin imports lazily, loads the server stack.
Needs smtpdfix (``pip install '.[bench]'``). Usage: python bench/per_test_overhead.py [N]
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = {
    # the same assert in every body, so assertion rewriting costs all three alike
    "baseline": "def test_{i}():\n    port = 1\n    assert port\n",
    "noop_fixture": "def test_{i}(noop):\n    assert noop\n",
    "smtpfake": "def test_{i}(smtpfake):\n    assert smtpfake.port\n",
    "smtpdfix": "def test_{i}(smtpd):\n    assert smtpd.port\n",
}


CONFTEST = """
import json, os
import pytest

@pytest.fixture
def noop():
    yield 1

_phases = []
def pytest_runtest_logreport(report):
    if report.when in ("setup", "teardown"):
        _phases.append(report.duration)
def pytest_sessionfinish(session):
    # the first entry is the first test's setup: the one-off start, reported apart
    with open(os.environ["PHASES_OUT"], "w") as f:
        json.dump([_phases[0], sum(_phases[1:])], f)
"""


def run(path: Path) -> tuple[float, float, float]:
    """Wall time of the pytest process, the sum of setup+teardown phase durations but the first
    setup, and that first setup."""
    out = path.with_suffix(".json")
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
        check=True,
        capture_output=True,
        timeout=600,
        cwd=path.parent,
        env={**os.environ, "PHASES_OUT": str(out)},
    )
    wall = time.perf_counter() - start
    first, rest = json.loads(out.read_text())
    return wall, float(rest), float(first)


def main() -> None:
    if importlib.util.find_spec("smtpdfix") is None:
        sys.exit("per_test_overhead.py needs smtpdfix, its baseline: pip install '.[bench]'")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    repeats = 5
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "conftest.py").write_text(CONFTEST)
        files = {}
        for kind, template in KINDS.items():
            path = Path(tmp) / f"test_{kind}.py"
            path.write_text("".join(template.format(i=i) for i in range(n)))
            files[kind] = path
        times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        phases: dict[str, list[float]] = {kind: [] for kind in KINDS}
        firsts: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for _ in range(repeats):  # interleaved, so machine noise hits all three alike
            for kind, path in files.items():
                wall, phase, first = run(path)
                times[kind].append(wall)
                phases[kind].append(phase)
                firsts[kind].append(first)
    median = {kind: statistics.median(t) for kind, t in times.items()}
    wall_ms = {k: (median[k] - median["baseline"]) / n * 1000 for k in KINDS}
    # per test: every teardown and every setup but the first, so n teardowns + n - 1 setups
    phase_ms = {k: statistics.median(p) / n * 1000 for k, p in phases.items()}
    first_ms = {k: statistics.median(p) * 1000 for k, p in firsts.items()}
    print(f"{n} tests per run, median of {repeats} runs each")
    print(
        f"{'':13s}{'pytest run':>12s}{'wall/test over baseline':>26s}{'setup+teardown/test':>22s}"
        f"{'one-off':>12s}"
    )
    for kind in KINDS:
        print(
            f"{kind:13s}{median[kind]:10.3f} s{wall_ms[kind]:23.3f} ms{phase_ms[kind]:19.3f} ms"
            f"{first_ms[kind]:9.1f} ms"
        )
    for label, ms in (("wall clock", wall_ms), ("setup+teardown", phase_ms)):
        if ms["smtpfake"] > 0:
            ratio = ms["smtpdfix"] / ms["smtpfake"]
            print(f"ratio ({label}): smtpfake costs 1/{ratio:.1f} of smtpdfix per test")
    over = {k: phase_ms[k] - phase_ms["baseline"] for k in ("smtpfake", "smtpdfix")}
    if over["smtpfake"] > 0:
        print(
            f"ratio (setup+teardown over the no-fixture baseline): smtpfake "
            f"{over['smtpfake']:.3f} ms, smtpdfix {over['smtpdfix']:.3f} ms, "
            f"1/{over['smtpdfix'] / over['smtpfake']:.1f}"
        )
    net = {k: phase_ms[k] - phase_ms["noop_fixture"] for k in ("smtpfake", "smtpdfix")}
    if net["smtpfake"] > 0:
        print(
            f"ratio (setup+teardown beyond a no-op fixture): smtpfake {net['smtpfake']:.3f} ms, "
            f"smtpdfix {net['smtpdfix']:.3f} ms, 1/{net['smtpdfix'] / net['smtpfake']:.1f}"
        )
    print("target: at most 1/10 of smtpdfix's per-test cost")


if __name__ == "__main__":
    main()
