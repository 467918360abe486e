"""The README's reference tables, derived from the declarations the loader and the JSON Schema
use: faults (their dataclasses: what each does, and its parameters), server settings
(ServerSettings' fields and their metadata) and rule conditions (schema.rule_condition_table,
with schema.CONDITION_DOCS).

Each fault's row gives its scalar shorthand, every parameter with its type, allowed values or
range, and default (or "required"), the stages it may be used on, and its ``doc`` line; all come
from the fault's dataclass fields, their metadata and class attributes, the same source the loader
and scenario.schema.json use. ``python tests/test_readme.py`` writes it into the README; a test
checks that it is current.
"""

from __future__ import annotations

import json
from typing import Any

from smtpfake.scenario import limits
from smtpfake.scenario.faults import REGISTRY
from smtpfake.scenario.schema import JSON, fault_schema, rule_condition_table, server_schema

#: JSON Schema keywords -> how a bound reads in the table
_BOUNDS = (
    ("minimum", ">= {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "<= {}"),
    ("minLength", "at least {} characters"),
    ("minItems", "at least {} item(s)"),
)


def _value(value: Any) -> str:
    """A default as YAML would spell it, in backticks; None (no default value) as "unset"."""
    if value is None:
        return "unset"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    return f"`{json.dumps(value)}`"


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def describe_schema(schema: JSON) -> str:
    """One cell: the types a value may have, its allowed values or its bounds."""
    if "$ref" in schema:  # "#/$defs/stage" -> stage
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if schema.get("type") == "object":
        keys = ", ".join(schema.get("properties", {}))
        return f"mapping {{{keys}}}" if keys else "mapping"
    if "anyOf" in schema:
        return " or ".join(describe_schema(part) for part in schema["anyOf"])
    kinds = schema.get("type", "any")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    words = "/".join(k for k in kinds if k != "null") or "null"
    if schema.get("pattern", "").startswith(limits.DURATION_PATTERN):
        words = "duration"  # seconds, or with a unit (see the Format reference)
    if schema.get("type") == "array" and "items" in schema:
        words = f"list of {describe_schema(schema['items'])}"
    bounds = [fmt.format(_number(schema[k])) for k, fmt in _BOUNDS if k in schema]
    return f"{words} ({', '.join(bounds)})" if bounds else words


def _forms(schema: JSON) -> tuple[JSON | None, JSON]:
    """(the scalar shorthand's schema or None, the mapping form's schema)."""
    forms = schema.get("anyOf", [schema])
    mapping = next(f for f in forms if f.get("type") == "object")
    scalar = next((f for f in forms if f is not mapping), None)
    return scalar, mapping


def fault_table_markdown() -> str:
    """| fault | scalar form | parameters | stages | what it does |, one row per registered
    fault, in registration order."""
    rows = [
        "| fault | scalar form | parameters (mapping form) | stages | what it does |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key, cls in REGISTRY.items():
        schema = fault_schema(key, cls)
        scalar, mapping = _forms(schema)
        required = set(mapping.get("required", ()))
        params = []
        for name, prop in mapping["properties"].items():
            default = "required" if name in required else f"default {_value(prop.get('default'))}"
            params.append(f"`{name}`: {describe_schema(prop)}, {default}")
        short = describe_schema(scalar) if scalar is not None else "none"
        stages = ", ".join(f"`{s}`" for s in sorted(cls.stages)) if cls.stages else "all"
        doc = _cell(cls.doc or "")
        rows.append(f"| `{key}` | {short} | {'; '.join(params) or 'none'} | {stages} | {doc} |")
    return "\n".join(rows)


#: the order a reader meets the faults in: what is said, when, how the connection ends, how the
#: octets go out; a fault not named here follows in registration order
_READING_ORDER = (
    "reply", "delay", "close", "disconnect", "reset", "hang", "abort", "drip", "fragment",
    "truncate", "malformed", "raw", "replies", "cut_body", "tls_fail",
)  # fmt: skip


def fault_summary_markdown() -> str:
    """| key | meaning |, one row per registered fault from its ``reference`` text."""
    keys = [k for k in _READING_ORDER if k in REGISTRY]
    keys += [k for k in REGISTRY if k not in keys]
    rows = ["| key | meaning |", "| --- | --- |"]
    rows += [f"| `{k}` | {_cell(REGISTRY[k].reference)} |" for k in keys]
    return "\n".join(rows)


def _yaml(value: Any) -> str:
    """A default as YAML spells it in flow style, in backticks; None (no default) as "unset"."""
    if value is None:
        return "unset"

    def flow(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(flow(i) for i in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k}: {flow(i)}" for k, i in v.items()) + "}"
        return str(v)

    return f"`{flow(value)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def server_table_markdown() -> str:
    """| key | values | default | meaning |: one row per ServerSettings field, in field order,
    then one per key of a setting that is a mapping (``tls.certificate``), from its schema."""
    rows = ["| key | values | default | meaning |", "| --- | --- | --- | --- |"]
    for key, prop in server_schema()["properties"].items():
        values = {k: v for k, v in prop.items() if k not in ("description", "default")}
        rows.append(
            f"| `{key}` | {describe_schema(values)} | {_cell(_yaml(prop.get('default')))} "
            f"| {_cell(prop['description'])} |"
        )
        mapping = next((p for p in prop.get("anyOf", []) if p.get("type") == "object"), None)
        for sub, sub_prop in (mapping or {}).get("properties", {}).items():
            sub_values = {k: v for k, v in sub_prop.items() if k not in ("description", "default")}
            rows.append(
                f"| `{key}.{sub}` | {describe_schema(sub_values)} "
                f"| {_cell(_yaml(sub_prop.get('default')))} | {_cell(sub_prop['description'])} |"
            )
    return "\n".join(rows)


def condition_table_markdown() -> str:
    """| key | values | meaning |: one row per rule condition (RULE_KEYS order)."""
    rows = ["| key | values | meaning |", "| --- | --- | --- |"]
    for key, prop in rule_condition_table().items():
        values = {k: v for k, v in prop.items() if k != "description"}
        rows.append(f"| `{key}` | {describe_schema(values)} | {_cell(prop['description'])} |")
    return "\n".join(rows)
