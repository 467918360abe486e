"""Issue 11's "done when": the README's plugin section names every fixture, option, ini key,
marker keyword and fixture method the plugin has (a new one undocumented fails here); its
examples run as tests in tests/test_readme.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smtpfake.control import Control
from smtpfake.journal_limits import JournalLimits

pytest_plugins = ["pytester"]

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def section(heading: str) -> str:
    """The README's text from ``heading`` to the next heading of the same or a higher level
    (a ``# comment`` line inside a fenced code block is no heading)."""
    start = README.index(f"\n{heading}\n")
    level = len(heading.split(" ")[0])
    fenced = False
    for line in README[start + 1 :].split("\n")[1:]:
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#") and len(line.split(" ")[0]) <= level:
            return README[start : README.index(f"\n{line}\n", start + 1)]
    return README[start:]


PLUGIN = section("## Testing a client's retry logic with the pytest plugin")


def first_cells(text: str, header: str) -> set[str]:
    """The backticked names (``name`` of ``name(args)``) in the first column of the table whose
    header line is ``header``."""
    table = text[text.index(header) :].split("\n\n")[0]
    rows = table.splitlines()[2:]
    return {n for row in rows for n in re.findall(r"`(\w+)", row.split(" | ")[0])}


def test_every_fixture_is_in_the_fixtures_table(pytester: pytest.Pytester) -> None:
    out = pytester.runpytest("--fixtures", "-p", "no:cacheprovider").stdout.str()
    ours = out.split("fixtures defined from smtpfake.pytest_plugin")[1].split("\n---")[0]
    declared = set(re.findall(r"^(smtpfake\w*)", ours, re.M))
    assert declared >= {"smtpfake", "smtpfake_session", "smtpfake_settings"}
    assert declared == first_cells(section("### Fixtures"), "| fixture | scope | what it is |")


def test_every_option_and_ini_key_is_in_the_settings_table(pytester: pytest.Pytester) -> None:
    out = pytester.runpytest("--help", "-p", "no:cacheprovider").stdout.str()
    flags = set(re.findall(r"^\s+(--smtpfake-[\w-]+)", out, re.M))
    keys = set(re.findall(r"^\s+(smtpfake_\w+) \(", out, re.M))
    assert len(flags) == len(keys) > 8
    settings = section("### Settings")
    journal = {f"--smtpfake-journal-{f.replace('_', '-')}" for f in JournalLimits.__annotations__}
    # the journal's are one row, "one per JournalLimits field", whose fields the Limits table lists
    assert "one per `JournalLimits` field" in settings
    limits = section("## Limits")
    for field in JournalLimits.__annotations__:
        assert f"| `{field}` |" in limits, field
    missing = [f for f in flags - journal if not re.search(rf"`{f}[ `]", settings)]
    missing += [k for k in keys if f"`{k}`" not in settings and "journal" not in k]
    assert not missing, f"add to the README's Settings table: {missing}"


def test_every_marker_keyword_is_on_the_marker_line() -> None:
    from smtpfake.pytest_plugin_marker import _MARKER_KEYWORDS

    line = PLUGIN[PLUGIN.index("The marker: `@pytest.mark.smtpfake(") :].split("`")[1]
    assert [k for k in _MARKER_KEYWORDS if f"{k}=" not in line] == [], line


def test_every_method_of_the_fixture_is_in_its_table() -> None:
    """The fixture's type (Control) and the README's table of what it offers name the same."""
    documented = first_cells(PLUGIN, "| | |\n| --- | --- |")
    declared = {n for n in {*dir(Control), *Control.__annotations__} if not n.startswith("_")}
    assert documented == declared
