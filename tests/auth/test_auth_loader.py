"""``server.auth`` in a scenario: read into AuthSettings, every mistake reported at file:line:col,
and the JSON Schema agreeing with the loader."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import yaml

from smtpfake.scenario import ScenarioError, load_text
from smtpfake.scenario.model import AuthSettings
from smtpfake.scenario.schema import build_schema

HEAD = "summary: s\nexpect: e\nserver:\n"


def load(auth: str) -> Any:
    return load_text(HEAD + "  auth: " + auth + "\n", source="t.yaml")


def problems(auth: str) -> list[str]:
    with pytest.raises(ScenarioError) as error:
        load(auth)
    return [str(p) for p in error.value.problems]


def test_full_settings() -> None:
    text = (
        HEAD + "  auth:\n    mechanisms: [LOGIN]\n    users:\n      alice: secret\n"
        "      yes: 'no'\n      '0123': '9'\n    required: true\n    require_tls: true\n"
    )
    auth = load_text(text).server.auth
    assert auth == AuthSettings(
        mechanisms=("LOGIN",),
        users=(("alice", "secret"), ("yes", "no"), ("0123", "9")),  # names as written
        required=True,
        require_tls=True,
    )
    assert auth.keyword == "AUTH LOGIN"
    assert auth.valid("alice", "secret") and not auth.valid("alice", "Secret")


def test_defaults_and_null() -> None:
    assert load("{}").server.auth == AuthSettings()
    assert AuthSettings().mechanisms == ("PLAIN", "LOGIN") and AuthSettings().users == ()
    assert load("null").server.auth is None
    assert load_text("summary: s\nexpect: e\n").server.auth is None


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (
            "{mechanisms: [PLAN]}",
            "t.yaml:4:23: server.auth.mechanisms: unknown mechanism 'PLAN'; "
            "did you mean 'PLAIN'? (smtpfake implements: PLAIN, LOGIN)",
        ),
        (
            "{mechanisms: [login]}",
            "t.yaml:4:23: server.auth.mechanisms: unknown mechanism 'login'; "
            "write it in capitals: 'LOGIN' (smtpfake implements: PLAIN, LOGIN)",
        ),
        (
            "{mechanisms: [CRAM-MD5]}",
            "t.yaml:4:23: server.auth.mechanisms: unknown mechanism "
            "'CRAM-MD5' (smtpfake implements: PLAIN, LOGIN)",
        ),
        (
            "{mechanisms: []}",
            "t.yaml:4:22: server.auth.mechanisms: expected a list of one or more "
            "of PLAIN, LOGIN, got an empty list",
        ),
        (
            "{mechanisms: PLAIN}",
            "t.yaml:4:22: server.auth.mechanisms: expected a list of one or "
            "more of PLAIN, LOGIN, got the value 'PLAIN'",
        ),
        (
            "{mechanisms: [PLAIN, PLAIN]}",
            "t.yaml:4:30: server.auth.mechanisms: 'PLAIN' is listed twice",
        ),
        (
            "{users: {bob: 1234}}",
            "t.yaml:4:23: server.auth.users.bob: a password must be a string, "
            "got int 1234 (quote it: '1234')",
        ),
        (
            "{users: {bob: [x]}}",
            "t.yaml:4:23: server.auth.users.bob: expected a single value, got a list",
        ),
        (
            "{users: [alice]}",
            "t.yaml:4:17: server.auth.users: expected a mapping of username to "
            "password, got a list",
        ),
        ("{users: {a: b, a: c}}", "t.yaml:4:24: server.auth.users: duplicate key 'a'"),
        (
            "{requird: true}",
            "t.yaml:4:10: server.auth: unknown key 'requird'; did you mean "
            "'required'? (allowed: mechanisms, users, required, require_tls)",
        ),
        (
            "{require_tls: 1}",
            "t.yaml:4:23: server.auth.require_tls: expected true or false, got int 1",
        ),
        ("[PLAIN]", "t.yaml:4:9: server.auth: expected a mapping, got a list"),
    ],
)
def test_mistakes_are_reported_where_they_are(auth: str, expected: str) -> None:
    assert problems(auth) == [expected]


def test_every_mistake_at_once() -> None:
    found = problems("{mechanisms: [PLAN], users: {a: 1}, extra: 1}")
    assert len(found) == 3, found


def test_the_server_key_is_suggested() -> None:
    with pytest.raises(ScenarioError) as error:
        load_text(HEAD + "  ath: {}\n", source="t.yaml")
    assert "did you mean 'auth'?" in str(error.value)


# -- the schema agrees -----------------------------------------------------------------------------

VALID = ["{}", "null", "{mechanisms: [LOGIN], users: {a: b}, required: true, require_tls: false}"]
INVALID = [
    "{mechanisms: [PLAN]}",
    "{mechanisms: []}",
    "{mechanisms: [PLAIN, PLAIN]}",
    "{users: {bob: 1234}}",
    "{users: [alice]}",
    "{requird: true}",
    "{required: 1}",
    "[PLAIN]",
]


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = build_schema()
    return jsonschema.validators.validator_for(schema)(schema)


@pytest.mark.parametrize("auth", VALID)
def test_schema_accepts_what_the_loader_accepts(auth: str, validator: Any) -> None:
    load(auth)
    document = yaml.safe_load(HEAD + "  auth: " + auth + "\n")
    assert list(validator.iter_errors(document)) == []


@pytest.mark.parametrize("auth", INVALID)
def test_schema_refuses_what_the_loader_refuses(auth: str, validator: Any) -> None:
    with pytest.raises(ScenarioError):
        load(auth)
    document = yaml.safe_load(HEAD + "  auth: " + auth + "\n")
    assert list(validator.iter_errors(document)), "the schema accepted it"
