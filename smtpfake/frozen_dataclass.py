"""``@frozen_dataclass``: ``@dataclass(frozen=True)`` whose ``__repr__``, ``__eq__`` and
``__hash__`` are made when one of them is first called on the class.

Why (start-up time): ``dataclass`` writes the source of each method it adds and compiles it
(``exec``) when the class is defined, about 0.07 ms a method on CPython 3.11, six methods per
frozen class. ``smtpfake serve`` defines some 50 such classes before it listens, and making them
was most of what its own modules cost (bench/startup_cost.py). A server makes these objects but
seldom prints, compares or hashes them, so three of the six are left for when they are used.

What stays the same: the class is a dataclass made by ``dataclasses`` with ``frozen=True`` (its
``__init__``, its refusal to be assigned to, ``fields``, ``replace``, ``asdict``, pickling, match
patterns); ``__repr__``, ``__eq__`` and ``__hash__`` are the ones ``@dataclass(frozen=True)``
would have added, made by ``dataclasses`` (for a twin class with the same fields, which they do
not name: they read ``self.__class__``) and set on the class by the first call, which they then
answer. What differs: ``__dataclass_params__`` says ``eq=False, repr=False``.
tests/test_frozen_dataclass.py holds each to ``@dataclass(frozen=True)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:  # only type checkers read it (typing has it from Python 3.11)

    def dataclass_transform(**_: object) -> Callable[[Any], Any]:
        return lambda f: f


T = TypeVar("T")

#: the methods made on first use
LATER = ("__repr__", "__eq__", "__hash__")


@overload
def frozen_dataclass(cls: type[T], /) -> type[T]: ...


@overload
def frozen_dataclass(*, slots: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen_dataclass(
    cls: type[T] | None = None, /, *, slots: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    """``@dataclass(frozen=True)`` or ``@dataclass(frozen=True, slots=True)``, with
    ``__repr__``, ``__eq__`` and ``__hash__`` made on first use (see the module). TypeError for
    a class that defines one of them itself (``dataclass`` keeps some of those and not others:
    declare it with ``@dataclass(frozen=True)``)."""

    def wrap(c: type[T]) -> type[T]:
        own = [name for name in LATER if name in c.__dict__]
        if own:
            raise TypeError(
                f"{c.__qualname__} defines {', '.join(own)}: use @dataclass(frozen=True)"
            )
        made = dataclasses.dataclass(frozen=True, eq=False, repr=False, slots=slots)(c)
        for name in LATER:
            setattr(made, name, _first_call(made, name))
        return made

    return wrap if cls is None else wrap(cls)


def _first_call(cls: type, name: str) -> Callable[..., Any]:
    """``cls``'s method ``name`` until it is made: the first call makes all three and answers."""

    def first(self: object, *args: Any) -> Any:
        _make_later(cls)
        return getattr(cls, name)(self, *args)

    first.__name__, first.__qualname__ = name, f"{cls.__qualname__}.{name}"
    return first


def _make_later(cls: type) -> None:
    """``cls``'s __repr__, __eq__ and __hash__ as ``@dataclass(frozen=True)`` makes them: those of
    a twin dataclass with the same fields (their repr, compare and hash flags) and no
    constructor (``unsafe_hash``: the hash of a frozen class, without the frozen
    ``__setattr__``, which ``cls`` has)."""
    twin = dataclasses.make_dataclass(
        cls.__name__,
        [
            (f.name, f.type, dataclasses.field(repr=f.repr, hash=f.hash, compare=f.compare))
            for f in dataclasses.fields(cls)
        ],
        init=False,
        unsafe_hash=True,
        match_args=False,
    )
    for name in LATER:
        setattr(cls, name, twin.__dict__[name])
