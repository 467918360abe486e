"""``smtpfake``'s argparse parsers: the whole one (``smtpfake --help``, a misspelt command) and
one command's alone, built from the adders of :data:`smtpfake.cli.COMMANDS`. Imported only when
a command line is not read without argparse (:mod:`smtpfake.plain_args`): ``smtpfake serve``
with plain options never loads argparse (start-up time, issue 11 item 1)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from smtpfake import __version__, cli
from smtpfake.plain_args import NEGATABLE

#: the width of the formatters a parser makes while it is built (argparse's own when no terminal
#: says otherwise): argparse makes one for every option only to check its metavar, and asking
#: for the terminal's width imports shutil (with bz2 and lzma: 6.5M instructions, some 2 ms of
#: serve's start); help and usage are formatted at the terminal's width, as argparse does
BUILDING_WIDTH = 78


class Parser(argparse.ArgumentParser):
    """``smtpfake``'s argument parser: ``--help`` as argparse prints it, a usage error in
    :func:`smtpfake.cli.usage_error`'s two lines. Subparsers take their parent's class, so every
    subcommand's parser (the probe's too) is one of these. Keywords only, as argparse makes
    subparsers; ``formatter_class`` formats help and usage, and while the parser is built the
    same class at :data:`BUILDING_WIDTH` checks the options."""

    def __init__(self, *, formatter_class: Any = argparse.HelpFormatter, **kwargs: Any) -> None:
        self.printing_formatter = formatter_class

        def building(prog: str) -> argparse.HelpFormatter:
            made: argparse.HelpFormatter = formatter_class(prog, width=BUILDING_WIDTH)
            return made

        super().__init__(formatter_class=building, **kwargs)

    def add_argument(self, *names: Any, **keywords: Any) -> argparse.Action:
        """argparse's, with :data:`~smtpfake.plain_args.NEGATABLE` as its BooleanOptionalAction
        (the adders name it so, to be read without argparse too)."""
        if keywords.get("action") == NEGATABLE:
            keywords["action"] = argparse.BooleanOptionalAction
        return super().add_argument(*names, **keywords)

    def format_usage(self) -> str:
        return self._printed(super().format_usage)

    def format_help(self) -> str:
        return self._printed(super().format_help)

    def _printed(self, format_it: Callable[[], str]) -> str:
        """``format_it()`` with the formatter help is printed with (the terminal's width)."""
        building, self.formatter_class = self.formatter_class, self.printing_formatter
        try:
            return format_it()
        finally:
            self.formatter_class = building

    def error(self, message: str) -> NoReturn:
        cli.usage_error(self.prog, message)


#: what ``smtpfake --help`` says first (the module's docstring is for readers of the code)
DESCRIPTION = (
    "smtpfake: a fault-injecting SMTP test double. A scenario (YAML) scripts how the server "
    "misbehaves; every session and message is recorded."
)


class _OneCommand:
    """What a :data:`smtpfake.cli.COMMANDS` adder is given for ``smtpfake``'s subparsers when
    one command's parser is built alone (:func:`smtpfake.cli.parse`): its ``add_parser`` makes
    that parser as the subparsers would (prog ``smtpfake NAME``, ``command`` set to NAME;
    ``help`` is for the top level's list), without the top-level parser (start-up time: each
    parser argparse makes looks for its translations, about 0.8 million instructions, and the
    subparsers format the
    top level's usage for the prog)."""

    def __init__(self) -> None:
        self.made: Parser | None = None

    def add_parser(self, name: str, *, help: str | None = None, **kwargs: Any) -> Parser:
        self.made = Parser(prog=f"smtpfake {name}", **kwargs)
        self.made.set_defaults(command=name)
        return self.made


def scenario_dir_parent() -> Parser:
    """A parent parser with :func:`scenario_dir_option`: what the probe's parser takes."""
    dirs = Parser(add_help=False)
    cli.scenario_dir_option(dirs)
    return dirs


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """``smtpfake``'s parser with every subcommand (``smtpfake --help``); with ``command`` (a key
    of :data:`smtpfake.cli.COMMANDS`) that subcommand's parser alone, as the whole parser would
    make it, which is all a run of it reads (start-up time: building them all costs about 5 ms
    and imports the probe's)."""
    if command is not None:
        alone = _OneCommand()
        cli.COMMANDS[command](alone)
        assert alone.made is not None, f"{command}'s adder made no parser"
        return alone.made
    parser = Parser(prog="smtpfake", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"smtpfake {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in cli.COMMANDS.values():
        add(sub)
    return parser
