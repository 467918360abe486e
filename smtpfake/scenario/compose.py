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
        self.anchors: dict[str, yaml.Node] = {}
        self.open_anchors: set[str] = set()  # anchored collections not yet closed
        self.size: dict[int, int] = {}  # id(node) -> values in it once aliases are expanded
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
        """One node and everything in it, iteratively."""
        loader = self.loader
        event: Any
        # each open collection: (node, its anchor, its children so far)
        stack: list[tuple[yaml.Node, str | None, list[yaml.Node]]] = []
        while True:
            event = loader.get_event()
            start: Any = event.start_mark  # CParser's marks are its own type
            end: Any = event.end_mark
            node: yaml.Node | None = None
            if isinstance(event, yaml.AliasEvent):
                node = self.alias(event)
            elif isinstance(event, yaml.ScalarEvent):
                tag = event.tag
                if tag is None or tag == "!":
                    # the resolver tries a dozen regexes; values repeat, so each is tried once
                    key = (event.value, event.implicit)
                    tag = self.resolved.get(key)
                    if tag is None:
                        tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
                        self.resolved[key] = tag
                node = yaml.ScalarNode(tag, event.value, start, end, style=event.style)
                self.count(event, 1)
                self.anchor(event.anchor, node)
            elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                is_seq = isinstance(event, yaml.SequenceStartEvent)
                kind: type[yaml.Node] = yaml.SequenceNode if is_seq else yaml.MappingNode
                tag = event.tag
                if tag is None or tag == "!":
                    tag = loader.resolve(kind, None, event.implicit)
                opened: Any = kind(tag, [], start, None)
                opened.flow_style = event.flow_style
                self.count(event, 1)
                if len(stack) >= limits.MAX_DEPTH:
                    raise _too_big(
                        event,
                        f"nested more than {limits.MAX_DEPTH} levels deep (a scenario needs "
                        "about 6)",
                    )
                if event.anchor is not None:
                    self.open_anchors.add(event.anchor)
                stack.append((opened, event.anchor, []))
                continue
            else:  # SequenceEnd / MappingEnd
                node, anchor, children = stack.pop()
                node.end_mark = end
                if isinstance(node, yaml.MappingNode):
                    node.value = list(zip(children[::2], children[1::2], strict=True))
                else:
                    node.value = children
                self.size[id(node)] = 1 + sum(self.size[id(c)] for c in children)
                if anchor is not None:
                    self.open_anchors.discard(anchor)
                    self.anchor(anchor, node)
            if node is not None and id(node) not in self.size:
                self.size[id(node)] = 1
            if not stack:
                assert node is not None
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
        node = self.anchors[name]
        # the alias costs what its node costs, every time a reader walks it
        self.expanded += self.size[id(node)] - 1
        self.count(event, 1)
        return node

    def anchor(self, name: str | None, node: yaml.Node) -> None:
        if name is not None:
            self.anchors[name] = node

    def count(self, event: Any, written: int) -> None:
        self.written += written
        self.expanded += written
        if self.written > limits.MAX_NODES:
            raise _too_big(event, f"more than {limits.MAX_NODES:,} values in one scenario")
        allowed = limits.ALIAS_GROWTH * self.written + limits.ALIAS_ALLOWANCE
        if self.expanded > allowed:
            raise _too_big(
                event,
                f"aliases expand the document to more than {limits.ALIAS_GROWTH} times its "
                f"own size ({self.expanded:,} values from {self.written:,} written); write "
                "the repeated parts out, or share less",
            )


def _too_big(event: Any, message: str) -> TooBig:
    mark = event.start_mark
    return TooBig(mark.line + 1, mark.column + 1, message)
