"""A mistake on ``smtpfake``'s command line is two lines on stderr - the error naming the
option, then where the options are - and exit status 2; argparse's usage block (some 20 lines
of serve's options) is left to ``--help``, which is unchanged."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from smtpfake import cli
from smtpfake.scenario import scenario_files

#: (command line, what the error line names): a bad value for an option argparse checks, and an
#: option the command does not know, on every subcommand
MISTAKES = [
    (["serve", "--seed", "x"], "argument --seed: invalid int value: 'x'"),
    (["serve", "--idle-timeout", "2d"], "argument --idle-timeout: expected seconds"),
    (["serve", "--clock", "wall"], "argument --clock: invalid choice: 'wall'"),
    (["serve", "--log-format", "xml"], "argument --log-format: invalid choice: 'xml'"),
    (["serve", "--param", "nope"], "argument --param: expected NAME=VALUE"),
    (["serve", "--port", "x"], "argument --port: invalid int value: 'x'"),
    (["serve", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["list", "--scenario-dir", "/no/such/dir"], "argument --scenario-dir: '/no/such/dir'"),
    (["list", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["show", "default", "--param", "nope"], "argument --param: expected NAME=VALUE"),
    (["show", "default", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["validate"], "the following arguments are required: FILE"),
    (["validate", "x.yaml", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["explain", "421", "--lang", "fr"], "argument --lang: invalid choice: 'fr'"),
    (["explain", "421", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["probe", "--jobs", "x", "--", "true"], "argument -j/--jobs: invalid int value: 'x'"),
    # not a number of seconds: inf, nan and 1e300 once reached the runner's waits (a traceback)
    (["probe", "--timeout", "inf", "--", "true"], "argument --timeout: expected seconds"),
    (["probe", "--timeout", "nan", "--", "true"], "argument --timeout: expected seconds"),
    (["probe", "--timeout", "1e300", "--", "true"], "argument --timeout: expected seconds"),
    (["probe", "--retrying", "--budget", "1e9", "--", "true"], "argument --budget: expected"),
    (["probe", "--param", "nope", "--", "true"], "argument --param: expected NAME=VALUE"),
    (["probe", "--no-such-flag", "--", "true"], "unrecognized arguments: --no-such-flag"),
]


def smtpfake(argv: list[str], **settings: str) -> subprocess.CompletedProcess[str]:
    """``python -m smtpfake ARGV`` in its own process, with no SMTPFAKE_* settings around but
    ``settings`` (``SMTPFAKE_PORT="99999"``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPFAKE_")}
    return subprocess.run(
        [sys.executable, "-m", "smtpfake", *argv],
        capture_output=True,
        text=True,
        timeout=30,
        env={**env, **settings},
    )


@pytest.mark.parametrize(("argv", "named"), MISTAKES, ids=[" ".join(a) for a, _ in MISTAKES])
def test_a_mistake_is_one_line_and_a_pointer_to_help(argv: list[str], named: str) -> None:
    result = smtpfake(argv)
    assert result.returncode == 2
    assert result.stdout == ""
    prog = f"smtpfake {argv[0]}"
    error, hint = result.stderr.splitlines()  # two lines, no usage block
    assert error.startswith(f"{prog}: error: {named}")
    assert hint == f"For more information, try '{prog} --help'."


#: (command line, what the error line names): values argparse takes but smtpfake checks after it
#: (a range, a name that names nothing, options that do not go together), on every subcommand
CHECKED_LATER = [
    (["serve", "--port", "99999"], "--port/SMTPFAKE_PORT: 99999 is not a port (0-65535)"),
    (["serve", "--journal-sessions", "0"], "--journal-sessions/SMTPFAKE_JOURNAL_SESSIONS: must"),
    (["serve", "--server-ports", "5-2"], "--server-ports/SMTPFAKE_SERVER_PORTS: expected ports"),
    (["serve", "--deliver", "foo"], "--deliver/SMTPFAKE_DELIVER: delivery must be maildir:"),
    (["serve", "--scenario", "defualt"], "--scenario/SMTPFAKE_SCENARIO: no scenario named"),
    (["show"], "name a scenario (NAME or PATH), or give --remote URL"),
    (["show", "defualt"], "no scenario named 'defualt'; did you mean 'default'?"),
    (["explain", "999"], "'999' is not an SMTP reply code"),
    (["probe", "-j", "0", "--", "true"], "-j/--jobs: must be at least 1, got 0"),
    (["probe", "--timeout", "0", "--", "true"], "--timeout: must be more than 0 seconds, got 0"),
    (["probe", "--timeout", "2d", "--", "true"], "argument --timeout: expected seconds"),
    (["probe", "--timeout", "100000", "--", "true"], "--timeout: must be at most 86400 seconds"),
    (["probe", "--retrying", "--budget", "0", "--", "true"], "--budget: must be more than 0"),
    (["probe", "--exit-codes", "foo", "--", "true"], "--exit-codes: expected delivered=N"),
    (["probe", "--case", "defualt", "--", "true"], "no case named defualt"),
    (["probe", "--case", "default"], "give the client to run after --"),
]


@pytest.mark.parametrize(
    ("argv", "named"), CHECKED_LATER, ids=[" ".join(a) for a, _ in CHECKED_LATER]
)
def test_a_value_checked_after_parsing_is_told_the_same_way(argv: list[str], named: str) -> None:
    """They were one line without ``error:`` or the pointer to ``--help``, unlike argparse's."""
    result = smtpfake(argv)
    assert (result.returncode, result.stdout) == (2, "")
    prog = f"smtpfake {argv[0]}"
    error, hint = result.stderr.splitlines()
    assert error.startswith(f"{prog}: error: {named}")
    assert hint == f"For more information, try '{prog} --help'."


def test_a_scenario_the_cli_cannot_get_is_said_as_the_plugin_says_it() -> None:
    """A missing file has no line:col (it read ``missing.yaml:1:1:``, and serve dropped the
    file's name); a name with a close match points at ``smtpfake list`` rather than printing
    all ~80 names after the guess; with no close match the names are the help. The pytest
    plugin's --smtpfake-scenario says the same after its own option (tests/plugin)."""
    count = len(scenario_files())
    serve = "smtpfake serve: error: --scenario/SMTPFAKE_SCENARIO: "
    expected = {
        ("serve", "--scenario", "missing.yaml"): serve
        + "missing.yaml: cannot read: No such file or directory",
        ("show", "missing.yaml"): "smtpfake show: error: missing.yaml: cannot read: "
        "No such file or directory",
        ("serve", "--scenario", "defualt"): serve + "no scenario named 'defualt'; did you mean "
        f"'default'? (`smtpfake list` names all {count})",
    }
    for argv, error in expected.items():
        result = smtpfake(list(argv))
        assert (result.returncode, result.stdout) == (2, ""), result
        assert result.stderr.splitlines()[0] == error
    far = smtpfake(["serve", "--scenario", "zzzqqq"])
    assert far.stderr.splitlines()[0] == (
        serve + f"no scenario named 'zzzqqq' (known: {', '.join(sorted(scenario_files()))})"
    )
    validate = smtpfake(["validate", "missing.yaml"])
    assert (validate.returncode, validate.stdout) == (
        1,
        "missing.yaml: cannot read: No such file or directory\n",
    )


def test_a_journal_show_cannot_read_is_worded_as_a_scenario_file_it_cannot_read(
    tmp_path: Path,
) -> None:
    """``show --journal FILE`` it cannot read said ``[Errno 2] No such file or directory:
    'FILE'``; now as ``show missing.yaml`` and ``validate`` word a file they cannot read, a usage
    error of the option (exit 2), as serve's --scenario."""
    for name, why in (("missing.json", "No such file or directory"), ("", "Is a directory")):
        path = str(tmp_path / name)
        result = smtpfake(["show", "default", "--journal", path])
        assert (result.returncode, result.stdout) == (2, ""), result
        error, hint = result.stderr.splitlines()
        assert error == f"smtpfake show: error: --journal: {path}: cannot read: {why}"
        assert hint == "For more information, try 'smtpfake show --help'."


def test_a_setting_from_the_environment_is_told_the_same_way() -> None:
    result = smtpfake(["serve"], SMTPFAKE_PORT="99999")
    assert result.returncode == 2
    assert result.stderr == (
        "smtpfake serve: error: --port/SMTPFAKE_PORT: 99999 is not a port (0-65535)\n"
        "For more information, try 'smtpfake serve --help'.\n"
    )


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["serv"], "argument command: invalid choice: 'serv'"),
        ([], "the following arguments are required: command"),
        (["--no-such-flag", "list"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_a_mistake_before_the_command_points_at_the_top_level_help(
    argv: list[str], named: str
) -> None:
    result = smtpfake(argv)
    assert result.returncode == 2
    error, hint = result.stderr.splitlines()
    assert error.startswith(f"smtpfake: error: {named}")
    assert hint == "For more information, try 'smtpfake --help'."


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_the_help_pointed_at_lists_the_options(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--help`` still prints argparse's usage and every option, and the options a mistake
    names are there to read."""
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: smtpfake {command} [-h]")
    for argv, named in MISTAKES:
        if argv[0] == command and named.startswith("argument "):
            option = named.split()[1].rstrip(":").split("/")[-1]
            assert option in out


def test_the_readmes_example_is_what_smtpfake_prints() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^```console\n\$ smtpfake (serve --seed x)\n(.*?)^```", readme, re.S | re.M)
    assert found, "the README's usage error example"
    result = smtpfake(found[1].split())
    assert result.returncode == 2
    assert result.stderr == found[2]
