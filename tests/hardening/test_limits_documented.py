"""Every limit is in the README's "Limits" section, with the value the code uses."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from smtpfake import cli
from smtpfake.journal import JournalLimits
from smtpfake.scenario import limits

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Limits\n")
    return text[start : text.index("\n## ", start + 1)]


def _row(label: str) -> str:
    (row,) = [line for line in _section().splitlines() if line.startswith(f"| {label} |")]
    return row


#: README row label -> what its value cell must say, from the constant the code uses
ROWS = {
    "scenario size": f"{limits.MAX_SCENARIO_BYTES:,} bytes",
    "nesting": f"{limits.MAX_DEPTH} levels",
    "values": f"{limits.MAX_NODES:,}",
    "aliases": f"{limits.ALIAS_GROWTH} x the values written, plus {limits.ALIAS_ALLOWANCE:,}",
    "rules": f"{limits.MAX_RULES:,}",
    "reply lines": f"{limits.MAX_REPLY_LINES}",
    "reply line": f"{limits.MAX_REPLY_LINE_OCTETS} octets",
    "hostname": f"{limits.MAX_HOSTNAME_OCTETS} octets",
    "problems listed": f"{limits.MAX_PROBLEMS}",
    "waits": f"{int(limits.MAX_SECONDS):,} seconds",
    "counts": f"{limits.MAX_COUNT:,}",
    "seed": "0 to 2^64-1",
    "number length": f"{limits.MAX_NUMBER_CHARS} characters",
    "JSON nesting": f"{limits.MAX_JSON_DEPTH} levels",
    "journal limit": f"{limits.MAX_JOURNAL_LIMIT:,}",
}


def test_every_limit_constant_has_a_row() -> None:
    constants = {n for n in dir(limits) if n.startswith(("MAX_", "ALIAS_"))}
    assert len(constants) == 16  # a new limit needs a row in ROWS and in the README
    assert limits.MAX_SEED == 2**64 - 1


@pytest.mark.parametrize("label", ROWS)
def test_the_readme_gives_the_value_in_force(label: str) -> None:
    assert f"| {ROWS[label]}" in _row(label)


@pytest.mark.parametrize("field", dataclasses.fields(JournalLimits), ids=lambda f: f.name)
def test_every_journal_limit_has_its_default_flag_and_variable(field: dataclasses.Field) -> None:
    row = _row(f"`{field.name}`")
    var = cli.SERVE_ENV[f"journal_{field.name}"][0]
    assert f"| {field.default:,} " in row
    assert f"`--journal-{field.name.replace('_', '-')}`" in row
    assert f"`{var}`" in row
