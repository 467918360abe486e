"""``smtpfake CMD --help`` says what CMD does and what each of its arguments is: a new user read
``validate --help`` and ``explain --help`` and found a bare ``FILE`` and ``CODE`` under
"positional arguments", and nothing under the usage line of list, show, validate and explain."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smtpfake import cli


def help_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def entries(text: str, heading: str) -> list[str]:
    """The entries under ``heading:`` (``positional arguments``, ``options``) of argparse's
    help, each with its description lines joined: an entry starts two spaces in, and its name
    and description are apart by two spaces or more (or a line: a long name's)."""
    section = re.search(rf"^{heading}:\n(.*?)(?:\n\n|\Z)", text, re.S | re.M)
    assert section, f"no {heading!r} section in:\n{text}"
    found: list[str] = []
    for line in section[1].splitlines():
        if re.match(r"  \S", line):
            found.append(line.strip())
        else:
            found[-1] += "  " + line.strip()
    return found


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_every_command_describes_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(command, capsys)
    usage, _, rest = text.partition("\n\n")
    assert usage.startswith(f"usage: smtpfake {command}")
    # the paragraph after the usage block is a description, not straight into the arguments
    assert not rest.startswith(("positional arguments:", "options:")), text


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_every_argument_says_what_it_is(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(command, capsys)
    for heading in ("positional arguments", "options"):
        if f"\n{heading}:\n" not in text:
            continue
        for entry in entries(text, heading):
            name, _, said = re.sub(r" {2,}", "  ", entry).partition("  ")
            if command == "probe" and name == "-- COMMAND [ARG...]":
                continue  # the description above says what the client is, at length
            assert said.strip(), f"smtpfake {command} --help: {name!r} has no description"


def test_serves_seed_says_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's Configuration table said 0; without --seed the scenario's own seed: is
    played (seeded-chaos: 20251), and 0 only for a scenario that has none."""
    text = " ".join(help_of("serve", capsys).split())
    assert (
        "--seed SEED seed for every random choice (SMTPFAKE_SEED; default: the scenario's own"
        " seed:, else 0)" in text
    )


def test_the_readmes_configuration_table_names_every_serve_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README says "every `serve` option is also an environment variable", and its table lists
    them: --loop and --deliver were missing from it, though `serve --help` has both."""
    text = " ".join(help_of("serve", capsys).split())
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Configuration", 1)[1].split("\nLogs:", 1)[0]
    names = set(re.findall(r"\((SMTPFAKE_[A-Z_]+)[;),=]", text))
    assert {"SMTPFAKE_LOOP", "SMTPFAKE_DELIVER", "SMTPFAKE_PORT"} <= names, sorted(names)
    journal = {n for n in names if n.startswith("SMTPFAKE_JOURNAL_")}  # one row says "..."
    missing = [n for n in sorted(names - journal) if f"`{n}`" not in table]
    assert not missing, f"serve --help names them, the Configuration table does not: {missing}"
