"""The scenario's YAML as compact nodes: tag, value and where it starts, nothing more.

PyYAML's nodes carry two marks each (start and end, six fields apiece) in a per-instance dict:
about 300 bytes a value, so a 5 MB scenario took over 200 MB before it was read. These hold the
same facts in four slots (about 70 bytes), and compose.py builds them straight from the
parser's events. Shapes, as PyYAML's: a scalar's ``value`` is its text, a sequence's a list of
nodes, a mapping's a list of (key node, value node) pairs. ``line`` and ``column`` (where the
node starts) are 0-based, as PyYAML's marks are; a problem's Location adds 1 to each.
Not frozen: Walker.tags() and params.Substitution replace values in a tree before it is read.
"""

from __future__ import annotations

from typing import Any

_YAML = "tag:yaml.org,2002:"
STR_TAG, MAP_TAG, SEQ_TAG = _YAML + "str", _YAML + "map", _YAML + "seq"
NULL_TAG, TIMESTAMP_TAG = _YAML + "null", _YAML + "timestamp"
NUMBER_TAGS = frozenset((_YAML + "int", _YAML + "float"))
#: the tags a scenario's scalars may have; any other tag is a problem (Walker.tags())
SCALAR_TAGS = frozenset((STR_TAG, NULL_TAG, _YAML + "bool")) | NUMBER_TAGS


class Node:
    __slots__ = ("column", "line", "tag", "value")

    def __init__(self, tag: str, value: Any, line: int, column: int) -> None:
        self.tag = tag
        self.value = value
        self.line = line
        self.column = column

    def at(self, tag: str, value: Any) -> ScalarNode:
        """A scalar in this node's place (a substituted or rejected value)."""
        return ScalarNode(tag, value, self.line, self.column)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.tag!r}, {self.value!r}, {self.line}:{self.column})"


class ScalarNode(Node):
    """``value``: the scalar's text (str) as written, quotes and escapes resolved."""

    __slots__ = ()


class SequenceNode(Node):
    """``value``: list[Node]."""

    __slots__ = ()


class MappingNode(Node):
    """``value``: list[tuple[Node, Node]], (key, value) in document order."""

    __slots__ = ()
