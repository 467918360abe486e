"""The fault unit: a frozen dataclass whose fields are its YAML parameters, plus one method.

A fault is registered under the YAML key that names it in a rule. Adding a fault means adding one
small module here and naming it in ``__init__.MODULES``; neither the loader nor the engine changes.

A rule's faults apply in the order the rule lists them, each to the Plan the one before returned.
A fault changes a plan only through its fields (reply, before, after, shapes, armed): one that
shapes the reply's octets or their pacing is also a :class:`~smtpfake.scenario.plan.Shape` and
adds itself with ``plan.shaped(self)``. A new fault adds no field to the Plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from smtpfake.scenario.plan import Plan

if TYPE_CHECKING:
    import random


class FaultContext(Protocol):
    """What a fault may look at when it fires: the seeded RNG and the injectable clock."""

    @property
    def rng(self) -> random.Random: ...

    def now(self) -> float: ...


class Fault:
    """Base for fault units. Subclasses are frozen dataclasses."""

    name: ClassVar[str]
    #: the field a scalar shorthand sets (``delay: 2`` -> ``Delay(seconds=2)``)
    primary: ClassVar[str | None] = None
    #: one line for the schema and the docs
    doc: ClassVar[str] = ""
    #: the README's account of what it does, its forms and their effect (Markdown, one cell)
    reference: ClassVar[str] = ""
    #: the stages (Stage values) where it has an effect; None: any (the loader checks rules)
    stages: ClassVar[frozenset[str] | None] = None

    @classmethod
    def shorthand(cls, value: Any) -> dict[str, Any]:
        """Turn the scalar form into fields; override for richer shorthands."""
        if cls.primary is None:
            raise ValueError(f"'{cls.name}' needs a mapping of parameters")
        return {cls.primary: value}

    def check(self) -> list[tuple[str, str]]:
        """Problems beyond types, as (field, message)."""
        return []

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        raise NotImplementedError  # each subclass defines it; the base is never registered


REGISTRY: dict[str, type[Fault]] = {}


def register(cls: type[Fault]) -> type[Fault]:
    REGISTRY[cls.name] = cls
    return cls
