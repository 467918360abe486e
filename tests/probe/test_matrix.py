"""The committed client matrix (docs/probe-matrix.md) stays true: every case of the library has a
row, and smtplib and curl, probed again now on every case that does not wait on purpose, get
the verdicts the table shows. Regenerate with ``python scripts/probe_matrix.py``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from smtpfake.probe.cases import WAITS, load_cases

REPO = Path(__file__).resolve().parents[2]
MATRIX = REPO / "docs" / "probe-matrix.md"
CLIENTS = {
    "smtplib": [sys.executable, str(REPO / "scripts" / "probe_clients" / "smtplib_send.py")],
    "curl": ["sh", str(REPO / "scripts" / "probe_clients" / "curl.sh")],
}
CELLS = {"pass": "pass", "non-strict": "non-strict", "**fail**": "fail", "info": "informational"}
REGENERATE = "regenerate the table: python scripts/probe_matrix.py"


def table() -> dict[str, dict[str, str]]:
    """client -> case -> verdict, from the matrix's case table."""
    lines = MATRIX.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| case |"))
    clients = [c.strip() for c in lines[start].strip("|").split("|")][1:]
    out: dict[str, dict[str, str]] = {c: {} for c in clients}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        case, *cells = [c.strip() for c in line.strip("|").split("|")]
        for client, cell in zip(clients, cells, strict=True):
            if cell in CELLS:
                out[client][case] = CELLS[cell]
    return out


def test_every_case_has_a_row() -> None:
    rows = set(table()["smtplib"])
    assert rows == {c.name for c in load_cases()}, REGENERATE


def test_the_probe_agrees_with_the_table(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        why = "curl is not installed (bash .ci/sidecar-deps)"
        if os.environ.get("SMTPFAKE_REQUIRE_EXTERNAL") == "1":  # CI installed it: must be there
            pytest.fail(why)
        pytest.skip(why)
    runs = {}
    for name, command in CLIENTS.items():  # both at once: each is mostly waiting on the other
        report = tmp_path / f"{name}.json"
        # "timing": a verdict that hangs on how fast the client is (a 2-second idle timeout),
        # which a loaded machine can change
        args = [sys.executable, "-m", "smtpfake", "probe", "-q", "-j", "3", "--skip-tag", WAITS,
                "--skip-tag", "timing", "--json", str(report), "--", *command]  # fmt: skip
        proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        runs[name] = (proc, report)
    expected = table()
    for name, (proc, report) in runs.items():
        output, _ = proc.communicate(timeout=240)
        assert report.is_file(), output.decode()
        found = {
            c["case"]: (c["verdict"], c["reason"]) for c in json.loads(report.read_text())["cases"]
        }
        differ = [
            f"{case}: table says {expected[name].get(case)}, the probe {verdict} ({reason})"
            for case, (verdict, reason) in sorted(found.items())
            if expected[name].get(case) != verdict
        ]
        assert not differ, f"{name}:\n" + "\n".join(differ) + f"\n{REGENERATE}"
