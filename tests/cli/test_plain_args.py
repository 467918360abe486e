"""A plain command line of serve or list is read without argparse (smtpfake.plain_args; start-up
time, issue 11 item 1): what it reads is what argparse reads, and every other word line goes to
argparse, so help and errors are argparse's own."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from smtpfake import cli, cli_parser
from smtpfake.plain_args import Options, read_plain

HERE = str(Path(__file__).parent)

#: serve's command lines read plain: every kind of option, both spellings, repeats
PLAIN = [
    [],
    ["--port", "0"],
    ["--port=2526", "--host", "127.0.0.2"],
    ["--seed", "7", "--seed=8"],  # the last wins
    ["--param", "delay=5", "--param=x=y", "--scenario-dir", HERE, f"--scenario-dir={HERE}"],
    ["--clock", "manual", "--log-format=json", "--loop", "asyncio"],
    ["--quiet"],
    ["--no-quiet", "--quiet", "--no-quiet"],
    ["--idle-timeout", "5m", "--grace-period=0", "--stop-grace-period", "250ms"],
    ["--journal-sessions", "10", "--api-port", "0", "--api-token", "t o k"],
    ["--scenario", "", "--host="],  # empty values are values
    ["--deliver", "maildir:/tmp/x", "--server-ports", "2600-2699", "--api-host", "::1"],
    ["--seed=-1"],  # after "=" a value may start with "-"
]

#: command lines left to argparse: help, abbreviations, unknown options, values that look like
#: options, values the type or the choices refuse, a flag given a value, positionals
TO_ARGPARSE = [
    ["--help"],
    ["-h"],
    ["--po", "0"],
    ["--no-such", "1"],
    ["--seed", "-1"],
    ["--port"],
    ["--port", "x"],
    ["--clock", "sundial"],
    ["--idle-timeout", "soon"],
    ["--scenario-dir", "/no/such/dir"],
    ["--param", "novalue"],
    ["--quiet=1"],
    ["extra"],
    ["--port", "0", "--"],
]


def serve_options() -> Options:
    options = Options()
    cli.COMMANDS["serve"](options)
    return options


def argparse_reads(command: str, argv: list[str]) -> dict[str, object] | str:
    """What argparse makes of ``command argv`` (``func`` left out), or its output on exit."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            return vars(cli_parser.build_parser(command).parse_args(argv))
        except SystemExit:
            return out.getvalue()


@pytest.mark.parametrize("argv", PLAIN)
def test_a_plain_serve_line_reads_as_argparse_reads_it(argv: list[str]) -> None:
    read = read_plain(serve_options(), argv)
    assert read is not None
    assert vars(read) == argparse_reads("serve", argv)
    assert vars(cli.parse(["serve", *argv])) == vars(read)


@pytest.mark.parametrize("argv", TO_ARGPARSE)
def test_anything_else_is_left_to_argparse(argv: list[str]) -> None:
    assert read_plain(serve_options(), argv) is None


def test_append_options_start_from_a_new_list_each_time() -> None:
    options = serve_options()
    first = read_plain(options, ["--param", "a=1"])
    again = read_plain(options, [])
    assert first is not None and again is not None
    assert first.param == [("a", "1")] and again.param == []


def test_list_reads_plain_too() -> None:
    options = Options()
    cli.COMMANDS["list"](options)
    read = read_plain(options, ["--scenario-dir", HERE])
    assert read is not None and vars(read) == argparse_reads("list", ["--scenario-dir", HERE])


def test_an_option_it_does_not_read_makes_the_whole_line_argparses() -> None:
    options = Options()
    options.add_argument("--port", type=int)
    options.add_argument("files", nargs="+")  # a positional: not plain
    assert read_plain(options, ["--port", "1"]) is None
    options = Options()
    options.add_argument("--level", type=int, default="3")  # argparse converts a str default
    assert read_plain(options, []) is None


def test_the_commands_read_plain_add_only_options_read_plain() -> None:
    for command in cli.READ_PLAIN:
        options = Options()
        cli.COMMANDS[command](options)
        assert options.plain, command
