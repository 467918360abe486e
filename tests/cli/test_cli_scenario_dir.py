"""A misspelt ``--scenario-dir`` (or ``SMTPFAKE_SCENARIO_DIRS``) is one usage line, exit 2,
rather than a folder that silently adds nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpfake import cli


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["list"], ["show", "default"]])
def test_a_missing_scenario_dir_is_a_usage_error(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "scenarois"
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "--scenario-dir", str(missing)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --scenario-dir: '{missing}' is not a directory" in err
    assert "Traceback" not in err


def test_a_missing_dir_in_the_environment_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for var, *_ in cli.SERVE_ENV.values():
        monkeypatch.delenv(var, raising=False)
    missing = tmp_path / "nope"
    monkeypatch.setenv("SMTPFAKE_SCENARIO_DIRS", f"{tmp_path}:{missing}")
    assert cli.main(["serve", "--port", "0"]) == 2
    assert capsys.readouterr().err == (
        "smtpfake serve: error: "
        f"--scenario-dir/SMTPFAKE_SCENARIO_DIRS: '{missing}' is not a directory\n"
        "For more information, try 'smtpfake serve --help'.\n"
    )


def test_an_existing_scenario_dir_is_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mine.yaml").write_text("summary: Mine.\nexpect: Nothing.\n")
    assert cli.main(["list", "--scenario-dir", str(tmp_path)]) == 0
    assert any(line.split() == ["mine", "Mine."] for line in capsys.readouterr().out.splitlines())
