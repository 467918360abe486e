"""Scenario parameters: the ``params:`` section, the values a user sets, and ``${name}``.

A scenario declares its parameters with a type and a default::

    params:
      delay: {type: duration, default: 300, min: 1, doc: seconds a new triple is refused}

and writes ``${delay}`` wherever a value goes: a whole value (``within: ${delay}``, read with
the parameter's type) or inside text (``reply: 451 4.7.1 try again in ${delay} seconds``).
``$${`` writes a literal ``${``. References are replaced in the YAML nodes before the scenario
is read, so every reader checks the value in force exactly as if it had been written there, and
a problem with it is reported where the reference is, naming the parameter and its value.

Values set by a user (``use(params=)``, ``--param``, the marker, the API) are converted from
text when they are strings (``"5"``, ``"5m"``, ``"true"``); a bad one is reported at the
parameter's declaration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from smtpfake.scenario import limits
from smtpfake.scenario.errors import Problem
from smtpfake.scenario.model import PARAM_TYPES, Param
from smtpfake.scenario.nodes import MappingNode, Node, ScalarNode, SequenceNode
from smtpfake.scenario.yamlwalk import (
    INVALID,
    Walker,
    describe,
    did_you_mean,
    is_int,
    is_number,
    stand_in,
)

PARAM_KEYS = ("type", "default", "min", "max", "doc")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# ${name}, or $${...} for a literal "${...}"
_REF = re.compile(r"\$(\$?)\{([^{}]*)\}")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_WANT = {
    "int": "a whole number",
    "number": "a number",
    "string": "a string",
    "bool": "true or false",
    "duration": f"a duration ({limits.DURATION_FORMS})",
}

Value = int | float | str | bool
_STR = "tag:yaml.org,2002:str"
_REPRESENTER = yaml.representer.SafeRepresenter()


def convert(kind_: str, value: Any) -> Value:
    """``value`` as a parameter of type ``kind_``; strings are parsed (``"5"``, ``"5m"``,
    ``"yes"``) since ``--param`` and query strings give text. Raises ValueError saying what
    was expected."""
    if kind_ == "string" and isinstance(value, str):
        return value
    if kind_ == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in (*_TRUE, *_FALSE):
            return value.strip().lower() in _TRUE
    if kind_ == "int":
        if is_int(value):
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?[0-9]+\s*", value):
            return int(value)
    if kind_ == "number":
        if is_number(value):
            return value  # type: ignore[no-any-return]  # is_number: int or float
        if isinstance(value, str):
            text = value.strip()
            if re.fullmatch(r"[-+]?[0-9]+", text):
                return int(text)
            if re.fullmatch(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?", text):
                return float(text)
    if kind_ == "duration":
        if is_number(value):
            return float(value)
        if isinstance(value, str):
            # a sign is read here, so that "-5" is told it is out of range (out_of_range), not
            # that it is no duration
            text = value.strip()
            sign = -1.0 if text.startswith("-") else 1.0
            seconds = limits.duration_seconds(text[1:] if text[:1] in "+-" else text)
            if text and seconds is not None:
                return sign * seconds
    raise ValueError(f"expected {_WANT[kind_]}, got {describe(value)}")


def out_of_range(param: Param, value: Value) -> str | None:
    """Why ``value`` is outside the parameter's ``min``/``max`` (a duration's is at least 0
    without one), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    minimum = param.minimum
    if minimum is None and param.type == "duration":
        minimum = 0
    if minimum is not None and value < minimum:
        return f"must be at least {text_of(minimum)}, got {text_of(value)}"
    if param.maximum is not None and value > param.maximum:
        return f"must be at most {text_of(param.maximum)}, got {text_of(value)}"
    return None


