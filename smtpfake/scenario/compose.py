"""YAML text -> one tree of compact nodes (nodes.py), at a cost bounded by the text's own size.

PyYAML's composer recurses once per level of nesting (about 500 levels end in a RecursionError)
and shares an anchored node at every alias, so a reader that walks the tree walks each alias in
full: a few KiB of "billion laughs" become billions of values. This composer builds the same
nodes (compact ones: tag, value, line, column) from the parser's events with an explicit stack,
keeping no PyYAML node or mark, and refuses a document that is

- longer than ``limits.MAX_SCENARIO_BYTES``,
- nested deeper than ``limits.MAX_DEPTH``,
- made of more than ``limits.MAX_NODES`` values as written, or
- bigger, once aliases are expanded, than ``ALIAS_GROWTH`` times itself (plus a small
  allowance), or with an alias inside the node it names (a cycle),

each as a :class:`TooBig` at the line and column where the limit was crossed (the length at no
place: it is the whole document's). libyaml's parser is used when PyYAML has it (several times
faster on large files), else the pure-Python one.

Scalars that repeat (keys, mostly) share one string, and an unquoted date is kept as the text
written (a scenario has no dates). Any other tag than plain values, lists and mappings is left
for Walker.tags() to report; :attr:`Composed.tagged` says whether there is one to look for.
"""

from __future__ import annotations

from typing import Any

import yaml

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario import limits
from smtpfake.scenario.nodes import (
    MAP_TAG,
    SCALAR_TAGS,
    SEQ_TAG,
    STR_TAG,
    TIMESTAMP_TAG,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
)

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@frozen_dataclass
class Composed:
    """The document's root (None when there is none); whether any node has a tag other than
    a plain value's, list's or mapping's (then Walker.tags() has problems to report); whether
    any scalar holds ``${`` (then params.Substitution has references to replace)."""

    root: Node | None
    tagged: bool
    refs: bool


class TooBig(Exception):
    """A limit of the document was crossed at (line, column), both 1-based; (0, 0): by the
    document as a whole (its length), at no one place in it."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


def compose(text: str) -> Composed:
    """The single document in ``text`` as nodes, with the limits above.

    Raises TooBig, or yaml.YAMLError for text that is not YAML (as yaml.compose would)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.MAX_SCENARIO_BYTES:
        raise TooBig(0, 0, too_big_message(size))
    try:
        return _compose(text, _Loader)
    except yaml.YAMLError:
        if _Loader is yaml.SafeLoader:
            raise
    # libyaml words its errors differently ("not allowed in this context"); the text is not
    # YAML, so the rare second pass costs little and gives the messages PyYAML users know
    return _compose(text, yaml.SafeLoader)


def too_big_message(size: int) -> str:
    return (
        f"the scenario is {size:,} bytes; a scenario is at most {limits.MAX_SCENARIO_BYTES:,} bytes"
    )


def _compose(text: str, loader_class: type) -> Composed:
    loader = loader_class(text)
    try:
        composer = _Composer(loader)
        root = composer.document()
        return Composed(root, composer.tagged, composer.refs)
    finally:
        loader.dispose()


