"""``server.tls``, ``extensions_add`` and ``extensions_remove`` in YAML: read, checked, and
described by the JSON schema the same way."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from smtpfake.scenario import ScenarioError, load_file, load_text
from smtpfake.scenario.model import TlsSettings

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "smtpfake/scenario/scenario.schema.json").read_text()
)
HEAD = "summary: s\nexpect: e\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as error:
        load_text(HEAD + text, source="t.yaml")
    return [str(p) for p in error.value.problems]


def schema_ok(text: str) -> bool:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return not list(validator.iter_errors(yaml.safe_load(HEAD + text)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("server:\n  tls: true\n", TlsSettings(enabled=True)),
        ("server:\n  tls: false\n", TlsSettings()),
        ("server:\n  tls: {}\n", TlsSettings(enabled=True)),
        ("server:\n  tls: {required: true}\n", TlsSettings(enabled=True, required=True)),
        ("server:\n  tls: {implicit: true}\n", TlsSettings(enabled=True, implicit=True)),
        ("server:\n  tls: {enabled: false, required: true}\n", TlsSettings(required=True)),
    ],
)
def test_tls_forms(text: str, expected: TlsSettings) -> None:
    assert load_text(HEAD + text).server.tls == expected
    assert schema_ok(text)


def test_tls_location_is_kept_for_later_errors() -> None:
    tls = load_text(HEAD + "server:\n  tls:\n    required: true\n", source="t.yaml").server.tls
    assert str(tls.location) == "t.yaml:5:5"


def test_certificate_paths_are_relative_to_the_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "server.pem").write_text("x")
    (tmp_path / "certs" / "server.key").write_text("x")
    path = tmp_path / "mine.yaml"
    path.write_text(
        HEAD + "server:\n  tls: {certificate: certs/server.pem, key: certs/server.key}\n"
    )
    tls = load_file(path).server.tls
    assert tls.certificate == str((tmp_path / "certs" / "server.pem").resolve())
    assert tls.key == str((tmp_path / "certs" / "server.key").resolve())


def test_tls_mistakes_are_reported_where_they_are() -> None:
    found = problems(
        "server:\n"
        "  tls:\n"
        "    requierd: true\n"
        "    certificate: /nonexistent/cert.pem\n"
        "    implicit: yes please\n"
    )
    assert found == [
        "t.yaml:5:5: server.tls: unknown key 'requierd'; did you mean 'required'? "
        "(allowed: enabled, certificate, key, required, implicit)",
        "t.yaml:6:18: server.tls.certificate: no such file: '/nonexistent/cert.pem'",
        "t.yaml:7:15: server.tls.implicit: expected true or false, got str 'yes please'",
    ]


def test_a_key_without_its_certificate_is_an_error(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    key.write_text("x")
    assert problems(f"server:\n  tls: {{key: {key}}}\n") == [
        "t.yaml:4:14: server.tls.key: a key needs its certificate (certificate:)"
    ]


def test_tls_must_be_a_boolean_or_a_mapping() -> None:
    assert problems("server:\n  tls: 1\n") == [
        "t.yaml:4:8: server.tls: expected true, false or a mapping, got int 1"
    ]
    assert not schema_ok("server:\n  tls: 1\n")
    assert not schema_ok("server:\n  tls: {requierd: true}\n")


def test_extensions_add_and_remove_are_read() -> None:
    server = load_text(
        HEAD + "server:\n  extensions_add: [DSN, SIZE 10]\n  extensions_remove: [pipelining]\n"
    ).server
    assert server.extensions_add == ("DSN", "SIZE 10")
    assert server.extensions_remove == ("pipelining",)
    assert schema_ok("server:\n  extensions_add: [DSN]\n  extensions_remove: [SIZE]\n")


def test_removing_a_known_keyword_that_is_not_listed_is_fine() -> None:
    # "no STARTTLS here" is worth saying even though the default list lacks it
    server = load_text(HEAD + "server:\n  extensions_remove: [STARTTLS, DSN, chunking]\n").server
    assert "STARTTLS" not in server.advertised()


def test_a_misspelt_removal_is_an_error_with_a_suggestion() -> None:
    found = problems("server:\n  extensions_remove: [PIPELINNG, SIZE 10]\n")
    assert found == [
        "t.yaml:4:23: server.extensions_remove: 'PIPELINNG' is not an EHLO keyword; did you "
        "mean 'PIPELINING'? (advertised: PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, "
        "SMTPUTF8, HELP)",
        "t.yaml:4:34: server.extensions_remove: expected a keyword alone, got 'SIZE 10' "
        "(write 'SIZE')",
    ]


def test_the_tls_fault_is_checked() -> None:
    found = problems("server: {tls: true}\nrules:\n  - on: starttls\n    tls_fail: explode\n")
    assert len(found) == 1 and "how must be one of: garbage, close, reset, cut" in found[0]
    found = problems("rules:\n  - on: mail\n    tls_fail: close\n")
    assert len(found) == 1 and "starttls" in found[0]


def test_the_tls_fault_forms() -> None:
    rule = load_text(
        HEAD + "server: {tls: true}\nrules:\n  - on: starttls\n    tls_fail: {how: cut, bytes: 3}\n"
    ).rules[0]
    (fault,) = rule.faults
    assert (fault.name, fault.how, fault.bytes) == ("tls_fail", "cut", 3)  # type: ignore[attr-defined]
