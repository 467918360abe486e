"""The committed client matrix (docs/probe-matrix.md) stays true: every case of the library has a
row, and smtplib and curl, probed again now on every case that does not wait on purpose, get
the verdicts the table shows. Regenerate with ``python scripts/probe_matrix.py``."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def _script() -> Any:
    """scripts/probe_matrix.py as a module (registered: its dataclasses look themselves up)."""
    name = "probe_matrix_script"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "probe_matrix.py")
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def test_the_table_reads_back_as_it_was_written() -> None:
    script = _script()
    text = MATRIX.read_text(encoding="utf-8")
    assert script.render(*script.read_matrix(text)) == text


def test_an_update_changes_only_the_cases_probed() -> None:
    script = _script()
    text = MATRIX.read_text(encoding="utf-8")
    _, versions, _, _ = script.read_matrix(text)
    fresh = {"curl": [{"case": "smtputf8-address", "verdict": "fail", "reason": "it did X"}]}
    updated = script.update(text, fresh, versions)
    changed = set(updated.splitlines()) ^ set(text.splitlines())
    row = "| smtputf8-address | non-strict | non-strict | pass | **fail** | **fail** |"
    assert changed == {
        f"{row} pass | pass | - |",
        f"{row} **fail** | pass | - |",
        "- `smtputf8-address` (fail): it did X",
    }
    # and the bullet is in curl's section, in case order
    curl = updated.split("### curl", 1)[1].split("###", 1)[0]
    assert "- `smtputf8-address` (fail): it did X" in curl
    with pytest.raises(SystemExit, match="run the whole matrix"):
        script.update(text, fresh, {**versions, "curl": "curl 0.1"})


def test_the_script_updates_one_case_in_place(tmp_path: Path) -> None:
    """``--case`` probes only that case and leaves the rest of the table as it was (here the
    verdict is the table's, so nothing changes but the version, set to this Python's first)."""
    table = tmp_path / "matrix.md"
    text = MATRIX.read_text(encoding="utf-8")
    ours = f"| smtplib | Python {platform.python_version()} |"
    text = "\n".join(ours if line.startswith("| smtplib |") and "Python" in line else line
                     for line in text.split("\n"))  # fmt: skip
    table.write_text(text, encoding="utf-8")
    args = [sys.executable, str(REPO / "scripts" / "probe_matrix.py"), "--clients", "smtplib",
            "--case", "no-smtputf8", "--output", str(table)]  # fmt: skip
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert table.read_text(encoding="utf-8") == text