class _Composer:
    def __init__(self, loader: Any) -> None:
        # the loader's event API has no types in the stubs (and CParser's marks are its own)
        self.loader = loader
        #: anchor -> (its node, values in it once aliases are expanded)
        self.anchors: dict[str, tuple[Node, int]] = {}
        self.open_anchors: set[str] = set()  # anchored collections not yet closed
        self.written = 0  # values as written (an alias counts once)
        self.expanded = 0  # values once aliases are expanded
        self.strings: dict[str, str] = {}  # each scalar's text -> its first string
        self.plain_tags: dict[str, str] = {}  # a plain scalar's text -> its resolved tag
        self.tagged = False  # a node with another tag than a plain value's, list's or map's
        self.refs = False  # a scalar with "${" (a parameter reference, or a typo of one)

    def document(self) -> Node | None:
        loader = self.loader
        loader.get_event()  # StreamStart
        if loader.check_event(yaml.StreamEndEvent):
            loader.get_event()
            return None
        loader.get_event()  # DocumentStart
        root = self.tree()
        loader.get_event()  # DocumentEnd
        if not loader.check_event(yaml.StreamEndEvent):
            extra: Any = loader.get_event()
            raise yaml.composer.ComposerError(
                "expected a single document in the stream",
                None,
                "but found another document",
                extra.start_mark,
            )
        loader.get_event()
        return root

    def tree(self) -> Node:
        """One node and everything in it, iteratively: one pass over the events, O(1) each."""
        loader = self.loader
        strings, plain_tags = self.strings, self.plain_tags
        event: Any
        # each open collection: (node, its anchor, its children so far, self.expanded before it)
        stack: list[tuple[Node, str | None, list[Node], int]] = []
        while True:
            event = loader.get_event()
            kind = type(event)
            node: Node
            if kind is yaml.ScalarEvent:
                self.count(event)
                # one string per distinct text (keys repeat in every rule)
                value = strings.get(event.value)
                if value is None:
                    value = strings[event.value] = event.value
                    self.refs = self.refs or "${" in value
                if event.tag is not None and event.tag != "!":
                    tag = event.tag
                elif event.implicit[0]:
                    # a plain scalar: the resolver tries a dozen regexes, so once per text
                    tag = plain_tags.get(value)
                    if tag is None:
                        tag = plain_tags[value] = loader.resolve(
                            yaml.ScalarNode, value, (True, False)
                        )
                else:
                    tag = STR_TAG  # quoted or a block: a string (what PyYAML's resolver says)
                if tag == TIMESTAMP_TAG:
                    tag = STR_TAG  # an unquoted date is read as written
                elif tag not in SCALAR_TAGS:
                    self.tagged = True
                mark = event.start_mark
                node = ScalarNode(tag, value, mark.line, mark.column)
                if event.anchor is not None:
                    self.anchors[event.anchor] = (node, 1)
            elif kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
                self.count(event)
                is_map = kind is yaml.MappingStartEvent
                tag = event.tag
                if tag is None or tag == "!":
                    tag = MAP_TAG if is_map else SEQ_TAG
                elif tag != (MAP_TAG if is_map else SEQ_TAG):
                    self.tagged = True
                mark = event.start_mark
                opened = (MappingNode if is_map else SequenceNode)(tag, [], mark.line, mark.column)
                if len(stack) >= limits.MAX_DEPTH:
                    raise _too_big(
                        event,
                        f"nested more than {limits.MAX_DEPTH} levels deep (a scenario needs "
                        "about 6)",
                    )
                if event.anchor is not None:
                    self.open_anchors.add(event.anchor)
                # the collection itself was counted above, so it is in its own size
                stack.append((opened, event.anchor, [], self.expanded - 1))
                continue
            elif kind is yaml.AliasEvent:
                node = self.alias(event)
            else:  # SequenceEnd / MappingEnd
                node, anchor, children, expanded_before = stack.pop()
                if type(node) is MappingNode:
                    node.value = list(zip(children[::2], children[1::2], strict=True))
                else:
                    node.value = children
                if anchor is not None:
                    self.open_anchors.discard(anchor)
                    self.anchors[anchor] = (node, self.expanded - expanded_before)
            if not stack:
                return node
            stack[-1][2].append(node)

    def alias(self, event: Any) -> Node:
        name = event.anchor
        if name in self.open_anchors:
            raise _too_big(event, f"alias *{name} is inside the node it names (a cycle)")
        if name not in self.anchors:
            raise yaml.composer.ComposerError(
                None, None, f"found undefined alias {name!r}", event.start_mark
            )
        node, size = self.anchors[name]
        self.count(event)
        # the alias costs what its node costs, every time a reader walks it; only an alias
        # makes the expanded count outgrow the allowance (a value written raises both)
        self.expanded += size - 1
        allowed = limits.ALIAS_GROWTH * self.written + limits.ALIAS_ALLOWANCE
        if self.expanded > allowed:
            raise _too_big(
                event,
                f"aliases expand the document to more than {limits.ALIAS_GROWTH} times its "
                f"own size ({self.expanded:,} values from {self.written:,} written); write "
                "the repeated parts out, or share less",
            )
        return node

    def count(self, event: Any) -> None:
        """One more value as written (a scalar, a collection or an alias)."""
        self.written += 1
        self.expanded += 1
        if self.written > limits.MAX_NODES:
            raise _too_big(event, f"more than {limits.MAX_NODES:,} values in one scenario")


def _too_big(event: Any, message: str) -> TooBig:
    mark = event.start_mark
    return TooBig(mark.line + 1, mark.column + 1, message)
