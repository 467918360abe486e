"""The names a check lists (violation kinds for ``no-violations:``/``forbid:``, command verbs for
``never-sent:``) are a closed vocabulary: a misspelt one is refused where it stands, with a
did-you-mean, instead of making a check that can never fail. One list of violation kinds
(scenario/violations.py) serves the loader, the engine and the API."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from smtpfake.engine.commands import COMMANDS
from smtpfake.scenario import ScenarioError, load_text
from smtpfake.scenario.checks_reader import COMMAND_VERBS
from smtpfake.scenario.violations import VIOLATION_KINDS
from smtpfake.serialize import VIOLATION_REFERENCES

from ..support.engine import Engine

HEAD = "summary: s\nexpect: e\n"
ENGINE = Path(__file__).resolve().parents[2] / "smtpfake" / "engine"
KINDS = ", ".join(VIOLATION_KINDS)
VERBS = ", ".join(COMMAND_VERBS)


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_text(HEAD + text, source="s.yaml")
    return [str(p) for p in info.value.problems]


def judged(text: str) -> tuple[object, ...]:
    return tuple(c.value for c in load_text(HEAD + text, source="s.yaml").checks.judge)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "checks:\n  judge:\n    - forbid: [no-quit, sent-afer-close]\n      rfc: x\n",
            "s.yaml:5:25: checks.judge[1].forbid: unknown violation kind 'sent-afer-close'; "
            f"did you mean 'sent-after-close'? (allowed: {KINDS})",
        ),
        (
            "checks:\n  judge:\n    - forbid: bare_lf\n      rfc: x\n",
            "s.yaml:5:15: checks.judge[1].forbid: unknown violation kind 'bare_lf'; "
            f"did you mean 'bare-lf'? (allowed: {KINDS})",
        ),
        (
            "checks:\n  judge:\n    - rfc: x\n      no-violations:\n        - bare-lf\n"
            "        - no-qiut\n",
            "s.yaml:8:11: checks.judge[1].no-violations: unknown violation kind 'no-qiut'; "
            f"did you mean 'no-quit'? (allowed: {KINDS})",
        ),
        (
            "checks:\n  judge:\n    - no-violations: [nonsense]\n      rfc: x\n",
            "s.yaml:5:23: checks.judge[1].no-violations: unknown violation kind 'nonsense' "
            f"(allowed: {KINDS})",
        ),
        (
            "checks:\n  judge:\n    - never-sent: [mail, AUHT]\n      rfc: x\n",
            "s.yaml:5:26: checks.judge[1].never-sent: unknown command verb 'AUHT'; "
            f"did you mean 'AUTH'? (allowed: {VERBS})",
        ),
        (
            "checks:\n  judge:\n    - forbid: []\n      rfc: x\n",
            "s.yaml:5:15: checks.judge[1].forbid: expected at least one violation kind",
        ),
        (
            "checks:\n  judge:\n    - never-sent: []\n      rfc: x\n",
            "s.yaml:5:19: checks.judge[1].never-sent: expected at least one command verb",
        ),
        (
            "checks:\n  judge:\n    - no-violations: false\n      rfc: x\n",
            "s.yaml:5:22: checks.judge[1].no-violations: expected true or a list of kinds, "
            "got bool False",
        ),
    ],
)
def test_an_unknown_name_is_refused_at_its_position(text: str, problem: str) -> None:
    assert problems(text) == [problem]


def test_every_unknown_name_is_reported_not_only_the_first() -> None:
    found = problems(
        "checks:\n  judge:\n"
        "    - forbid: [no-quitt, bare-lf, early-taker]\n      rfc: x\n"
        "    - never-sent: [STARTLS]\n      rfc: y\n"
    )
    assert [p.split(": unknown")[0] for p in found] == [
        "s.yaml:5:16: checks.judge[1].forbid",
        "s.yaml:5:35: checks.judge[1].forbid",
        "s.yaml:7:20: checks.judge[2].never-sent",
    ]
    assert "did you mean 'early-talker'?" in found[1]
    assert "did you mean 'STARTTLS'?" in found[2]


def test_known_names_are_read_as_before() -> None:
    assert judged(
        "checks:\n  judge:\n"
        "    - forbid: [sent-after-close, retry-too-soon]\n      rfc: a\n"
        "    - forbid: no-quit\n      rfc: b\n"
        "    - no-violations: true\n      rfc: c\n"
        "    - no-violations: []\n      rfc: d\n"  # empty: none allowed, as true
        "    - no-violations: bare-lf\n      rfc: e\n"
        "    - never-sent: [auth, Mail]\n      rfc: f\n"
    ) == (
        ("sent-after-close", "retry-too-soon"),
        ("no-quit",),
        (),
        (),
        ("bare-lf",),
        ("AUTH", "MAIL"),
    )


def test_validate_refuses_a_misspelt_violation_kind_with_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "case.yaml"
    bad.write_text(
        "summary: s\nexpect: e\nchecks:\n  judge:\n"
        "    - forbid: [sent-after-closed]\n      rfc: RFC 5321 §3.8\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "smtpfake", "validate", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert (
        f"{bad}:5:16: checks.judge[1].forbid: unknown violation kind 'sent-after-closed'; "
        "did you mean 'sent-after-close'?"
    ) in done.stdout


# --- one list -------------------------------------------------------------------------------


def _engine_strings() -> set[str]:
    strings: set[str] = set()
    for path in ENGINE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
    return strings


def test_every_declared_kind_is_one_the_engine_records() -> None:
    """A kind no engine code names would be a check that can never fail again."""
    assert set(VIOLATION_KINDS) <= _engine_strings()


def test_the_engine_refuses_to_record_an_undeclared_kind() -> None:
    session = Engine().connect().session
    session.violate("bad-sequence", "declared", "MAIL")
    with pytest.raises(AssertionError, match="'no-such-kind' is not in VIOLATION_KINDS"):
        session.violate("no-such-kind", "a bug in smtpfake", "MAIL")


def test_the_api_references_are_the_same_list() -> None:
    assert VIOLATION_REFERENCES is VIOLATION_KINDS


def test_never_sent_verbs_are_the_commands_the_engine_reads() -> None:
    assert sorted(COMMAND_VERBS) == sorted(COMMANDS)
