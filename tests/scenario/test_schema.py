"""The JSON Schema: generated from the code, committed in sync, and agreeing with the loader."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest
import yaml

from smtpfake.scenario import ScenarioError, ServerSettings, Stage, builtin_dir, limits, load_text
from smtpfake.scenario import schema as schema_module
from smtpfake.scenario.faults import REGISTRY, Fault
from smtpfake.scenario.loader import RULE_KEYS, TOP_KEYS
from smtpfake.scenario.plan import Plan

REPO = Path(__file__).resolve().parents[2]


class _KeysAsWritten(yaml.SafeLoader):
    """YAML as an editor's YAML 1.2 schema check sees it: `on` is the key "on", not True."""


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    return {
        (k.value if isinstance(k, yaml.ScalarNode) else loader.construct_object(k)): (
            loader.construct_object(v, deep=True)
        )
        for k, v in node.value
    }


_KeysAsWritten.add_constructor("tag:yaml.org,2002:map", _mapping)


def _document(text: str) -> Any:
    return yaml.load(text, Loader=_KeysAsWritten)  # a SafeLoader subclass: safe


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return schema_module.build_schema()


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


# -- in sync --------------------------------------------------------------------------------------


def test_committed_schema_is_up_to_date() -> None:
    committed = schema_module.SCHEMA_PATH.read_text(encoding="utf-8")
    assert committed == schema_module.render(), (
        "smtpfake/scenario/scenario.schema.json is out of date (a fault, setting or rule key "
        f"changed); regenerate it with:\n    {schema_module.REGENERATE}"
    )


