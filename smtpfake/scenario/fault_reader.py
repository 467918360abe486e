"""Reading one fault's parameters, checked generically against the types of its dataclass
fields (a fault module declares its YAML parameters just by its fields)."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Union

from smtpfake.scenario import limits
from smtpfake.scenario.faults import Fault
from smtpfake.scenario.nodes import MappingNode, Node, SequenceNode
from smtpfake.scenario.yamlwalk import (
    INVALID,
    LONG_WAIT,
    Walker,
    describe,
    did_you_mean,
    is_int,
    kind,
)


class FaultReader(Walker):
    def fault(self, cls: type[Fault], key_node: Node, node: Node, what: str) -> Fault | None:
        hints, fields = _shape(cls)
        # float parameters are seconds (durations read as them) unless declared unitless
        unitless = {name for name, f in fields.items() if f.metadata.get("unitless")}
        raw: dict[str, Any] = {}
        nodes: dict[str, Node] = {}
        # each parameter's key path as the file spells it: a shorthand names no parameter
        paths: dict[str, str] = {}
        if isinstance(node, MappingNode):
            for key, knode, vnode in self.mapping(node, what):
                if key not in fields:
                    self.problem(
                        knode,
                        f"{what}: unknown parameter '{key}'{did_you_mean(key, fields)} "
                        f"(allowed: {', '.join(fields)})",
                    )
                    continue
                seconds = key not in unitless
                paths[key] = f"{what}.{key}"
                raw[key] = self.field_value(vnode, paths[key], hints[key], seconds, fields[key])
                nodes[key] = vnode
        elif (
            isinstance(node, SequenceNode)
            and cls.primary is not None
            and _allows_tuple(hints[cls.primary])
        ):
            # a list shorthand for a list parameter (``replies: [...]``)
            raw[cls.primary] = self.field_value(
                node, what, hints[cls.primary], cls.primary not in unitless, fields[cls.primary]
            )
            nodes[cls.primary] = node
            paths[cls.primary] = what
        else:
            value = self.scalar(node, what)
            if value is INVALID:
                return None
            if value is None:
                self.problem(node, f"{what}: needs a value (or a mapping of its parameters)")
                return None
            try:
                short = cls.shorthand(value)
            except ValueError as exc:
                self.problem(node, f"{what}: {exc}")
                return None
            for key, v in short.items():
                if v is None:
                    continue  # the shorthand left it out: the field's default applies
                raw[key] = self.check_type(
                    v, node, what, hints[key], key not in unitless, fields[key]
                )
                nodes[key] = node
                paths[key] = what
        if any(v is INVALID for v in raw.values()):
            return None
        missing = [
            f.name
            for f in fields.values()
            if f.name not in raw
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            self.problem(node, f"{what}: missing parameter(s): {', '.join(missing)}")
            return None
        fault = cls(**raw)
        problems = fault.check()
        for field, message in problems:
            at, path = _where(field, nodes, paths)
            self.problem(at or node, f"{path or what}: {message}")
        return None if problems else fault

    def field_value(
        self,
        node: Node,
        what: str,
        hint: Any,
        seconds: bool,
        spec: dataclasses.Field[Any],
    ) -> Any:
        if isinstance(node, SequenceNode) and _allows_tuple(hint):
            items = [self._item(n, f"{what}[{i}]", spec) for i, n in enumerate(node.value, 1)]
            if INVALID in items:
                return INVALID
            return tuple(str(i) for i in items)
        value = self.scalar(node, what)
        if value is INVALID:
            return INVALID
        return self.check_type(value, node, what, hint, seconds, spec)

    def _item(self, node: Node, what: str, spec: dataclasses.Field[Any]) -> Any:
        """One item of a list parameter: a single value, as the field's ``item`` metadata says."""
        if isinstance(node, MappingNode | SequenceNode):
            self.problem(node, f"{what}: expected {_item_want(spec)}, got {kind(node)}")
            return INVALID
        return self.scalar(node, what)

    def check_type(
        self,
        value: Any,
        node: Node,
        what: str,
        hint: Any,
        seconds: bool,
        spec: dataclasses.Field[Any],
    ) -> Any:
        """``value`` as the field's type ``hint`` requires, or INVALID with a problem told;
        ``seconds``: a float field holds seconds, and a duration with its unit reads as them;
        ``spec``: the field, whose ``item`` metadata names what a list parameter holds."""
        options = _options(hint)
        if value is None and type(None) in options:
            return None
        if bool in options and isinstance(value, bool):
            return value
        if int in options and is_int(value):
            return self.ranged(node, what, value, -limits.MAX_COUNT, limits.MAX_COUNT)
        if float in options and seconds and isinstance(value, str):
            # a duration with its unit reads as its seconds
            parsed = limits.duration_seconds(value)
            value = value if parsed is None else parsed
        if float in options and (isinstance(value, float) or is_int(value)):
            # every float parameter is a number of seconds (or a spread of them); the fault's
            # check() says which signs it takes
            bound = limits.MAX_SECONDS
            value = self.ranged(node, what, value, -bound, bound, hint=LONG_WAIT)
            return value if value is INVALID else float(value)
        if str in options and isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        names = _NAMES if seconds else {**_NAMES, float: "a number"}
        names = {**names, tuple: f"a list of {_item_want(spec, plural=True)}"}
        want = " or ".join(names.get(o, str(o)) for o in options)
        self.problem(node, f"{what}: expected {want}, got {describe(value)}")
        return INVALID


_NAMES: dict[Any, str] = {
    int: "a whole number",
    # every float parameter is seconds (see check_type)
    float: f"a number of seconds or a duration ({limits.DURATION_EXAMPLES})",
    bool: "true or false",
    str: "a string",
    type(None): "null",
}


def _item_want(spec: dataclasses.Field[Any], *, plural: bool = False) -> str:
    """What one item of a list parameter is (``a string "CODE [X.Y.Z] text"``), or its plural."""
    want: tuple[str, str] = spec.metadata.get("item", ("a string", "strings"))
    return want[plural]


def _where(
    field: str, nodes: dict[str, Node], paths: dict[str, str]
) -> tuple[Node | None, str | None]:
    """The node and key path of a problem a fault's check() names by ``field``: a parameter
    (``code``) or one item of a list parameter (``replies[2]``, counted from 1); (None, None)
    when the file did not write that parameter (its default, or a shorthand that left it out)."""
    name, _, index = field.partition("[")
    node, path = nodes.get(name), paths.get(name)
    if node is None or path is None:
        return None, None
    number = int(index.rstrip("]")) if index else 0
    if isinstance(node, SequenceNode) and 1 <= number <= len(node.value):
        return node.value[number - 1], f"{path}[{number}]"
    return node, path


_Shape = tuple[dict[str, Any], dict[str, "dataclasses.Field[Any]"]]
_SHAPES: dict[type[Fault], _Shape] = {}


def _shape(cls: type[Fault]) -> _Shape:
    """A fault's field types and fields, worked out once per fault (get_type_hints is slow)."""
    if cls not in _SHAPES:
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        _SHAPES[cls] = (typing.get_type_hints(cls), fields)
    return _SHAPES[cls]


def _options(hint: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return tuple(o for a in typing.get_args(hint) for o in _options(a))
    if origin is tuple:
        return (tuple,)
    return (hint,)


def _allows_tuple(hint: Any) -> bool:
    return tuple in _options(hint)
