"""A problem of a scenario file as a whole has no line:col, and one at a place has that place's.

The empty file, a file over the size limit (``file: message``, no made-up ``file:1:1:``) and a
character YAML does not allow (its own line:col: PyYAML's ReaderError has no mark, and read
``file:1:1: ... position 19``), through ``smtpfake validate`` and ``smtpfake serve --scenario``."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpfake.scenario import limits

from .test_cli_usage_errors import smtpfake

CONTROL = "invalid YAML: unacceptable character #x0007: special characters are not allowed"


def _files(tmp_path: Path, *, big: bool = True) -> dict[str, str]:
    """Each file written, with the one line ``validate`` and ``serve`` say about it (the big
    one only with ``big``: both faces read it by the loader's same first check)."""
    (tmp_path / "empty.yaml").write_text("# nothing yet\n", encoding="utf-8")
    (tmp_path / "bell.yaml").write_text("summary: s\nexpect: ding\x07\n", encoding="utf-8")
    said = {
        "empty.yaml": "empty.yaml: the file is empty",
        "bell.yaml": f"bell.yaml:2:13: {CONTROL}",
    }
    if big:
        text = "summary: s\nexpect: e\n# " + "x" * limits.MAX_SCENARIO_BYTES + "\n"
        (tmp_path / "big.yaml").write_text(text, encoding="utf-8")
        said["big.yaml"] = (
            f"big.yaml: the scenario is {len(text):,} bytes; a scenario is at most "
            f"{limits.MAX_SCENARIO_BYTES:,} bytes"
        )
    return said


def test_validate_says_each_file_at_its_true_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    said = _files(tmp_path)
    result = smtpfake(["validate", *said])
    assert result.returncode == 1, result
    assert sorted(result.stdout.splitlines() + result.stderr.splitlines()) == sorted(said.values())


@pytest.mark.parametrize("name", ["empty.yaml", "bell.yaml"])
def test_serve_says_the_file_at_its_true_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    said = _files(tmp_path, big=False)
    result = smtpfake(["serve", "--port", "0", "--scenario", name])
    assert (result.returncode, result.stdout) == (2, ""), result
    assert result.stderr.splitlines() == [said[name]]
