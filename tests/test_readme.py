"""The README's examples run as tests, and its generated tables match the code.

Run ``python tests/test_readme.py`` to regenerate the tables after adding a scenario or code.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from smtpfake.engine.state import order_table_markdown
from smtpfake.explain import reply_code_table_markdown
from smtpfake.scenario import load_file, load_text, scenario_files
from smtpfake.scenario.faults import REGISTRY
from smtpfake.scenario.model import ServerSettings, Stage
from smtpfake.scenario.reference import (
    condition_table_markdown,
    fault_summary_markdown,
    fault_table_markdown,
    server_table_markdown,
)
from smtpfake.scenario.rule_reader import RULE_KEYS

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(lang: str) -> list[str]:
    return [body for kind, body in BLOCK.findall(README.read_text()) if kind == lang]


def scenario_table() -> str:
    rows = ["| scenario | what it does | a correct client |", "| --- | --- | --- |"]
    for name, path in sorted(scenario_files().items()):
        sc = load_file(path)
        rows.append(f"| `{name}` | {sc.summary} | {sc.expect} |")
    return "\n".join(rows)


def generated() -> dict[str, str]:
    return {
        "scenarios": scenario_table(),
        "reply-codes": reply_code_table_markdown(),
        "command-order": order_table_markdown(),
        "fault-summary": fault_summary_markdown(),
        "fault-parameters": fault_table_markdown(),
        "server-settings": server_table_markdown(),
        "rule-conditions": condition_table_markdown(),
    }


def section(text: str, name: str) -> str:
    m = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert m, f"README lacks the {name} markers"
    return m.group(1).strip()


def regenerate() -> None:
    text = README.read_text()
    for name, body in generated().items():
        text = re.sub(
            rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)",
            lambda m, body=body: f"{m.group(1)}{body}\n{m.group(2)}",
            text,
            flags=re.S,
        )
    README.write_text(text)


@pytest.mark.parametrize("name", list(generated()))
def test_generated_tables_are_current(name: str) -> None:
    assert section(README.read_text(), name) == generated()[name].strip(), (
        "README table out of date: run `python tests/test_readme.py`"
    )


def test_python_examples_pass(pytester: pytest.Pytester) -> None:
    # the probe's example generates a test per case: tests/probe/test_readme_probe.py runs it
    examples = [b for b in blocks("python") if "def test_" in b and "probe_cases" not in b]
    assert len(examples) >= 2
    for i, body in enumerate(examples):
        pytester.makepyfile(**{f"test_readme_{i}": body})
    # a TestCase's methods and async tests too
    expected = sum(len(re.findall(r"^\s*(?:async )?def test_", b, re.M)) for b in examples)
    result = pytester.runpytest("-p", "no:cacheprovider")
    # the indirect example expands to two tests
    result.assert_outcomes(passed=expected + 1)


def documented_keys() -> set[str]:
    """The names in the first column of the "Format reference" tables (`a` / `b` counts both)."""
    text = README.read_text()
    start = text.index("### Format reference")
    reference = text[start : text.index("\n### ", start + 1)]
    firsts = re.findall(r"^\| ([^|]*?) \|", reference, re.M)
    return {name for cell in firsts for name in re.findall(r"`([^`]+)`", cell)}


def test_every_rule_key_fault_and_server_setting_is_documented() -> None:
    keys = {*RULE_KEYS, *REGISTRY, *(f.name for f in dataclasses.fields(ServerSettings))}
    missing = sorted(keys - documented_keys())
    assert not missing, f"add a row to the README's Format reference for: {', '.join(missing)}"


def test_every_stage_is_in_the_on_row() -> None:
    row = next(line for line in README.read_text().splitlines() if line.startswith("| `on` |"))
    missing = [s.value for s in Stage if f"`{s.value}`" not in row]
    assert not missing, f"add to the README's `on` row: {', '.join(missing)}"


def test_yaml_examples_load() -> None:
    examples = blocks("yaml")
    assert examples
    for i, body in enumerate(examples):
        load_text(body, source=f"README yaml block {i + 1}")


if __name__ == "__main__":
    regenerate()


def test_no_merge_conflict_markers_in_the_tree() -> None:
    """A merge left unresolved once reached the README (two versions of one paragraph, and the
    markers, published as the package's description): no tracked text file may hold them."""
    root = README.parent
    marker = re.compile(r"^(<{7}|>{7})( |$)", re.M)
    found = []
    tops = ("README.md", "pyproject.toml", "conftest.py", "smtpfake", "scenarios", "tests", "bench")
    for top in tops:
        paths = [root / top] if (root / top).is_file() else sorted((root / top).rglob("*"))
        for path in paths:
            if path.suffix not in {".md", ".py", ".toml", ".yaml", ".yml", ".html", ".js", ".css"}:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for match in marker.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(root)}:{line}")
    assert not found, f"merge conflict markers at {found}"
