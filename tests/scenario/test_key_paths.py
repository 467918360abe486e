"""A problem's key path is the one written in the file: a parameter of a fault's mapping form is
named (``rules[1].reply.code``), an item of a list by its number (``rules[1].replies[2]``), and a
shorthand by its own key (``rules[1].delay``), never by a parameter the file does not hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from smtpfake.scenario import ScenarioError, load_text
from smtpfake.server import Server

HEAD = "summary: s\nexpect: e\nrules:\n"  # the rule is at line 4
CODE = (
    "reply code must be three digits starting with 2 to 5, the second digit 0 to 5 "
    "(RFC 5321 §4.2), got 999"
)
ITEM = 'expected a string "CODE [X.Y.Z] text", got a mapping'


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        # the mapping form: the path stopped at the fault (rules[1].reply: ...)
        ("{on: rcpt, reply: {code: 999}}", f"4:30: rules[1].reply.code: {CODE}"),
        (
            "{on: rcpt, reply: {code: 550, enhanced: 4.1.1}}",
            "4:45: rules[1].reply.enhanced: enhanced code 4.1.1 has class 4 but reply 550 has "
            "class 5 (RFC 3463 §2: they must agree)",
        ),
        (
            "{on: rcpt, delay: {min: 2, max: 1}}",
            "4:37: rules[1].delay.max: a uniform delay needs max >= min",
        ),
        (
            "{on: rcpt, raw: {data: ''}}",
            "4:28: rules[1].raw.data: raw needs at least one octet (for no reply use disconnect)",
        ),
        # an item of a list: its number, at the item (it was rules[1].replies.replies, or
        # rules[1].replies at the list for every item)
        ("{on: rcpt, replies: [{code: 999}]}", f"4:26: rules[1].replies[1]: {ITEM}"),
        ("{on: rcpt, replies: ['250 ok', '999 x']}", f"4:36: rules[1].replies[2]: {CODE}"),
        (
            "{on: rcpt, replies: {replies: ['250 ok', nope]}}",
            "4:46: rules[1].replies.replies[2]: each reply starts with its code, got 'nope'",
        ),
        (
            "{on: rcpt, reply: {code: 250, text: [ok, {a: 1}]}}",
            "4:46: rules[1].reply.text[2]: expected a string, got a mapping",
        ),
        # a shorthand: its own key (it was rules[1].delay.seconds, rules[1].reply.code)
        (
            "{on: rcpt, delay: soon}",
            "4:23: rules[1].delay: expected a number of seconds or a duration (250ms, 30s, 5m, "
            "1h) or null, got str 'soon'",
        ),
        (
            "{on: rcpt, reply: abc Nope}",
            '4:23: rules[1].reply: a reply starts with its code ("CODE [X.Y.Z] text"), got '
            "'abc Nope'",
        ),
        (
            "{on: rcpt, replies: '550 x'}",
            '4:25: rules[1].replies: expected a list of strings "CODE [X.Y.Z] text", got str '
            "'550 x'",
        ),
    ],
)
def test_a_problem_names_the_key_path_written_in_the_file(rule: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_text(f"{HEAD}  - {rule}\n", source="kp.yaml")
    assert str(caught.value).splitlines() == [f"kp.yaml:{problem}"]


# the finding's file: a mapping inside replies, and a reply's mapping form
FILE = (
    "summary: s\nexpect: e\nrules:\n  - on: rcpt\n    replies: [{code: 999}]\n"
    "  - on: mail\n    reply: {code: 999}\n"
)


def test_validate_names_the_key_paths_at_their_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "kp.yaml"
    path.write_text(FILE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "smtpfake", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[:2] == [
        f"{path}:5:15: rules[1].replies[1]: {ITEM}",
        f"{path}:7:19: rules[2].reply.code: {CODE}",
    ]


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"on": "rcpt", "reply": {"code": 999}}, f"rules[1].reply.code: {CODE}"),
        ({"on": "rcpt", "replies": [{"code": 999}]}, f"rules[1].replies[1]: {ITEM}"),
    ],
)
def test_use_of_a_dict_names_the_key_paths(rule: dict[str, Any], problem: str) -> None:
    with Server() as server, pytest.raises(ScenarioError) as caught:
        server.use({"rules": [rule]})
    assert str(caught.value) == problem
