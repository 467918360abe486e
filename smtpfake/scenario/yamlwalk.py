"""The generic half of reading a scenario: YAML nodes walked by hand, typed values read from
them, every problem kept with its ``file:line:col``.

The YAML is composed into compact nodes (compose.py, nodes.py: no object construction, so no
arbitrary tags). A reader that
finds a problem records it and returns :data:`INVALID`, so the walk goes on and reports every
problem of a file at once. The scenario's own keys are read by the readers built on
:class:`Walker` (settings_reader.py, rule_reader.py, fault_reader.py, loader.py).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import yaml

from smtpfake.scenario import limits
from smtpfake.scenario.errors import Problem
from smtpfake.scenario.model import Location
from smtpfake.scenario.nodes import (
    MAP_TAG,
    NULL_TAG,
    NUMBER_TAGS,
    SCALAR_TAGS,
    SEQ_TAG,
    STR_TAG,
    TIMESTAMP_TAG,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
)

_YAML_TAG_PREFIX = "tag:yaml.org,2002:"
# Marks a scalar whose tag was already reported, so the walk skips it instead of reporting again.
_REJECTED_TAG = "!smtpfake/rejected"

Reader = Callable[[Node, str], Any]  # (node, what to call it in a problem) -> value


# Words people reach for (in ``on:``) that are not the stage's name.
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
    """``"; did you mean 'x'?"`` for the closest choice, or "" when none is close."""
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close and _HINTS.get(word.lower()) in options:
        close = [_HINTS[word.lower()]]
    return f"; did you mean '{close[0]}'?" if close else ""


class Walker:
    """Walks the nodes of one source; its readers take a node and what to call it in a problem
    (e.g. ``server.tls.key``) and return the value, or INVALID once the problem is recorded."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        #: problems found past MAX_PROBLEMS: counted, not kept ("... and N more")
        self.more_problems = 0
        self._constructor = yaml.SafeLoader("")
        # (tag, text) -> its Python value: scalars repeat across rules, and construct_object
        # would keep every node it saw (values are immutable, so sharing them is safe)
        self._scalars: dict[tuple[str, str], Any] = {}

    def loc(self, node: Node) -> Location:
        return Location(self.source, node.line + 1, node.column + 1)

    def problem(self, node: Node, message: str) -> None:
        if len(self.problems) >= limits.MAX_PROBLEMS:
            self.more_problems += 1
            return
        self.problems.append(Problem(self.loc(node), message))

    def tags(self, root: Node) -> Node:
        """Report every tag a scenario may not use (``!!python/...``, ``!!set``, ``!custom``) once.

        A node with such a tag is replaced by a stand-in that the walk skips silently, so each
        one gives one problem; the rest of the file is still walked. Returns the (new) root.
        """
        stand_ins: dict[int, Node] = {}  # by id: an alias is the same node again

        def checked(node: Node) -> Node:
            if isinstance(node, ScalarNode):
                if node.tag == TIMESTAMP_TAG:
                    node.tag = STR_TAG  # an unquoted date is read as written
                elif node.tag not in SCALAR_TAGS and node.tag != _REJECTED_TAG:
                    self.problem(node, _tag_message(node.tag))
                    node.tag = _REJECTED_TAG
                return node
            plain = MAP_TAG if isinstance(node, MappingNode) else SEQ_TAG
            if node.tag == plain:
                return node
            if id(node) not in stand_ins:
                self.problem(node, _tag_message(node.tag))
                stand_ins[id(node)] = node.at(_REJECTED_TAG, "")
            return stand_ins[id(node)]

        root = checked(root)
        seen: set[int] = set()
        stack = [root]
        while stack:
            node = stack.pop()
            if id(node) in seen or isinstance(node, ScalarNode):
                continue
            seen.add(id(node))
            if isinstance(node, MappingNode):
                node.value = [(checked(k), checked(v)) for k, v in node.value]
                stack.extend(n for pair in node.value for n in pair)
            else:
                node.value = [checked(n) for n in node.value]
                stack.extend(node.value)
        return root

    def scalar(self, node: Node, what: str) -> Any:
        """The Python value of a scalar node; problems for anything else."""
        if isinstance(node, ScalarNode) and node.tag in SCALAR_TAGS:
            if node.tag in NUMBER_TAGS and len(node.value) > limits.MAX_NUMBER_CHARS:
                # int() of 4,301+ digits raises; far fewer already mean a mistake
                self.problem(
                    node,
                    f"{what}: a number of {len(node.value):,} characters is too long "
                    f"(at most {limits.MAX_NUMBER_CHARS})",
                )
                return INVALID
            key = (node.tag, node.value)
            try:
                return self._scalars[key]
            except KeyError:
                # PyYAML's constructors take its own nodes; made once per distinct value
                construct = self._constructor.yaml_constructors[node.tag]
                plain = yaml.ScalarNode(node.tag, node.value)
                value = self._scalars[key] = construct(self._constructor, plain)
                return value
        if rejected(node):
            return INVALID  # reported by tags()
        if isinstance(node, ScalarNode | MappingNode | SequenceNode) and (
            node.tag not in SCALAR_TAGS | {MAP_TAG, SEQ_TAG}
        ):
            self.problem(node, f"{what}: YAML tag {node.tag!r} is not allowed in a scenario")
            return INVALID
        self.problem(node, f"{what}: expected a single value, got {kind(node)}")
        return INVALID

    def mapping(self, node: Node, what: str) -> list[tuple[str, Node, Node]]:
        if rejected(node):
            return []  # reported by tags()
        if not isinstance(node, MappingNode) or node.tag != MAP_TAG:
            self.problem(node, f"{what}: expected a mapping, got {kind(node)}")
            return []
        out: list[tuple[str, Node, Node]] = []
        seen: set[str] = set()
        for key_node, value_node in node.value:
            # Keys are read as written: YAML 1.1 would turn the key `on` into True.
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, f"{what}: a key must be a plain word, got {kind(key_node)}")
                continue
            if rejected(key_node):
                continue  # reported by tags()
            key = str(key_node.value)
            if key in seen:
                self.problem(key_node, f"{what}: duplicate key '{key}'")
                continue
            seen.add(key)
            out.append((key, key_node, value_node))
        return out

    def fields(
        self, node: Node, what: str, readers: Mapping[str, Reader], allowed: Sequence[str]
    ) -> tuple[dict[str, Any], dict[str, Node]]:
        """A mapping read by a table: each key's value by its reader (named ``what.key`` in a
        problem), and each key's value node; a key the table lacks is reported."""
        values: dict[str, Any] = {}
        nodes: dict[str, Node] = {}
        for key, key_node, value in self.mapping(node, what):
            nodes[key] = value
            reader = readers.get(key)
            if reader is None:
                self.unknown_key(key_node, key, allowed, what)
            else:
                values[key] = reader(value, f"{what}.{key}")
        return values, nodes

    def unknown_key(self, key_node: Node, key: str, allowed: Sequence[str], what: str = "") -> None:
        prefix = f"{what}: " if what else ""
        self.problem(
            key_node,
            f"{prefix}unknown key '{key}'{did_you_mean(key, allowed)} "
            f"(allowed: {', '.join(allowed)})",
        )

    def typed(self, node: Node, what: str, check: Callable[[Any], bool], want: str) -> Any:
        value = self.scalar(node, what)
        if value is INVALID:
            return INVALID
        if not check(value):
            self.problem(node, f"{what}: expected {want}, got {describe(value)}")
            return INVALID
        return value

    def string(self, node: Node, what: str) -> Any:
        return self.typed(node, what, lambda v: isinstance(v, str), "a string")

    def boolean(self, node: Node, what: str) -> Any:
        return self.typed(node, what, lambda v: isinstance(v, bool), "true or false")

    def integer(
        self, node: Node, what: str, minimum: int = 0, maximum: int = limits.MAX_COUNT
    ) -> Any:
        value = self.typed(node, what, is_int, "a whole number")
        return INVALID if value is INVALID else self.ranged(node, what, value, minimum, maximum)

    def ranged(
        self,
        node: Node,
        what: str,
        value: float,
        minimum: float,
        maximum: float,
        *,
        exclusive_minimum: bool = False,
        unit: str = "",
        want: str = "",
        hint: str = "",
    ) -> Any:
        """``value`` if finite and in range (limits.check_number), else a problem naming it:
        ``what: must be WANT`` if given, else the bound it missed; ``hint`` follows a value
        that is too big or not finite."""
        try:
            return limits.check_number(
                value,
                what,
                minimum=minimum,
                maximum=maximum,
                integer=isinstance(value, int),
                exclusive_minimum=exclusive_minimum,
                unit=unit,
            )
        except limits.LimitError as exc:
            message = f"{what}: must be {want}" if want else str(exc)
            too_big = not value < maximum
            self.problem(node, f"{message}, got {describe_number(value)}{hint if too_big else ''}")
            return INVALID

    def choice(self, node: Node, what: str, allowed: Sequence[str], *, noun: str = "value") -> Any:
        """One of ``allowed``, as written (``noun`` names it in the problem: "unknown type")."""
        value = self.string(node, what)
        if value is not INVALID and value not in allowed:
            self.problem(
                node,
                f"{what}: unknown {noun} '{value}'{did_you_mean(value, allowed)} "
                f"(allowed: {', '.join(allowed)})",
            )
            return INVALID
        return value

    def int_list(self, node: Node, what: str) -> Any:
        """A positive whole number or a list of them."""
        if isinstance(node, SequenceNode):
            items = [self.integer(n, what, 1) for n in node.value]
            if not items:
                self.problem(node, f"{what}: expected at least one number")
            return INVALID if INVALID in items or not items else tuple(items)
        value = self.integer(node, what, 1)
        return INVALID if value is INVALID else (value,)

    def seconds(self, node: Node, what: str) -> Any:
        """A number of seconds above 0 and at most limits.MAX_SECONDS (a day), as a float; or a
        duration with its unit (``250ms``, ``30s``, ``5m``, ``1h``)."""
        value = self.scalar(node, what)
        if isinstance(value, str) and (seconds := limits.duration_seconds(value)) is not None:
            value = seconds
        if value is INVALID:
            return INVALID
        if not is_number(value):
            want = f"a number of seconds or a duration ({limits.DURATION_EXAMPLES})"
            self.problem(node, f"{what}: expected {want}, got {describe(value)}")
            return INVALID
        value = self.ranged(
            node,
            what,
            value,
            0,
            limits.MAX_SECONDS,
            exclusive_minimum=True,
            unit=" seconds",
            hint=LONG_WAIT,
        )
        return value if value is INVALID else float(value)


