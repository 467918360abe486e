"""The JSON Schema (draft 2020-12) of the scenario format, generated from the code.

Top-level keys come from ``loader.TOP_KEYS``, server settings from the ServerSettings dataclass,
rule conditions from ``loader.RULE_KEYS``, stages from the Stage enum and faults from the fault
REGISTRY (their dataclass fields, types and ``doc``), so a new fault or setting shows up here by
itself. The loader reads top-level keys and rule conditions by hand, so their types are two small
tables below; a test checks that their keys equal TOP_KEYS and RULE_KEYS.

``python -m smtpfake.scenario.schema`` prints the schema; the repo keeps a copy next to this
module (scenario.schema.json) for editors, and a test checks that it is up to date.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

from smtpfake.scenario import limits
from smtpfake.scenario.checks_reader import checks_schema
from smtpfake.scenario.faults import REGISTRY, Fault
from smtpfake.scenario.loader import RULE_KEYS, TOP_KEYS
from smtpfake.scenario.model import (
    BODY_TYPES,
    GREETINGS,
    PARAM_TYPES,
    PER_PARTS,
    ServerSettings,
    Stage,
)
from smtpfake.scenario.reply import ENHANCED_RE
from smtpfake.scenario.rule_reader import PER_NEEDS

SCHEMA_PATH = Path(__file__).with_name("scenario.schema.json")
REGENERATE = "python -m smtpfake.scenario.schema > smtpfake/scenario/scenario.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

JSON = dict[str, Any]

_POSITIVE_INT: JSON = {"type": "integer", "minimum": 1, "maximum": limits.MAX_COUNT}
_POSITIVE_INTS: JSON = {
    "anyOf": [_POSITIVE_INT, {"type": "array", "items": _POSITIVE_INT, "minItems": 1}]
}
_STATE_NAME: JSON = {"type": ["string", "integer"], "minLength": 1}
#: seconds: a number, or a duration with its unit ("250ms", "5m"; limits.duration_seconds)
SECONDS_TYPE: JSON = {"type": ["number", "string"], "pattern": limits.DURATION_PATTERN}
_SECONDS: JSON = {**SECONDS_TYPE, "exclusiveMinimum": 0, "maximum": limits.MAX_SECONDS}


def _per_pattern() -> str:
    # "connection" alone, or client/sender/recipient joined with "+" (see RuleReader.per_key).
    joinable = "|".join(p for p in PER_PARTS if p != "connection")
    return rf"^\s*(connection|({joinable})(\s*\+\s*({joinable}))*)\s*$"


def top_level_table() -> dict[str, JSON]:
    """The top-level keys, as ``_Walker.scenario`` reads them."""
    return {
        "name": {
            "type": "string",
            "description": "The scenario's name; defaults to the file stem.",
        },
        "summary": {
            "type": "string",
            "description": "One line saying what this scenario does (required in a file).",
        },
        "expect": {
            "type": "string",
            "description": "What a correct client is expected to do (required in a file).",
        },
        "description": {"type": "string", "description": "More detail, for people."},
        "seed": {
            "type": "integer",
            "minimum": 0,
            "maximum": limits.MAX_SEED,
            "description": "Seed for every random choice (delays, probability): repeatable runs.",
        },
        "params": {
            "type": "object",
            "description": "Named values the rest of the scenario refers to as ${name} (a whole "
            "value, typed, or inside text); a user sets them by name (use(params=), --param).",
            "propertyNames": {"pattern": PARAM_NAME_PATTERN},
            "additionalProperties": {"$ref": "#/$defs/param"},
        },
        "server": {"$ref": "#/$defs/server"},
        "rules": {
            "type": "array",
            "items": {"$ref": "#/$defs/rule"},
            "description": "Ordered rules; the first whose stage and conditions hold fires.",
        },
        "checks": checks_schema(),
    }


#: each rule condition's documentation (Markdown, one paragraph): its description in the
#: JSON Schema and its row in the README's conditions table (scenario/reference.py)
CONDITION_DOCS: dict[str, str] = {
    "on": (
        "stage, or list of stages: `connect` (the greeting), `helo`, `ehlo`, `mail`, `rcpt`, "
        '`data`, `end_of_data` (the final "."), `bdat` (each BDAT chunk\'s reply, see '
        "[CHUNKING](#chunking-bdat)), `rset`, `noop`, `vrfy`, `expn`, `help`, `quit`, `starttls`, "
        "`auth`, `unknown`, `any`"
    ),
    "name": "a label for the transcript and reports (default `rule N (on STAGE)`)",
    "match": (
        "glob on the argument: the address for `mail`/`rcpt` (`*@example.test`), the "
        "domain for `helo`/`ehlo`, the mechanism for `auth` (`PLAIN`, `LOGIN`), the raw argument "
        "otherwise; case-insensitive"
    ),
    "nth": "fire on the nth occurrence of the stage within the session (number or list)",
    "connection": (
        "fire on the nth connection since the scenario was put in force (number or "
        "list); a session's own number in the record counts since the last reset instead, so it "
        "stays unique"
    ),
    "times": "fire at most N times, counted across connections (per key with `per`)",
    "per": (
        "count separately per key: `connection`, or `client`, `sender`, `recipient` joined "
        "with `+` (e.g. `sender+recipient`); `client` is the IP without the port; needs a counter "
        "or a state to keep"
    ),
    "first": "only the first N counted attempts (global, or per key with `per`)",
    "after": "only after N counted attempts, the N+1th on (global, or per key with `per`)",
    "every": "every Nth counted attempt (global, or per key with `per`)",
    "window": "`first`/`after`/`every` count only within the last N seconds (sliding)",
    "fixed_window": "`first`/`after`/`every` count in back-to-back windows of N seconds",
    "within": "only within N seconds of the key's first attempt (greylisting)",
    "probability": (
        "fire with this probability (0.3 = 30%), drawn from the seeded RNG only when "
        "everything else matched"
    ),
    "state": (
        "fire only in these named states (initial `started`); server-wide, or with `per` "
        "kept for each key apart (`per: connection`: each connection has its own state; a rule "
        "that requires a state and the rules that enter it must have the same `per`)"
    ),
    "next_state": (
        "move to this named state when the rule fires (server-wide, or for the `per` key)"
    ),
    "greeted": (
        "how the connection greeted before this command: `helo`, `ehlo` or `none` (or a "
        "list); STARTTLS starts it over at `none` (RFC 3207 §4.2)"
    ),
    "tls": "`true`: only while TLS is active; `false`: only before",
    "authenticated": (
        "`true` / `false`: AUTH succeeded on this connection (or not); a name: "
        "succeeded as a user matching this glob (`bot-*`)"
    ),
    "message": (
        "`mail`, `rcpt`, `data`, `end_of_data`, `bdat` only: the nth mail transaction of "
        "the session (number or list; at MAIL, the one it would begin)"
    ),
    "size": (
        "`mail`, `rcpt`, `data`, `end_of_data`, `bdat` only: MAIL's declared `SIZE=` (RFC "
        "1870): `{min: N, max: N}` octets (inclusive; a MAIL without SIZE= never matches), or "
        "`none` (no SIZE= given)"
    ),
    "body": (
        "`mail`, `rcpt`, `data`, `end_of_data`, `bdat` only: MAIL's declared `BODY=`: "
        "`7bit`, `8bitmime`, `binarymime`, or `none` (no BODY= given); a list matches any"
    ),
}


def rule_condition_table() -> dict[str, JSON]:
    """The rule's conditions, as ``_Walker.rule`` reads them, each with its CONDITION_DOCS line
    as its description. Extend this with RULE_KEYS."""
    values: dict[str, JSON] = {
        "on": {
            "anyOf": [
                {"$ref": "#/$defs/stage"},
                {"type": "array", "items": {"$ref": "#/$defs/stage"}, "minItems": 1},
            ],
        },
        "name": {"type": "string"},
        "match": {"type": "string"},
        "nth": _POSITIVE_INTS,
        "connection": _POSITIVE_INTS,
        "times": _POSITIVE_INT,
        "per": {"type": "string", "pattern": _per_pattern()},
        "first": _POSITIVE_INT,
        "after": _POSITIVE_INT,
        "every": _POSITIVE_INT,
        "window": _SECONDS,
        "fixed_window": _SECONDS,
        "within": _SECONDS,
        "probability": {"type": "number", "minimum": 0, "maximum": 1},
        "state": {"anyOf": [_STATE_NAME, {"type": "array", "items": _STATE_NAME, "minItems": 1}]},
        "next_state": _STATE_NAME,
        **facts_condition_table(),
    }
    undocumented = sorted(set(values) - set(CONDITION_DOCS))
    if undocumented:
        raise KeyError(f"schema.py CONDITION_DOCS lacks {undocumented}")
    return {key: {"description": CONDITION_DOCS[key], **value} for key, value in values.items()}


def _words(allowed: tuple[str, ...]) -> JSON:
    # the loader compares without case; the schema takes the words as documented
    word = {"enum": list(allowed)}
    return {"anyOf": [word, {"type": "array", "items": word, "minItems": 1}]}


def facts_condition_table() -> JSON:
    """Conditions on facts about the connection, as scenario/facts_reader.py reads them."""
    octets = {"type": "integer", "minimum": 0}
    return {
        "greeted": _words(GREETINGS),
        "tls": {"type": "boolean"},
        "authenticated": {"type": ["boolean", "string"]},
        "message": _POSITIVE_INTS,
        "size": {
            "anyOf": [
                {"const": "none"},
                {
                    "type": "object",
                    "properties": {"min": octets, "max": octets},
                    "minProperties": 1,
                    "additionalProperties": False,
                },
            ],
        },
        "body": _words(BODY_TYPES),
    }


# Conditions that count as the rule doing something, like a fault (loader: "does nothing").
_EFFECT_CONDITIONS = ("next_state",)

# Refinements the field types cannot say (what Fault.check() enforces), by fault and field.
# The generator fails if one names a fault or field that does not exist.
_FAULT_FIELD_EXTRAS: dict[str, dict[str, JSON]] = {
    "reply": {
        "code": {"minimum": 200, "maximum": 599},
        "enhanced": {"pattern": f"^{ENHANCED_RE.pattern}$"},
    },
}
# The scalar shorthand, for faults whose shorthand the field types do not describe well.
_SHORTHANDS: dict[str, JSON] = {
    "reply": {
        "anyOf": [
            {"type": "integer", "minimum": 200, "maximum": 599},
            {"type": "string", "pattern": "^\\s*[2-5][0-9]{2}( |$)"},
        ],
        "description": 'CODE [ENHANCED] TEXT, e.g. "421 4.3.2 Going down", or just the code.',
    },
}


# -- types to schemas ---------------------------------------------------------------------------


def _options(hint: Any) -> list[Any]:
    if typing.get_origin(hint) in (Union, types.UnionType):
        return [o for a in typing.get_args(hint) for o in _options(a)]
    return [hint]


def _merge(schemas: list[JSON]) -> JSON:
    """One schema accepting any of these: a type list when they are plain types, else anyOf."""
    if len(schemas) == 1:
        return schemas[0]
    patterns = {s["pattern"] for s in schemas if "pattern" in s}
    if all(set(s) <= {"type", "pattern"} for s in schemas) and len(patterns) <= 1:
        # a pattern constrains strings alone, so it carries over to the merged type list
        names: list[str] = []
        for s in schemas:
            for name in s["type"] if isinstance(s["type"], list) else [s["type"]]:
                if name not in names:
                    names.append(name)
        merged: JSON = {"type": names if len(names) > 1 else names[0]}
        return merged | ({"pattern": patterns.pop()} if patterns else {})
    return {"anyOf": schemas}


def type_schema(hint: Any, where: str, *, lenient: bool = False) -> JSON:
    """The schema of a dataclass field type.

    ``lenient`` follows the loader's fault parameters: a string parameter also takes a number
    (read as its text) and a float one an integer.
    """
    options = _options(hint)
    if len(options) > 1:
        return _merge([type_schema(o, where, lenient=lenient) for o in options])
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        # a fault's float parameters are all seconds: a duration with its unit reads as them
        return dict(SECONDS_TYPE) if lenient else {"type": "number"}  # a copy: callers add to it
    if hint is str:
        return {"type": ["string", "number"]} if lenient else {"type": "string"}
    if hint is type(None):
        return {"type": "null"}
    origin = typing.get_origin(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return {"type": "array", "items": type_schema(item, where, lenient=lenient)}
    if origin is Literal:
        return {"enum": list(typing.get_args(hint))}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [m.value for m in hint]}
    raise TypeError(
        f"{where}: schema.py cannot express the type {hint!r}; extend type_schema() for it"
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value


def _default(f: dataclasses.Field[Any]) -> tuple[bool, Any]:
    if f.default is not dataclasses.MISSING:
        return True, _json_value(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return True, _json_value(f.default_factory())
    return False, None


def _scalar_types(schema: JSON) -> list[str]:
    """The JSON scalar types a schema accepts (for a shorthand built from several fields)."""
    found: list[str] = []
    for part in schema.get("anyOf", [schema]):
        kinds = part.get("type", [])
        for kind in kinds if isinstance(kinds, list) else [kinds]:
            if kind in ("string", "number", "integer", "boolean") and kind not in found:
                found.append(kind)
    return found


# -- the pieces -----------------------------------------------------------------------------------


def server_schema() -> JSON:
    hints = typing.get_type_hints(ServerSettings)
    props: dict[str, JSON] = {}
    for f in dataclasses.fields(ServerSettings):
        # A setting the field type cannot describe (a nested mapping) gives its own schema.
        schema = dict(f.metadata.get("schema") or type_schema(hints[f.name], f"server.{f.name}"))
        if schema.get("type") == "integer":
            schema["minimum"] = 1  # the loader takes no zero limits
            schema["maximum"] = limits.MAX_COUNT
        has_default, default = _default(f)
        if has_default and "default" not in schema:  # a given schema says its default as YAML
            schema["default"] = default
        if not f.metadata.get("doc"):
            raise KeyError(f"ServerSettings.{f.name} has no metadata 'doc' (its documentation)")
        props[f.name] = {"description": f.metadata["doc"], **schema}
    return {
        "type": "object",
        "description": "How the server presents itself and its limits.",
        "properties": props,
        "additionalProperties": False,
    }


def _has_custom_shorthand(cls: type[Fault]) -> bool:
    return cls.shorthand.__func__ is not Fault.shorthand.__func__  # type: ignore[attr-defined]


def fault_schema(key: str, cls: type[Fault]) -> JSON:
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = {f.name for f in fields}
    extras = _FAULT_FIELD_EXTRAS.get(key, {})
    stale = sorted(set(extras) - names)
    if stale:
        raise KeyError(f"schema.py _FAULT_FIELD_EXTRAS['{key}'] names missing fields: {stale}")
    props: dict[str, JSON] = {}
    required: list[str] = []
    for f in fields:
        # lenient as the loader reads a fault's parameters (a float one is seconds, unless
        # declared unitless: it takes no duration)
        schema = type_schema(hints[f.name], f"{key}.{f.name}", lenient=True)
        if f.metadata.get("unitless"):
            schema = {k: v for k, v in schema.items() if k != "pattern"}
            schema["type"] = [t for t in schema["type"] if t != "string"] or "number"
        if f.name in extras:
            schema = _refine(schema, extras[f.name])
        if "choices" in f.metadata:  # the values check() allows, declared on the field
            schema = _refine(schema, {"enum": list(f.metadata["choices"])})
        if "schema" in f.metadata:  # what check() allows, as JSON Schema on the field
            schema = _refine(schema, f.metadata["schema"])
        has_default, default = _default(f)
        if has_default:
            schema["default"] = default
        else:
            required.append(f.name)
        doc = f.metadata.get("doc") or f"Parameter '{f.name}' of {key}."
        props[f.name] = {"description": doc, **schema}
    mapping: JSON = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        mapping["required"] = required
    forms = [mapping]
    if key in _SHORTHANDS:
        forms.insert(0, _SHORTHANDS[key])
    elif _has_custom_shorthand(cls):
        # The scalar ends up in the fields, so it has one of their scalar types.
        kinds = list(dict.fromkeys(k for p in props.values() for k in _scalar_types(p)))
        if kinds:
            shorthand: JSON = {"type": kinds if len(kinds) > 1 else kinds[0]}
            # strings only as the fields take them: all seconds fields (delay) take durations
            texts = [p for p in props.values() if "string" in _scalar_types(p)]
            if texts and all(p.get("pattern") == limits.DURATION_PATTERN for p in texts):
                shorthand["pattern"] = limits.DURATION_PATTERN
            forms.insert(0, shorthand)
    elif cls.primary is not None:
        primary = {k: v for k, v in props[cls.primary].items() if k != "default"}
        primary["description"] = f"Shorthand for {{{cls.primary}: VALUE}}."
        forms.insert(0, primary)
    doc = cls.doc or f"The {key} fault."
    return (
        {"description": doc, "anyOf": forms} if len(forms) > 1 else {"description": doc, **mapping}
    )


def _refine(schema: JSON, extra: JSON) -> JSON:
    # JSON Schema keywords only bind their own type (pattern strings, minimum numbers), so the
    # extras can go on every branch.
    if "anyOf" in schema:
        return {**schema, "anyOf": [{**b, **extra} for b in schema["anyOf"]]}
    return {**schema, **extra}


def rule_schema() -> JSON:
    conditions = rule_condition_table()
    if set(conditions) != set(RULE_KEYS):
        raise KeyError(
            "schema.py rule_condition_table() is out of step with loader.RULE_KEYS: "
            f"missing {sorted(set(RULE_KEYS) - set(conditions))}, "
            f"extra {sorted(set(conditions) - set(RULE_KEYS))}"
        )
    props: dict[str, JSON] = {k: conditions[k] for k in RULE_KEYS}
    faults = sorted(REGISTRY)
    effects = [k for k in _EFFECT_CONDITIONS if k in props]
    for key in faults:
        if key in props:
            raise KeyError(f"fault '{key}' has the name of a rule condition")
        props[key] = fault_schema(key, REGISTRY[key])
    return {
        "type": "object",
        "description": "WHERE (on), WHEN (conditions) and WHAT (one or more faults).",
        "properties": props,
        "required": ["on"],
        # what the loader checks across keys: per keys something; a fault's own stages
        "allOf": [
            {
                "if": {"required": ["per"]},
                "then": {"anyOf": [{"required": [k]} for k in PER_NEEDS]},
            },
            *(
                {
                    "if": {"required": [key]},
                    "then": {"properties": {"on": _only_stages(REGISTRY[key].stages or ())}},
                }
                for key in faults
                if REGISTRY[key].stages
            ),
        ],
        # a rule that does nothing is an error (a state change counts as doing something)
        "anyOf": [{"required": [k]} for k in [*faults, *effects]],
        "additionalProperties": False,
    }


def _only_stages(stages: frozenset[str] | tuple[()]) -> JSON:
    only = {"enum": sorted(stages)}
    return {"anyOf": [only, {"type": "array", "items": only, "minItems": 1}]}


def build_schema() -> JSON:
    top = top_level_table()
    if set(top) != set(TOP_KEYS):
        raise KeyError(
            "schema.py top_level_table() is out of step with loader.TOP_KEYS: "
            f"missing {sorted(set(TOP_KEYS) - set(top))}, extra {sorted(set(top) - set(TOP_KEYS))}"
        )
    return {
        "$schema": DIALECT,
        "title": "smtpfake scenario",
        "description": f"A smtpfake scenario file. Generated by: {REGENERATE}",
        "type": "object",
        "properties": {k: top[k] for k in TOP_KEYS},
        "required": ["summary", "expect"],
        "additionalProperties": False,
        "$defs": {
            "stage": {
                "description": "Where a rule fires; connect is the greeting, end_of_data the "
                "final dot.",
                "enum": [s.value for s in Stage],
            },
            "server": with_param_refs(
                {
                    **server_schema(),
                    # the loader: a silent or resetting idle close needs the idle time
                    "if": {
                        "required": ["idle_close"],
                        "properties": {"idle_close": {"not": {"const": "reply"}}},
                    },
                    "then": {"required": ["idle_timeout"]},
                }
            ),
            "rule": with_param_refs(rule_schema()),
            "param": param_schema(),
        },
    }


PARAM_NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$"
#: a whole value taken from a parameter, where a number or true/false goes
PARAM_REF_PATTERN = r"^\$\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}$"
_TYPED = {"integer", "number", "boolean"}


def param_schema() -> JSON:
    """One ``params:`` entry, as scenario/params.py reads it."""
    return {
        "type": "object",
        "description": "A parameter: its type, default, range (int, number, duration) and doc.",
        "properties": {
            "type": {"enum": list(PARAM_TYPES), "description": "What values it takes."},
            "default": {
                "type": ["integer", "number", "string", "boolean"],
                "description": "The value unless the user sets one (a duration: seconds, or "
                "250ms, 30s, 5m, 1h).",
            },
            "min": {"type": "number", "description": "Smallest value allowed (inclusive)."},
            "max": {"type": "number", "description": "Largest value allowed (inclusive)."},
            "doc": {"type": "string", "description": "What it sets, for list and show."},
        },
        "required": ["type", "default"],
        "additionalProperties": False,
    }


def with_param_refs(schema: Any) -> Any:
    """Every number, integer or boolean value in ``schema`` may also be ``${name}`` (strings
    already accept one). A ``pattern`` only constrains strings and ``minimum`` only numbers, so
    adding the string type with the reference's pattern keeps every other check as it was."""
    if isinstance(schema, list):
        return [with_param_refs(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: with_param_refs(v) for k, v in schema.items()}
    if "enum" in out:
        # an enumeration takes ${name} too (a string parameter, checked at load)
        outer = {k: v for k, v in out.items() if k in ("description", "default")}
        inner = {k: v for k, v in out.items() if k not in outer}
        return {**outer, "anyOf": [inner, {"type": "string", "pattern": PARAM_REF_PATTERN}]}
    if out.get("pattern") == limits.DURATION_PATTERN:
        out["pattern"] = f"{limits.DURATION_PATTERN}|{PARAM_REF_PATTERN}"  # seconds, or ${name}
        return out
    kinds = schema.get("type")
    names = list(kinds) if isinstance(kinds, list) else [kinds]
    if set(names) & _TYPED and "string" not in names:
        out["type"] = [*names, "string"]
        out["pattern"] = PARAM_REF_PATTERN
    return out


def render() -> str:
    """The schema as the committed file holds it."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    # UTF-8 whatever the locale, so `> scenario.schema.json` always gives the committed bytes.
    sys.stdout.buffer.write(render().encode("utf-8"))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
