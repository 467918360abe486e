"""YAML text -> one node tree, at a cost bounded by the text's own size.

PyYAML's composer recurses once per level of nesting (about 500 levels end in a RecursionError)
and shares an anchored node at every alias, so a reader that walks the tree walks each alias in
full: a few KiB of "billion laughs" become billions of values. This composer builds the same
nodes from the parser's events with an explicit stack, and refuses a document that is

- longer than ``limits.MAX_SCENARIO_BYTES``,
- nested deeper than ``limits.MAX_DEPTH``,
- made of more than ``limits.MAX_NODES`` values as written, or
- bigger, once aliases are expanded, than ``ALIAS_GROWTH`` times itself (plus a small
  allowance), or with an alias inside the node it names (a cycle),

each as a :class:`TooBig` at the line and column where the limit was crossed. libyaml's parser
is used when PyYAML has it (several times faster on large files), else the pure-Python one.
"""

from __future__ import annotations

from typing import Any

import yaml

from smtpfake.scenario import limits

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class TooBig(Exception):
    """A limit of the document was crossed at (line, column), both 1-based."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


def compose(text: str) -> yaml.Node | None:
    """The single document in ``text`` as nodes (None if there is none), with the limits above.

    Raises TooBig, or yaml.YAMLError for text that is not YAML (as yaml.compose would)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.MAX_SCENARIO_BYTES:
        raise TooBig(1, 1, too_big_message(size))
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


def _compose(text: str, loader_class: type) -> yaml.Node | None:
    loader = loader_class(text)
    try:
        return _Composer(loader).document()
    finally:
        loader.dispose()


class _Composer:
    def __init__(self, loader: Any) -> None:
        # the loader's event API has no types in the stubs (and CParser's marks are its own)
        self.loader = loader
        #: anchor -> (its node, values in it once aliases are expanded)
        self.anchors: dict[str, tuple[yaml.Node, int]] = {}
        self.open_anchors: set[str] = set()  # anchored collections not yet closed
        self.written = 0  # values as written (an alias counts once)
        self.expanded = 0  # values once aliases are expanded
        self.resolved: dict[tuple[str, Any], str] = {}  # (value, implicit) -> its tag

    def document(self) -> yaml.Node | None:
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

    def tree(self) -> yaml.Node:
        """One node and everything in it, iteratively: one pass over the events, O(1) each."""
        loader = self.loader
        resolved = self.resolved
        event: Any
        # each open collection: (node, its anchor, its children so far, self.expanded before it)
        stack: list[tuple[yaml.Node, str | None, list[yaml.Node], int]] = []
        while True:
            event = loader.get_event()
            kind = type(event)
            node: yaml.Node
            if kind is yaml.ScalarEvent:
                self.count(event)
                tag = event.tag
                if tag is None or tag == "!":
                    # the resolver tries a dozen regexes; values repeat, so each is tried once
                    key = (event.value, event.implicit)
                    tag = resolved.get(key)
                    if tag is None:
                        tag = resolved[key] = loader.resolve(
                            yaml.ScalarNode, event.value, event.implicit
                        )
                node = yaml.ScalarNode(
                    tag, event.value, event.start_mark, event.end_mark, style=event.style
                )
                if event.anchor is not None:
                    self.anchors[event.anchor] = (node, 1)
            elif kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
                self.count(event)
                node_class: type[yaml.Node] = (
                    yaml.SequenceNode if kind is yaml.SequenceStartEvent else yaml.MappingNode
                )
                tag = event.tag
                if tag is None or tag == "!":
                    tag = loader.resolve(node_class, None, event.implicit)
                opened: Any = node_class(tag, [], event.start_mark, None)
                opened.flow_style = event.flow_style
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
                node.end_mark = event.end_mark
                if isinstance(node, yaml.MappingNode):
                    node.value = list(zip(children[::2], children[1::2], strict=True))
                else:
                    node.value = children
                if anchor is not None:
                    self.open_anchors.discard(anchor)
                    self.anchors[anchor] = (node, self.expanded - expanded_before)
            if not stack:
                return node
            stack[-1][2].append(node)

    def alias(self, event: Any) -> yaml.Node:
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
