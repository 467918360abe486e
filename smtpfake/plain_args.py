"""A command line of plain long options read without argparse, from the very ``add_argument``
calls that build the command's argparse parser (start-up time, issue 11 item 1: importing
argparse, which brings gettext, and building serve's parser are some 11 million instructions,
a tenth of what ``smtpfake serve`` runs before its first greeting beyond a bare asyncio server).

:class:`Options` stands in for the parser while the command's adder runs and keeps each option;
:func:`read_plain` then reads ``argv`` when every word is one argparse would read the same way:
``--name VALUE`` or ``--name=VALUE`` spelt out in full, a ``--flag``/``--no-flag`` of a
:data:`NEGATABLE` option. Anything else (``--help``, an abbreviation, an unknown option, a value
that starts with ``-``, a value its type or choices refuse) returns None, and the caller hands
the same words to argparse, which prints the help or the error exactly as always. Its result is
what argparse's ``parse_args`` would give (tests/cli/test_plain_args.py compares them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

#: ``action=`` for an on/off option with a ``--no-`` form (argparse's BooleanOptionalAction,
#: which :class:`smtpfake.cli_parser.Parser` puts in its place)
NEGATABLE = "negatable"
#: the actions read here; an option with any other makes :func:`read_plain` answer None
_ACTIONS = (None, "store", "append", NEGATABLE)
#: the keywords of ``add_argument`` read here (``help`` and ``metavar`` change no value); an
#: option with any other (nargs, const, required, ...) makes :func:`read_plain` answer None
_KEYWORDS = frozenset(("action", "default", "type", "choices", "dest", "help", "metavar"))


class Options:
    """What an adder given a parser (``add_argument``, ``set_defaults``) told it, kept:
    ``flags`` maps each long flag to its option's (dest, keywords); ``defaults`` holds the
    namespace's values before any word is read."""

    def __init__(self) -> None:
        self.flags: dict[str, tuple[str, dict[str, Any]]] = {}
        self.defaults: dict[str, Any] = {}
        self.plain = True  # False once an option is one read_plain does not read

    def add_parser(self, name: str, **_: Any) -> Options:
        """As argparse's subparsers make a command's parser (its help and description are for
        argparse's help): itself, with ``command`` set to ``name`` (cli_parser's _OneCommand)."""
        self.defaults["command"] = name
        return self

    def add_argument(self, *names: str, **keywords: Any) -> None:
        """argparse's own rule for the dest: ``dest=``, else the first long flag's name with
        ``-`` as ``_``. A str default with a type (argparse converts it) is not read here."""
        longs = [n for n in names if n.startswith("--")]
        default = keywords.get("default")
        if (
            not longs
            or len(longs) != len(names)
            or keywords.get("action") not in _ACTIONS
            or not _KEYWORDS.issuperset(keywords)
            or (isinstance(default, str) and "type" in keywords)
        ):
            self.plain = False
            return
        dest = keywords.get("dest") or longs[0][2:].replace("-", "_")
        self.defaults[dest] = default
        for name in longs:
            self.flags[name] = (dest, keywords)
            if keywords.get("action") == NEGATABLE:
                self.flags[f"--no-{name[2:]}"] = (dest, {**keywords, "negated": True})

    def set_defaults(self, **keywords: Any) -> None:
        self.defaults.update(keywords)


def read_plain(options: Options, argv: Sequence[str]) -> SimpleNamespace | None:
    """``argv`` read as argparse reads it, or None when a word is not plain (see the module's
    docstring); an append option's list is a new one, as argparse copies its default."""
    if not options.plain:
        return None
    values = {k: list(v) if isinstance(v, list) else v for k, v in options.defaults.items()}
    at = 0
    while at < len(argv):
        word = argv[at]
        name, eq, text = word.partition("=")
        found = options.flags.get(name)
        if found is None:
            return None
        dest, keywords = found
        action = keywords.get("action")
        at += 1
        if action == NEGATABLE:
            if eq:
                return None
            values[dest] = not keywords.get("negated", False)
            continue
        if not eq:
            # argparse decides whether "-x" or "-5" is a value: leave it those words
            if at == len(argv) or argv[at].startswith("-"):
                return None
            text, at = argv[at], at + 1
        value = _typed(keywords.get("type"), text)
        choices = keywords.get("choices")
        if value is _REFUSED or (choices is not None and value not in choices):
            return None
        if action == "append":
            values[dest].append(value)
        else:
            values[dest] = value
    return SimpleNamespace(**values)


#: what _typed returns for a value its type refused
_REFUSED = object()


def _typed(kind: Callable[[str], Any] | None, text: str) -> Any:
    """``kind(text)``, or :data:`_REFUSED` when it raises: argparse then calls it again and
    reports the error as it always does (or lets it through, if it is not one it reports)."""
    if kind is None:
        return text
    try:
        return kind(text)
    except Exception:  # argparse calls it again: see above
        return _REFUSED
