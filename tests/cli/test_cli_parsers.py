"""``smtpfake CMD`` builds only CMD's parser (start-up time, issue 11 item 1): what each
command accepts, prints for --help and says about a mistake is what the whole parser says,
but for an option CMD does not know, which CMD names (the whole parser blames the top level)."""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Callable
from typing import Any

import pytest

from smtpfake import cli, cli_parser

Parsed = tuple[str, str, int | str | None, dict[str, object] | None]


def parsed(parse: Callable[[list[str]], argparse.Namespace], argv: list[str]) -> Parsed:
    """(stdout, stderr, exit status, options) of ``parse(argv)``: the status is None when
    parsing went through, the options None when it exited (``func`` left out: the same
    function either way)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            options = vars(parse(argv))
        except SystemExit as exc:
            return out.getvalue(), err.getvalue(), exc.code, None
    return out.getvalue(), err.getvalue(), None, {k: v for k, v in options.items() if k != "func"}


def whole(argv: list[str]) -> argparse.Namespace:
    return cli_parser.build_parser().parse_args(argv)


TAILS = [
    ["--help"],
    ["--no-such-option"],  # left over by the command's parser: it says so itself
    ["--scenario-dir", "/no/such/dir"],  # the command's own parser reports it
    ["--scenario-dir", "."],  # parses (probe and validate: their missing arguments)
]


@pytest.mark.parametrize("command", list(cli.COMMANDS))
@pytest.mark.parametrize("tail", TAILS)
def test_one_commands_parser_says_what_the_whole_parser_says(
    command: str, tail: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")  # one width for both
    alone = parsed(cli.parse, [command, *tail])
    out, err, status, options = parsed(whole, [command, *tail])
    if err.startswith("smtpfake: error: unrecognized arguments: "):
        err = err.replace("smtpfake", f"smtpfake {command}")  # both lines: the error, the hint
        assert "--no-such-option" in err or "--scenario-dir" in err
    assert alone == (out, err, status, options)
    out, err, status, options = alone
    if options is None:
        assert status is not None and out + err  # it printed, then exited
    else:
        assert options["command"] == command


@pytest.mark.parametrize("argv", [[], ["serv"], ["--version"], ["--help"]])
def test_without_a_command_the_whole_parser_answers(argv: list[str]) -> None:
    assert parsed(cli.parse, argv) == parsed(whole, argv)


def test_the_top_level_help_lists_every_command() -> None:
    out, _, status, _ = parsed(cli.parse, ["--help"])
    assert status == 0
    for command in cli.COMMANDS:
        assert f"    {command} " in out
    # said for users, not in the module docstring's reStructuredText (it read "The ``smtpfake``
    # command: serve, list, validate, explain", two commands short)
    assert "fault-injecting SMTP test double" in out and "``" not in out


def test_a_misspelt_command_is_named_with_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["serv"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'serv'" in err and "'probe'" in err


def test_main_builds_only_the_chosen_commands_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []

    def recorded(name: str, add: Callable[[Any], None]) -> Any:
        def adding(sub: Any) -> None:
            built.append(name)
            add(sub)

        return adding

    for name, add in cli.COMMANDS.items():
        monkeypatch.setitem(cli.COMMANDS, name, recorded(name, add))
    with pytest.raises(SystemExit):
        cli.main(["validate", "--help"])
    assert built == ["validate"]


@pytest.mark.parametrize("columns", ["40", "120"])
def test_help_is_formatted_at_the_terminals_width(
    monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    """cli_parser.Parser builds with formatters of a fixed width (so that building does not import
    shutil) and formats help with argparse's own at the terminal's: --help is what a plain
    argparse parser with the same options prints, at any width."""
    monkeypatch.setenv("COLUMNS", columns)  # what shutil.get_terminal_size reads first

    def options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--grace-period", metavar="SECONDS", help="seconds " * 12)
        parser.add_argument("names", nargs="*", help="the scenarios to load, in order")
        return parser

    ours = options(cli_parser.Parser(prog="smtpfake serve", description="Serves. " * 20))
    plain = options(argparse.ArgumentParser(prog="smtpfake serve", description="Serves. " * 20))
    assert ours.format_help() == plain.format_help()
    assert ours.format_usage() == plain.format_usage()
    widest = max(len(line) for line in ours.format_help().splitlines())
    # not the width it was built at
    assert (widest > cli_parser.BUILDING_WIDTH) is (columns == "120")
