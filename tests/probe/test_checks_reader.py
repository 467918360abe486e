"""``checks:`` in a scenario: read into frozen Checks, every problem at file:line:col, and the
JSON Schema agreeing with the reader on what is valid."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import yaml

from smtpfake.scenario import ScenarioError, load_text
from smtpfake.scenario.checks import CHECK_KINDS, Check, Checks, ClientInput, ClientKind, Level
from smtpfake.scenario.schema import build_schema

HEAD = "summary: s\nexpect: e\n"


def test_checks_are_read_with_defaults() -> None:
    scenario = load_text(
        HEAD + "checks:\n"
        "  tags: [tls, slow]\n"
        "  client: {to: [a@x.test, b@x.test], message: eight-bit, tls: starttls, auth: true}\n"
        "  judge:\n"
        "    - delivered: 1\n      rfc: RFC 5321 §6.1\n"
        "    - outcome: transient\n      rfc: RFC 5321 §4.2.1\n      level: should\n"
        "    - no-violations: true\n      rfc: x\n      level: info\n"
        "    - never-sent: [auth, Mail]\n      rfc: y\n      clients: retrying\n"
    )
    checks = scenario.checks
    assert checks.tags == ("tls", "slow")
    assert checks.client == ClientInput(
        recipients=("a@x.test", "b@x.test"), message="eight-bit", tls="starttls", auth=True
    )
    delivered, outcome, clean, never = checks.judge
    assert delivered == Check("delivered", 1, "RFC 5321 §6.1")
    assert delivered.clients == (ClientKind.ONE_SHOT, ClientKind.RETRYING)
    assert outcome.value == ("transient",) and outcome.level is Level.SHOULD
    assert outcome.clients == (ClientKind.ONE_SHOT,)  # outcome applies to one-shot clients only
    assert clean.value == () and clean.level is Level.INFO
    assert never.value == ("AUTH", "MAIL") and never.clients == (ClientKind.RETRYING,)
    assert delivered.location is not None and delivered.location.line == 7


def test_a_scenario_without_checks_has_none() -> None:
    assert load_text(HEAD).checks == Checks()


def _problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_text(HEAD + text, source="s.yaml")
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "checks:\n  judge:\n    - delivred: 1\n      rfc: x\n",
            "s.yaml:5:7: checks.judge[1]: unknown key 'delivred'; did you mean 'delivered'?",
        ),
        (
            "checks:\n  judge:\n    - delivered: 1\n",
            "s.yaml:5:7: checks.judge[1]: missing 'rfc': the RFC section this check comes from",
        ),
        (
            "checks:\n  judge:\n    - delivered: 1\n      retried: true\n      rfc: x\n",
            "s.yaml:5:7: checks.judge[1]: expected exactly one check",
        ),
        (
            "checks:\n  judge:\n    - outcome: temporary\n      rfc: x\n",
            "s.yaml:5:16: checks.judge[1].outcome: unknown value 'temporary'",
        ),
        (
            "checks:\n  judge:\n    - retried: true\n      rfc: x\n      clients: one-shot\n",
            "s.yaml:5:7: checks.judge[1]: 'retried' applies only to retrying clients",
        ),
        (
            "checks:\n  judge:\n    - delivered: -1\n      rfc: x\n",
            "s.yaml:5:18: checks.judge[1].delivered: must be at least 0, got -1",
        ),
        (
            "checks:\n  judge:\n    - delivered: 1\n      rfc: x\n      level: may\n",
            "s.yaml:7:14: checks.judge[1].level: unknown value 'may' (allowed: must, should, info)",
        ),
        (
            "checks:\n  judge:\n    - no-violations: false\n      rfc: x\n",
            "s.yaml:5:22: checks.judge[1].no-violations: expected true or a list of kinds",
        ),
        ("checks:\n  client:\n    to: []\n", "s.yaml:5:9: checks.client.to: expected at least one"),
        (
            "checks:\n  client:\n    message: eightbit\n",
            "s.yaml:5:14: checks.client.message: unknown value 'eightbit'; "
            "did you mean 'eight-bit'?",
        ),
        ("checks:\n  judge: {}\n", "s.yaml:4:10: checks.judge: expected a list of checks"),
        ("checks:\n  tagz: [x]\n", "s.yaml:4:3: checks: unknown key 'tagz'; did you mean 'tags'?"),
    ],
)
def test_problems_are_reported_where_they_are(text: str, problem: str) -> None:
    found = _problems(text)
    assert any(p.startswith(problem) for p in found), found


def test_every_problem_in_a_file_is_reported_at_once() -> None:
    found = _problems(
        "checks:\n  judge:\n    - delivered: x\n      rfc: a\n    - outcome: maybe\n      rfc: b\n"
    )
    assert len(found) == 2, found


# -- the schema agrees ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = build_schema()
    return jsonschema.validators.validator_for(schema)(schema)


VALID = [
    "checks:\n  judge:\n    - delivered: 0\n      rfc: x\n",
    "checks:\n  tags: waits\n  judge:\n    - forbid: sent-after-close\n      rfc: x\n",
    "checks:\n  judge:\n    - outcome: [delivered, permanent]\n      rfc: x\n      level: info\n",
    "checks:\n  client: {from: a@b, to: c@d, tls: implicit, auth: false}\n",
]
INVALID = [
    "checks:\n  judge:\n    - delivered: 1\n",
    "checks:\n  judge:\n    - outcome: soon\n      rfc: x\n",
    "checks:\n  judge:\n    - delivered: 1\n      retried: true\n      rfc: x\n",
    "checks:\n  client: {message: huge}\n",
    "checks:\n  colour: red\n",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_checks_pass_the_reader_and_the_schema(text: str, validator: Any) -> None:
    load_text(HEAD + text)
    assert [e.message for e in validator.iter_errors(yaml.safe_load(HEAD + text))] == []


@pytest.mark.parametrize("text", INVALID)
def test_invalid_checks_fail_the_reader_and_the_schema(text: str, validator: Any) -> None:
    with pytest.raises(ScenarioError):
        load_text(HEAD + text)
    assert list(validator.iter_errors(yaml.safe_load(HEAD + text)))


def test_the_schema_lists_every_check_kind() -> None:
    items = build_schema()["properties"]["checks"]["properties"]["judge"]["items"]["oneOf"]
    assert [next(iter(i["required"])) for i in items] == list(CHECK_KINDS)
