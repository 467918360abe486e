"""Near misses as the generated rule code keeps them (engine/rulecode.py): only what varies.

Every rule before the one that fired (all, if none did) missed exactly one condition, in rule
order. Which rules those are, and what each condition wanted, is fixed by the scenario; what
varies per command is what it was, and for a rule that can miss in more than one way, which way.
So a command keeps just those values, and the flat tuple readers know (select_steps()'s: rule,
condition, wanted, was, four items a rule) is made from them when it is first read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

from smtpfake.scenario.model import Rule

#: per rule of a stage, in order: the rule and the ways it can miss, (condition, wanted) each,
#: in the order they are checked
Layout = tuple[tuple[Rule, tuple[tuple[str, Any], ...]], ...]


class NearMisses(Sequence[Any]):
    """``kept``: per rule that missed, in order: what it was; for a rule with more than one way
    to miss, first which (its index in the layout). Read as the flat tuple of 4-item misses."""

    __slots__ = ("_flat", "_kept", "_layout")

    def __init__(self, layout: Layout, kept: tuple[Any, ...]) -> None:
        self._layout = layout
        self._kept = kept
        self._flat: tuple[Any, ...] | None = None

    def flat(self) -> tuple[Any, ...]:
        """(rule, condition, wanted, was) per rule that missed, flat; made once, when read."""
        flat = self._flat
        if flat is None:
            made: list[Any] = []
            kept, at = self._kept, 0
            for rule, ways in self._layout:
                if at >= len(kept):
                    break
                if len(ways) == 1:
                    (condition, wanted), was = ways[0], kept[at]
                    at += 1
                else:
                    (condition, wanted), was = ways[kept[at]], kept[at + 1]
                    at += 2
                made += (rule, condition, wanted, was)
            flat = self._flat = tuple(made)
        return flat

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Any, ...]: ...
    def __getitem__(self, index: int | slice) -> Any:
        return self.flat()[index]

    def __len__(self) -> int:
        return len(self.flat())

    def __iter__(self) -> Iterator[Any]:
        return iter(self.flat())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, NearMisses):
            return self.flat() == other.flat()
        if isinstance(other, tuple):
            return self.flat() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.flat())

    def __repr__(self) -> str:
        return repr(self.flat())