def test_module_prints_the_schema() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "smtpfake.scenario.schema"],
        capture_output=True,
        check=True,
        cwd=REPO,
        timeout=30,
    ).stdout
    assert out.decode("utf-8") == schema_module.render()
    assert json.loads(out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_rule_condition_table_matches_the_loader() -> None:
    table = schema_module.rule_condition_table()
    assert set(table) == set(RULE_KEYS), (
        "loader.RULE_KEYS changed: give each new rule key its JSON Schema in "
        "smtpfake/scenario/schema.py rule_condition_table() (and drop removed ones), then run: "
        f"{schema_module.REGENERATE}"
    )


def test_top_level_table_matches_the_loader() -> None:
    assert set(schema_module.top_level_table()) == set(TOP_KEYS), (
        "loader.TOP_KEYS changed: update smtpfake/scenario/schema.py top_level_table()"
    )


def test_every_entry_has_a_description(schema: dict[str, Any]) -> None:
    for key, prop in schema["properties"].items():
        if "$ref" not in prop:
            assert prop.get("description"), key
    for key, prop in schema["$defs"]["server"]["properties"].items():
        assert prop.get("description"), key
    for key, prop in schema["$defs"]["rule"]["properties"].items():
        assert prop.get("description"), key


# -- generated from the code ---------------------------------------------------------------------


def test_schema_follows_the_code(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert list(schema["properties"]) == list(TOP_KEYS)
    assert schema["additionalProperties"] is False
    server = schema["$defs"]["server"]
    assert list(server["properties"]) == [f.name for f in dataclasses.fields(ServerSettings)]
    assert server["additionalProperties"] is False
    rule = schema["$defs"]["rule"]
    assert list(rule["properties"]) == [*RULE_KEYS, *sorted(REGISTRY)]
    assert rule["additionalProperties"] is False
    assert schema["$defs"]["stage"]["enum"] == [s.value for s in Stage]
    for name, cls in REGISTRY.items():
        assert rule["properties"][name]["description"] == (cls.doc or f"The {name} fault.")


def test_fault_forms(schema: dict[str, Any]) -> None:
    props = schema["$defs"]["rule"]["properties"]
    close = props["close"]["anyOf"]
    assert close[0]["type"] == ["boolean", "string"]  # the primary field's shorthand, or ${param}
    ref = schema_module.PARAM_REF_PATTERN
    assert close[1]["properties"]["enabled"] == {
        "description": "Parameter 'enabled' of close.",
        "type": ["boolean", "string"],
        "pattern": ref,
        "default": True,
    }
    delay = props["delay"]["anyOf"]
    # the custom shorthand, from the fields' types: seconds, as a duration or ${param} too
    assert delay[0] == {"type": ["number", "string"], "pattern": f"{limits.DURATION_PATTERN}|{ref}"}
    assert delay[1]["additionalProperties"] is False
    reply_map = props["reply"]["anyOf"][1]
    assert reply_map["required"] == ["code"]


@dataclasses.dataclass(frozen=True)
class _Wobble(Fault):
    name: ClassVar[str] = "wobble"
    primary: ClassVar[str | None] = "amount"
    doc: ClassVar[str] = "Wobble the reply."

    amount: float
    style: str = "gentle"
    lines: tuple[str, ...] = ()
    flag: bool | None = None

    def apply(self, plan: Plan, ctx: Any) -> Plan:
        return plan


def test_a_new_fault_is_picked_up_without_touching_the_schema_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(REGISTRY, "wobble", _Wobble)
    generated = schema_module.build_schema()
    wobble = generated["$defs"]["rule"]["properties"]["wobble"]
    assert wobble["description"] == "Wobble the reply."
    shorthand, mapping = wobble["anyOf"]
    assert shorthand["type"] == ["number", "string"]  # a number, or ${param}
    assert mapping["required"] == ["amount"]
    assert mapping["additionalProperties"] is False
    assert mapping["properties"]["style"]["type"] == ["string", "number"]
    assert mapping["properties"]["style"]["default"] == "gentle"
    assert mapping["properties"]["lines"]["type"] == "array"
    assert mapping["properties"]["flag"]["type"] == ["boolean", "null", "string"]
    assert {"required": ["wobble"]} in generated["$defs"]["rule"]["anyOf"]
    # ... so the committed file no longer matches: the sync test would fail.
    assert schema_module.render() != schema_module.SCHEMA_PATH.read_text(encoding="utf-8")


def test_a_fault_without_any_shorthand_takes_only_a_mapping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @dataclasses.dataclass(frozen=True)
    class Plain(Fault):
        name: ClassVar[str] = "plain"
        level: int = 1

        def apply(self, plan: Plan, ctx: Any) -> Plan:
            return plan

    monkeypatch.setitem(REGISTRY, "plain", Plain)
    prop = schema_module.build_schema()["$defs"]["rule"]["properties"]["plain"]
    assert "anyOf" not in prop
    assert prop["type"] == "object"
    assert prop["description"] == "The plain fault."


def test_an_inexpressible_field_type_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclasses.dataclass(frozen=True)
    class Odd(Fault):
        name: ClassVar[str] = "odd"
        table: dict[str, int] = dataclasses.field(default_factory=dict)

        def apply(self, plan: Plan, ctx: Any) -> Plan:
            return plan

    monkeypatch.setitem(REGISTRY, "odd", Odd)
    with pytest.raises(TypeError, match=r"odd\.table"):
        schema_module.build_schema()


# -- the schema agrees with the loader -------------------------------------------------------------


BUILTIN_FILES = sorted(builtin_dir().glob("*.yaml"))


@pytest.mark.parametrize("path", BUILTIN_FILES, ids=[p.stem for p in BUILTIN_FILES])
def test_every_builtin_is_valid_against_the_schema(
    path: Path, validator: jsonschema.protocols.Validator
) -> None:
    errors = [e.message for e in validator.iter_errors(_document(path.read_text("utf-8")))]
    assert errors == []


VALID = [
    "summary: s\nexpect: e\n",
    "summary: s\nexpect: e\nseed: 3\nserver: {require_helo: true, extensions: [SIZE 10]}\n",
    "summary: s\nexpect: e\nrules:\n  - on: rcpt\n    nth: [1, 2]\n    reply: 421 4.3.2 bye\n",
    "summary: s\nexpect: e\nrules:\n  - on: [helo, ehlo]\n    match: '*.test'\n    reply: 554\n",
    "summary: s\nexpect: e\nrules:\n  - on: mail\n    delay: {min: 1, max: 2}\n    close: true\n",
    "summary: s\nexpect: e\nrules:\n  - on: data\n    reply: {code: 250, text: [a, b]}\n",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_documents_pass_both(text: str, validator: jsonschema.protocols.Validator) -> None:
    load_text(text)
    assert [e.message for e in validator.iter_errors(_document(text))] == []


INVALID = {
    "missing expect": "summary: s\n",
    "unknown top-level key": "summary: s\nexpect: e\nrulez: []\n",
    "seed not a number": "summary: s\nexpect: e\nseed: x\n",
    "unknown server key": "summary: s\nexpect: e\nserver: {hostnme: x}\n",
    "extensions not a list": "summary: s\nexpect: e\nserver: {extensions: SIZE}\n",
    "unknown stage": "summary: s\nexpect: e\nrules:\n  - on: rcp\n    reply: 421 x\n",
    "unknown rule key": "summary: s\nexpect: e\nrules:\n  - on: rcpt\n    repyl: 421 x\n",
    "rule without on": "summary: s\nexpect: e\nrules:\n  - reply: 421 x\n",
    "rule without a fault": "summary: s\nexpect: e\nrules:\n  - on: rcpt\n    nth: 1\n",
    "nth not a number": (
        "summary: s\nexpect: e\nrules:\n  - on: rcpt\n    nth: x\n    close: true\n"
    ),
    "times zero": "summary: s\nexpect: e\nrules:\n  - on: rcpt\n    times: 0\n    close: true\n",
    "reply code 621": "summary: s\nexpect: e\nrules:\n  - on: rcpt\n    reply: 621 x\n",
    "reply code abc": "summary: s\nexpect: e\nrules:\n  - on: rcpt\n    reply: abc\n",
    "unknown fault parameter": (
        "summary: s\nexpect: e\nrules:\n  - on: rcpt\n    reply: {code: 421, txt: x}\n"
    ),
    "close not a boolean": "summary: s\nexpect: e\nrules:\n  - on: rcpt\n    close: maybe\n",
    "bad enhanced code": (
        "summary: s\nexpect: e\nrules:\n  - on: rcpt\n    reply: {code: 421, enhanced: '4.3'}\n"
    ),
}


@pytest.mark.parametrize("text", list(INVALID.values()), ids=list(INVALID))
def test_invalid_documents_fail_both(text: str, validator: jsonschema.protocols.Validator) -> None:
    with pytest.raises(ScenarioError):
        load_text(text)
    assert list(validator.iter_errors(_document(text))), "the schema accepted it"


@pytest.mark.parametrize("field", dataclasses.fields(ServerSettings), ids=lambda f: f.name)
def test_every_server_setting_in_the_schema_is_read_by_the_loader(
    field: dataclasses.Field[Any], validator: jsonschema.protocols.Validator
) -> None:
    value = getattr(ServerSettings(), field.name)
    if dataclasses.is_dataclass(value):  # a nested setting (tls) is written as its YAML default
        value = field.metadata["schema"]["default"]
    value = list(value) if isinstance(value, tuple) else value
    text = yaml.safe_dump({"summary": "s", "expect": "e", "server": {field.name: value}})
    assert [e.message for e in validator.iter_errors(_document(text))] == []
    assert getattr(load_text(text).server, field.name) == getattr(ServerSettings(), field.name)