class _Invalid:
    def __repr__(self) -> str:
        return "<invalid>"


#: what a reader returns for a value it reported a problem with
INVALID: Any = _Invalid()


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


#: said with a refused number of seconds: how to wait "for ever" without .inf
LONG_WAIT = f" (the longest wait is {int(limits.MAX_SECONDS)} seconds, a day; it stands for ever)"


def describe_number(value: float) -> str:
    """``nan``, ``inf`` and floats as YAML spells them (.nan, .inf), ints as written."""
    if isinstance(value, float) and math.isnan(value):
        return ".nan"
    if isinstance(value, float) and math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return repr(value)


def is_text(v: Any) -> bool:
    return isinstance(v, str | int) and not isinstance(v, bool)


def rejected(node: Node) -> bool:
    """A node whose tag Walker.tags() already reported: readers skip it silently."""
    return isinstance(node, ScalarNode) and node.tag == _REJECTED_TAG


def stand_in(node: Node) -> Node:
    """A node for a value whose problem is already reported: readers skip it silently."""
    return node.at(_REJECTED_TAG, "")


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == NULL_TAG


def _tag_message(tag: str) -> str:
    if tag == _YAML_TAG_PREFIX + "merge":
        return "merge keys (<<) are not supported in a scenario; write the keys out"
    short = "!!" + tag[len(_YAML_TAG_PREFIX) :] if tag.startswith(_YAML_TAG_PREFIX) else tag
    return (
        f"YAML tag '{short}' is not allowed in a scenario (only plain values, lists and mappings)"
    )


def kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return f"the value {node.value!r}"


def describe(value: Any) -> str:
    """``str 'abc'``, ``nothing (null)``; a long value is cut (a problem is one line)."""
    if value is None:
        return "nothing (null)"
    text = repr(value)
    if len(text) > 60:
        text = f"{text[:50]}... ({len(text):,} characters)"
    return f"{type(value).__name__} {text}"