def text_of(value: Any) -> str:
    """A value as it reads inside text: ``300`` for 300.0, ``true`` for True."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_assignment(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` (``--param delay=5``) -> (name, value). Raises ValueError."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not _NAME.fullmatch(name):
        raise ValueError(f"expected NAME=VALUE (e.g. delay=5), got {text!r}")
    return name, value


class ParamReader(Walker):
    """Reads ``params:`` and replaces ``${name}`` in the rest of the document."""

    def __init__(self, source: str) -> None:
        super().__init__(source)
        #: every name under params:, valid or not (a reference to a broken one is not unknown)
        self.param_names: set[str] = set()
        #: the problems with values the user set, as ``NAME=VALUE: why`` (see ParamsError)
        self.setting_problems: list[str] = []

    def params(self, node: Node, overrides: Mapping[str, Any]) -> dict[str, tuple[Param, Node]]:
        """The declared parameters, with the values in force, by name (with their key node,
        where a problem with a value set by the user is reported)."""
        declared: dict[str, tuple[Param, Node]] = {}
        for name, key_node, value in self.mapping(node, "params"):
            self.param_names.add(name)
            if not _NAME.fullmatch(name):
                self.problem(
                    key_node,
                    f"params: '{name}' is not a parameter name (letters, digits and _, "
                    "not starting with a digit)",
                )
                continue
            param = self.param(name, value)
            if param is not INVALID:
                declared[name] = (param, key_node)
        for name, value in overrides.items():
            found = declared.get(name)
            if found is None:
                where = "declares no parameters" if not declared else "has no parameter"
                choices = ", ".join(declared) or "none"
                unknown = (
                    f"this scenario {where} named '{name}'{did_you_mean(name, declared)} "
                    f"(declared: {choices})"
                )
                self._setting_problem(node, f"params: {unknown}", name, value, unknown)
                continue
            param, key_node = found
            try:
                converted = convert(param.type, value)
            except ValueError as exc:
                said = f"parameter '{name}' set to {value!r}: {exc}"
                self._setting_problem(key_node, said, name, value, str(exc))
                continue
            why = out_of_range(param, converted)
            if why:
                said = f"parameter '{name}' set to {value!r}: {why}"
                self._setting_problem(key_node, said, name, value, why)
                continue
            declared[name] = (_with_value(param, converted), key_node)
        return declared

    def _setting_problem(self, node: Node, message: str, name: str, value: Any, why: str) -> None:
        """A value the user set is wrong: a problem at ``node`` (the scenario, or the parameter's
        declaration), and the same as the setting's own (``NAME=VALUE: why``)."""
        self.problem(node, message)
        self.setting_problems.append(f"{name}={text_of(value)}: {why}")

    def param(self, name: str, node: Node) -> Any:
        what = f"params.{name}"
        readers = {
            "type": self.param_type,
            "default": self.scalar,
            "min": self.bound,
            "max": self.bound,
            "doc": self.string,
        }
        kw, nodes = self.fields(node, what, readers, PARAM_KEYS)
        if not isinstance(node, MappingNode) or any(v is INVALID for v in kw.values()):
            return INVALID  # reported by fields() or the readers
        missing = [k for k in ("type", "default") if k not in kw]
        if missing:
            self.problem(node, f"{what}: missing {' and '.join(repr(k) for k in missing)}")
            return INVALID
        kind_ = kw["type"]
        if ("min" in kw or "max" in kw) and kind_ not in ("int", "number", "duration"):
            key = "min" if "min" in kw else "max"
            self.problem(nodes[key], f"{what}.{key}: only an int, number or duration has a range")
            return INVALID
        if "min" in kw and "max" in kw and kw["min"] > kw["max"]:
            self.problem(nodes["max"], f"{what}.max: must not be less than min ({kw['min']})")
            return INVALID
        try:
            default = convert(kind_, kw["default"])
        except ValueError as exc:
            self.problem(nodes["default"], f"{what}.default: {exc}")
            return INVALID
        param = Param(
            name=name,
            type=kind_,
            default=default,
            value=default,
            minimum=kw.get("min"),
            maximum=kw.get("max"),
            doc=kw.get("doc", ""),
            location=self.loc(node),
        )
        why = out_of_range(param, default)
        if why:
            self.problem(nodes["default"], f"{what}.default: {why}")
            return INVALID
        return param

    def param_type(self, node: Node, what: str) -> Any:
        return self.choice(node, what, PARAM_TYPES, noun="type")

    def bound(self, node: Node, what: str) -> Any:
        return self.typed(node, what, is_number, "a number")


class Substitution:
    """Replaces ``${name}`` in a node tree with the values in force; remembers which were
    used and where (so a reader's problem there can name the parameter)."""

    def __init__(self, walker: ParamReader, values: Mapping[str, Param]) -> None:
        self.walker = walker
        self.values = values
        self.used: set[str] = set()
        self.at: dict[tuple[int, int], str] = {}  # (line, column) -> "delay = 5"

    def node(self, node: Node) -> Node:
        if isinstance(node, MappingNode):
            node.value = [(k, self.node(v)) for k, v in node.value]
        elif isinstance(node, SequenceNode):
            node.value = [self.node(v) for v in node.value]
        elif isinstance(node, ScalarNode) and node.tag == _STR and "${" in node.value:
            return self.scalar(node)
        return node

    def scalar(self, node: ScalarNode) -> Node:
        text: str = node.value
        whole = _REF.fullmatch(text)
        if whole and not whole.group(1):
            param = self.lookup(node, whole.group(2))
            return stand_in(node) if param is None else _typed_node(param.value, node)
        missing = False
        pieces: list[str] = []
        last = 0
        for m in _REF.finditer(text):
            pieces.append(text[last : m.start()])
            last = m.end()
            if m.group(1):
                pieces.append("${" + m.group(2) + "}")
                continue
            param = self.lookup(node, m.group(2))
            missing = missing or param is None
            pieces.append(text_of(param.value) if param else m.group(0))
        pieces.append(text[last:])
        if missing:
            return stand_in(node)
        return node.at(node.tag, "".join(pieces))

    def lookup(self, node: Node, name: str) -> Param | None:
        param = self.values.get(name.strip())
        if param is None and name.strip() in self.walker.param_names:
            return None  # its declaration is broken, and reported
        if param is None:
            declared = ", ".join(self.values) or "none"
            self.walker.problem(
                node,
                f"unknown parameter '{name}' in '${{{name}}}'{did_you_mean(name, self.values)} "
                f"(declared in params: {declared}; write $${{ for a literal ${{)",
            )
            return None
        self.used.add(param.name)
        loc = self.walker.loc(node)
        self.at[(loc.line, loc.column)] = f"{param.name} = {text_of(param.value)}"
        return param

    def annotate(self, problems: list[Problem]) -> list[Problem]:
        """Problems found at a reference say which parameter value was read there."""
        out = []
        for p in problems:
            used = self.at.get((p.location.line, p.location.column))
            if used and p.location.file == self.walker.source:
                p = Problem(p.location, f"{p.message} (from parameter {used})")
            out.append(p)
        return out


def _with_value(param: Param, value: Value) -> Param:
    return Param(
        name=param.name,
        type=param.type,
        default=param.default,
        value=value,
        minimum=param.minimum,
        maximum=param.maximum,
        doc=param.doc,
        location=param.location,
    )


def _typed_node(value: Value, like: ScalarNode) -> ScalarNode:
    """A scalar node holding ``value`` with its YAML type, placed where the reference was."""
    if isinstance(value, str):
        return like.at(_STR, value)
    # The safe representer writes what the safe constructor reads back (1e-05 as 1.0e-05).
    made = _REPRESENTER.represent_data(value)
    return like.at(made.tag, made.value)
