"""YAML -> :class:`Scenario`, safely, reporting every problem at ``file:line:col``.

The YAML is composed into nodes (no object construction, so no arbitrary tags) and walked by hand,
so each problem knows where it is. Nothing is half-loaded: any problem raises ScenarioError.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Union

import yaml

from smtpfake.scenario.errors import Problem, ScenarioError
from smtpfake.scenario.faults import REGISTRY, Fault
from smtpfake.scenario.model import Location, Rule, Scenario, ServerSettings, Stage

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"

TOP_KEYS = ("name", "summary", "expect", "description", "seed", "server", "rules")
RULE_KEYS = ("on", "name", "match", "nth", "connection", "times")
SERVER_KEYS = tuple(f.name for f in dataclasses.fields(ServerSettings))
STAGES = tuple(s.value for s in Stage)


# Words people reach for that are not the stage's name.
_HINTS = {
    "greeting": "connect",
    "banner": "connect",
    "eod": "end_of_data",
    "dot": "end_of_data",
    "message": "end_of_data",
    "mail_from": "mail",
    "rcpt_to": "rcpt",
}


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close and _HINTS.get(word.lower()) in options:
        close = [_HINTS[word.lower()]]
    return f"; did you mean '{close[0]}'?" if close else ""


class _Walker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self._constructor = yaml.SafeLoader("")

    # -- helpers -------------------------------------------------------------------------------

    def loc(self, node: yaml.Node) -> Location:
        return Location(self.source, node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(self, node: yaml.Node, message: str) -> None:
        self.problems.append(Problem(self.loc(node), message))

    def scalar(self, node: yaml.Node, what: str) -> Any:
        """The Python value of a scalar node; problems for anything else."""
        if isinstance(node, yaml.ScalarNode) and node.tag in _SCALAR_TAGS:
            return self._constructor.construct_object(node)
        if isinstance(node, yaml.ScalarNode | yaml.MappingNode | yaml.SequenceNode) and (
            node.tag not in _SCALAR_TAGS | {_MAP_TAG, _SEQ_TAG}
        ):
            self.problem(node, f"{what}: YAML tag {node.tag!r} is not allowed in a scenario")
            return _INVALID
        self.problem(node, f"{what}: expected a single value, got {_kind(node)}")
        return _INVALID

    def mapping(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode) or node.tag != _MAP_TAG:
            self.problem(node, f"{what}: expected a mapping, got {_kind(node)}")
            return []
        out: list[tuple[str, yaml.Node, yaml.Node]] = []
        seen: set[str] = set()
        for key_node, value_node in node.value:
            # Keys are read as written: YAML 1.1 would turn the key `on` into True.
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, f"{what}: a key must be a plain word, got {_kind(key_node)}")
                continue
            key = str(key_node.value)
            if key in seen:
                self.problem(key_node, f"{what}: duplicate key '{key}'")
                continue
            seen.add(key)
            out.append((key, key_node, value_node))
        return out

    def typed(self, node: yaml.Node, what: str, check: Callable[[Any], bool], want: str) -> Any:
        value = self.scalar(node, what)
        if value is _INVALID:
            return _INVALID
        if not check(value):
            self.problem(node, f"{what}: expected {want}, got {_describe(value)}")
            return _INVALID
        return value

    def string(self, node: yaml.Node, what: str) -> Any:
        return self.typed(node, what, lambda v: isinstance(v, str), "a string")

    def integer(self, node: yaml.Node, what: str, minimum: int = 0) -> Any:
        value = self.typed(node, what, _is_int, "a whole number")
        if value is not _INVALID and value < minimum:
            self.problem(node, f"{what}: must be at least {minimum}, got {value}")
            return _INVALID
        return value

    def int_list(self, node: yaml.Node, what: str) -> Any:
        """A positive whole number or a list of them."""
        if isinstance(node, yaml.SequenceNode):
            items = [self.integer(n, what, 1) for n in node.value]
            if not items:
                self.problem(node, f"{what}: expected at least one number")
            return _INVALID if _INVALID in items or not items else tuple(items)
        value = self.integer(node, what, 1)
        return _INVALID if value is _INVALID else (value,)

    # -- the document ----------------------------------------------------------------------------

    def scenario(self, root: yaml.Node, name: str, require_docs: bool) -> Scenario | None:
        fields: dict[str, Any] = {}
        for key, key_node, value in self.mapping(root, "scenario"):
            if key == "name":
                fields["name"] = self.string(value, "name")
            elif key in ("summary", "expect", "description"):
                fields[key] = self.string(value, key)
            elif key == "seed":
                fields["seed"] = self.integer(value, "seed")
            elif key == "server":
                fields["server"] = self.server(value)
            elif key == "rules":
                fields["rules"] = self.rules(value)
            else:
                self.problem(
                    key_node,
                    f"unknown key '{key}'{did_you_mean(key, TOP_KEYS)} "
                    f"(allowed: {', '.join(TOP_KEYS)})",
                )
        if isinstance(root, yaml.MappingNode) and require_docs:
            for key, why in (
                ("summary", "one line saying what this scenario does"),
                ("expect", "what a correct client is expected to do"),
            ):
                if key not in fields:
                    self.problem(root, f"missing '{key}': {why}")
        if self.problems or not isinstance(root, yaml.MappingNode):
            return None
        return Scenario(
            name=fields.get("name") or name,
            summary=fields.get("summary", "Inline scenario."),
            expect=fields.get("expect", ""),
            description=fields.get("description", ""),
            seed=fields.get("seed"),
            server=fields.get("server", ServerSettings()),
            rules=fields.get("rules", ()),
            source=self.source,
        )

    def server(self, node: yaml.Node) -> Any:
        kw: dict[str, Any] = {}
        for key, key_node, value in self.mapping(node, "server"):
            what = f"server.{key}"
            if key in ("hostname", "greeting"):
                kw[key] = self.string(value, what)
            elif key == "extensions":
                if not isinstance(value, yaml.SequenceNode):
                    self.problem(
                        value, f"{what}: expected a list of EHLO keywords, got {_kind(value)}"
                    )
                    continue
                exts = [self.typed(n, what, _is_text, "an EHLO keyword") for n in value.value]
                kw[key] = tuple(str(e).strip() for e in exts)
            elif key == "require_helo":
                kw[key] = self.typed(value, what, lambda v: isinstance(v, bool), "true or false")
            elif key in ("max_recipients", "max_message_bytes"):
                kw[key] = self.integer(value, what, 1)
            else:
                self.problem(
                    key_node,
                    f"server: unknown key '{key}'{did_you_mean(key, SERVER_KEYS)} "
                    f"(allowed: {', '.join(SERVER_KEYS)})",
                )
        if any(v is _INVALID for v in kw.values()):
            return _INVALID
        return ServerSettings(**kw)

    def rules(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, f"rules: expected a list of rules, got {_kind(node)}")
            return _INVALID
        return tuple(self.rule(n, i + 1) for i, n in enumerate(node.value))

    def rule(self, node: yaml.Node, index: int) -> Any:
        where = f"rules[{index}]"
        kw: dict[str, Any] = {}
        faults: list[Fault] = []
        fault_keys = [k for k, _, _ in self.mapping(node, where) if k in REGISTRY]
        for key, key_node, value in self.mapping(node, where):
            what = f"{where}.{key}"
            if key == "on":
                kw["stages"] = self.stages(value, what)
            elif key in ("name", "match"):
                kw[key] = self.string(value, what)
            elif key in ("nth", "connection"):
                kw[key] = self.int_list(value, what)
            elif key == "times":
                kw[key] = self.integer(value, what, 1)
            elif key in REGISTRY:
                fault = self.fault(REGISTRY[key], key_node, value, what)
                if fault is not None:
                    faults.append(fault)
            else:
                allowed = (*RULE_KEYS, *REGISTRY)
                self.problem(
                    key_node,
                    f"{where}: unknown key '{key}'{did_you_mean(key, allowed)} "
                    f"(conditions: {', '.join(RULE_KEYS)}; faults: {', '.join(sorted(REGISTRY))})",
                )
        if isinstance(node, yaml.MappingNode):
            if "stages" not in kw:
                self.problem(
                    node, f"{where}: missing 'on' (where the rule fires: {', '.join(STAGES)})"
                )
            if not fault_keys and "stages" in kw:
                self.problem(
                    node,
                    f"{where}: the rule does nothing; add a fault ({', '.join(sorted(REGISTRY))})",
                )
        if any(v is _INVALID for v in kw.values()) or "stages" not in kw:
            return _INVALID
        faults.sort(key=lambda f: f.order)
        return Rule(index=index, faults=tuple(faults), location=self.loc(node), **kw)

    def stages(self, node: yaml.Node, what: str) -> Any:
        nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out: set[Stage] = set()
        for n in nodes:
            value = self.string(n, what)
            if value is _INVALID:
                return _INVALID
            if value not in STAGES:
                self.problem(
                    n,
                    f"{what}: unknown stage '{value}'{did_you_mean(value, STAGES)} "
                    f"(allowed: {', '.join(STAGES)})",
                )
                return _INVALID
            out.add(Stage(value))
        return frozenset(out)

    def fault(
        self, cls: type[Fault], key_node: yaml.Node, node: yaml.Node, what: str
    ) -> Fault | None:
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        raw: dict[str, Any] = {}
        nodes: dict[str, yaml.Node] = {}
        if isinstance(node, yaml.MappingNode):
            for key, knode, vnode in self.mapping(node, what):
                if key not in fields:
                    self.problem(
                        knode,
                        f"{what}: unknown parameter '{key}'{did_you_mean(key, fields)} "
                        f"(allowed: {', '.join(fields)})",
                    )
                    continue
                raw[key] = self.field_value(vnode, f"{what}.{key}", hints[key])
                nodes[key] = vnode
        else:
            value = self.scalar(node, what)
            if value is _INVALID:
                return None
            try:
                short = cls.shorthand(value)
            except ValueError as exc:
                self.problem(node, f"{what}: {exc}")
                return None
            for key, v in short.items():
                raw[key] = v if v is None else self.check_type(v, node, f"{what}.{key}", hints[key])
                nodes[key] = node
        if any(v is _INVALID for v in raw.values()):
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
            self.problem(nodes.get(field, node), f"{what}: {message}")
        return None if problems else fault

    def field_value(self, node: yaml.Node, what: str, hint: Any) -> Any:
        if isinstance(node, yaml.SequenceNode) and _allows_tuple(hint):
            items = [self.scalar(n, what) for n in node.value]
            if _INVALID in items:
                return _INVALID
            return tuple(str(i) for i in items)
        value = self.scalar(node, what)
        return _INVALID if value is _INVALID else self.check_type(value, node, what, hint)

    def check_type(self, value: Any, node: yaml.Node, what: str, hint: Any) -> Any:
        options = _options(hint)
        if value is None and type(None) in options:
            return None
        if bool in options and isinstance(value, bool):
            return value
        if int in options and _is_int(value):
            return value
        if float in options and (isinstance(value, float) or _is_int(value)):
            return float(value)
        if str in options and isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        want = " or ".join(_NAMES.get(o, str(o)) for o in options)
        self.problem(node, f"{what}: expected {want}, got {_describe(value)}")
        return _INVALID


class _Invalid:
    def __repr__(self) -> str:
        return "<invalid>"


_INVALID: Any = _Invalid()
_NAMES: dict[Any, str] = {
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    str: "a string",
    type(None): "null",
}


def _options(hint: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return tuple(o for a in typing.get_args(hint) for o in _options(a))
    if origin is tuple:
        return (tuple,)
    return (hint,)


def _allows_tuple(hint: Any) -> bool:
    return tuple in _options(hint)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_text(v: Any) -> bool:
    return isinstance(v, str | int) and not isinstance(v, bool)


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"the value {node.value!r}"


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"


def load_text(
    text: str, *, source: str = "<string>", name: str = "inline", require_docs: bool = True
) -> Scenario:
    """Parse and validate one scenario document."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ScenarioError(
            [Problem(Location(source, line, col), f"invalid YAML: {exc.problem or exc}")]
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(Location(source, 1, 1), f"invalid YAML: {exc}")]) from None
    if root is None:
        raise ScenarioError([Problem(Location(source, 1, 1), "the file is empty")])
    walker = _Walker(source)
    scenario = walker.scenario(root, name, require_docs)
    if walker.problems or scenario is None:
        raise ScenarioError(walker.problems)
    return scenario


def load_file(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(Location(str(path), 1, 1), f"cannot read: {exc}")]) from None
    return load_text(text, source=str(path), name=path.stem)


def load_mapping(data: dict[str, Any], *, name: str = "inline") -> Scenario:
    """A scenario given as a Python dict (e.g. ``smtpfake.use({...})``); summary/expect optional."""
    text = yaml.safe_dump(data, sort_keys=False)
    return load_text(text, source=f"<{name}>", name=str(data.get("name", name)), require_docs=False)
