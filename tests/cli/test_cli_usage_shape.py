"""Every command answers the three most common mistakes - a file it cannot read, a bad option
value, a name that names nothing - in one shape: ``smtpfake CMD: error: ...`` naming the option,
then ``For more information, try 'smtpfake CMD --help'.``, exit 2, nothing on stdout.
``probe --scenario missing.yaml`` was one bare line (``missing.yaml: cannot read: ...``) where
``show`` and ``serve`` gave the two; ``show --remote notaurl`` one line without ``error:``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from smtpfake import cli

KINDS = ("missing file", "bad value", "unknown name")

#: command -> kind -> (arguments after the command, how the error line goes on after
#: ``smtpfake CMD: error: ``)
MISTAKES: dict[str, dict[str, tuple[list[str], str]]] = {
    "serve": {
        "missing file": (
            ["--scenario", "missing.yaml"],
            "--scenario/SMTPFAKE_SCENARIO: missing.yaml: cannot read: No such file or directory",
        ),
        "bad value": (["--port", "x"], "argument --port: invalid int value: 'x'"),
        "unknown name": (["--scenario", "nosuch"], "--scenario/SMTPFAKE_SCENARIO: no scenario"),
    },
    "list": {
        "missing file": (
            ["--scenario-dir", "missing"],
            "argument --scenario-dir: 'missing' is not a directory",
        ),
        "bad value": (["--scenario-dir", ""], "argument --scenario-dir: '' is not a directory"),
    },
    "show": {
        "missing file": (["missing.yaml"], "missing.yaml: cannot read: No such file or directory"),
        "bad value": (
            ["default", "--remote", "notaurl"],
            "--remote: expected the sidecar's API URL like http://127.0.0.1:8025, got 'notaurl'",
        ),
        "unknown name": (["nosuch"], "no scenario named 'nosuch'"),
    },
    "validate": {
        # it has no option but --help: a linter's --strict is the likely mistake
        "bad value": (["x.yaml", "--strict"], "unrecognized arguments: --strict"),
    },
    "explain": {
        "bad value": (["421", "--lang", "fr"], "argument --lang: invalid choice: 'fr'"),
        "unknown name": (["621"], "'621' is not an SMTP reply code"),
    },
    "probe": {
        "missing file": (
            ["--scenario", "missing.yaml", "--", "true"],
            "--scenario: missing.yaml: cannot read: No such file or directory",
        ),
        "bad value": (["-j", "x", "--", "true"], "argument -j/--jobs: invalid int value: 'x'"),
        "unknown name": (["--case", "nosuch", "--", "true"], "no case named nosuch"),
    },
}

#: (command, kind) that a command has no such input for, or answers otherwise on purpose
NOT_A_USAGE_ERROR = {
    ("list", "unknown name"): "list takes no name",
    ("explain", "missing file"): "explain reads no file",
    # a checker: a file it cannot read is one of the problems it reports, one a line, exit 1
    ("validate", "missing file"): "validate reports it: missing.yaml: cannot read: ...",
    ("validate", "unknown name"): "validate takes files, not names",
}


def smtpfake(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPFAKE_")}
    return subprocess.run(
        [sys.executable, "-m", "smtpfake", *argv],
        capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_every_command_meets_every_kind_of_mistake() -> None:
    assert set(MISTAKES) == set(cli.COMMANDS)
    for command in cli.COMMANDS:
        for kind in KINDS:
            assert (kind in MISTAKES[command]) != ((command, kind) in NOT_A_USAGE_ERROR)


CASES = [(command, kind, *m) for command, kinds in MISTAKES.items() for kind, m in kinds.items()]


@pytest.mark.parametrize(
    ("command", "kind", "args", "said"), CASES, ids=[f"{c}: {k}" for c, k, *_ in CASES]
)
def test_a_mistake_is_the_same_two_lines_on_every_command(
    command: str, kind: str, args: list[str], said: str
) -> None:
    result = smtpfake([command, *args])
    assert (result.returncode, result.stdout) == (2, ""), result
    error, hint = result.stderr.splitlines()
    assert error.startswith(f"smtpfake {command}: error: {said}")
    assert hint == f"For more information, try 'smtpfake {command} --help'."


def test_a_case_name_given_as_the_probes_scenario_file_points_at_case() -> None:
    result = smtpfake(["probe", "--scenario", "greylisting", "--", "true"])
    assert (result.returncode, result.stdout) == (2, ""), result
    assert result.stderr.splitlines() == [
        "smtpfake probe: error: --scenario: greylisting: no such file (it takes a scenario "
        "file; a case is chosen by name with --case greylisting)",
        "For more information, try 'smtpfake probe --help'.",
    ]
