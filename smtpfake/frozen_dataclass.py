"""``@frozen_dataclass``: ``@dataclass(frozen=True)`` whose methods are made when one of them is
first used.

Why (start-up time): ``dataclass`` writes the source of each method it adds and compiles it
(``exec``) when the class is defined: for a frozen class of five fields about 2.3 million
instructions on CPython 3.11, nine tenths of them compiling ``__init__``, ``__setattr__`` and
``__delattr__``. ``smtpfake serve`` defines some 50 such classes before it listens, and making
them was most of what its own modules cost (bench/startup_cost.py). A server never assigns to
these objects; most of them it never makes (the scenario comes from the cache by pickle, which
calls no ``__init__``), and fewer still does it print, compare or hash.

So ``dataclasses`` only reads the fields when the class is defined, and the methods come in two
groups, each made by the first call of one of its methods (a first instance made, a first
assignment refused; a first ``repr``, ``==`` or ``hash``): ``__init__``, ``__setattr__`` and
``__delattr__``; ``__repr__``, ``__eq__`` and ``__hash__``. Each group is made by
``dataclasses`` for a twin class with the same fields (and ``__post_init__``), and set on the
class. The twin's ``__setattr__`` and ``__delattr__`` name their class (``type(self) is cls``,
``super(cls, self)``): the copies set on the class name the class instead of the twin (the same
code, its closure cells pointing at the class).

What stays the same: the class is a dataclass (``fields``, ``replace``, ``asdict``, pickling,
match patterns), frozen, and its six methods are the ones ``@dataclass(frozen=True)`` would
have added, made by ``dataclasses``; ``inspect.signature`` of the class (``help``) is its
``__init__``'s. What differs: ``__dataclass_params__`` says ``init=False, repr=False, eq=False,
frozen=False``, so a subclass is declared as its base was (``dataclasses`` refuses a frozen
subclass of a class it was told is not frozen, and the other way round). A class with
``slots=True`` or without a docstring has its ``__init__`` group made at once (``dataclasses``
makes a new class for slots; it writes the signature into a missing docstring).
tests/test_frozen_dataclass.py holds each to ``@dataclass(frozen=True)``.
"""

from __future__ import annotations

import dataclasses
import types
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:  # only type checkers read it (typing has it from Python 3.11)

    def dataclass_transform(**_: object) -> Callable[[Any], Any]:
        return lambda f: f


T = TypeVar("T")

#: the methods made on first use, in two groups: the first call of one makes its group
CONSTRUCT = ("__init__", "__setattr__", "__delattr__")
LATER = ("__repr__", "__eq__", "__hash__")


@overload
def frozen_dataclass(cls: type[T], /) -> type[T]: ...


@overload
def frozen_dataclass(*, slots: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen_dataclass(
    cls: type[T] | None = None, /, *, slots: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    """``@dataclass(frozen=True)`` or ``@dataclass(frozen=True, slots=True)``, with its methods
    made on first use (see the module). TypeError for a class that defines one of them itself
    (``dataclass`` keeps some of those and not others: declare it with
    ``@dataclass(frozen=True)``)."""

    def wrap(c: type[T]) -> type[T]:
        own = [name for name in (*_constructing(True), *LATER) if name in c.__dict__]
        if own:
            raise TypeError(
                f"{c.__qualname__} defines {', '.join(own)}: use @dataclass(frozen=True)"
            )
        if _constructed_at_once(c):
            made = dataclasses.dataclass(frozen=True, eq=False, repr=False, slots=slots)(c)
        else:
            made = dataclasses.dataclass(init=False, eq=False, repr=False, slots=slots)(c)
            group = _constructing(slots)
            for name in group:
                setattr(made, name, _first_call(made, name, group))
            made.__signature__ = _Signature(made)  # type: ignore[attr-defined]
            _LAZY.add(made)
        for name in LATER:
            setattr(made, name, _first_call(made, name, LATER))
        return made

    return wrap if cls is None else wrap(cls)


#: the classes whose __init__ group is made on first use (dataclasses was told they are neither
#: frozen nor have an __init__: their subclasses must be made so too)
_LAZY: weakref.WeakSet[type] = weakref.WeakSet()


def _constructing(slots: bool) -> tuple[str, ...]:
    """The __init__ group: with slots, the pickling pair too (dataclasses gives a frozen class
    with slots its own, which sets the fields as its __init__ does)."""
    return (*CONSTRUCT, "__getstate__", "__setstate__") if slots else CONSTRUCT


def _constructed_at_once(cls: type) -> bool:
    """Whether ``cls`` gets its __init__ group when it is defined: without a docstring, or as
    a subclass of a dataclass made so. TypeError for a subclass of a class whose group is made
    on first use that cannot be made so too."""
    bases = [b for b in cls.__mro__[1:] if dataclasses.is_dataclass(b)]
    if not any(b in _LAZY for b in bases):
        return not cls.__doc__ or bool(bases)
    if not cls.__doc__ or not all(b in _LAZY for b in bases):
        raise TypeError(
            f"{cls.__qualname__}: a subclass of a @frozen_dataclass with a docstring needs a "
            "docstring and no other dataclass base"
        )
    return False


def _first_call(cls: type, name: str, group: tuple[str, ...]) -> Callable[..., Any]:
    """``cls``'s method ``name`` until it is made: the first call makes its group and answers."""

    def first(self: object, *args: Any, **kwargs: Any) -> Any:
        _make(cls, group)
        return getattr(cls, name)(self, *args, **kwargs)

    first.__name__, first.__qualname__ = name, f"{cls.__qualname__}.{name}"
    return first


class _Signature:
    """``cls.__signature__`` until ``__init__`` is made: reading it (``inspect.signature``)
    makes it and answers None, so that ``inspect`` reads the made ``__init__``; an instance
    has no such attribute, as a dataclass's has not."""

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def __get__(self, instance: object, owner: type | None = None) -> None:
        if instance is not None:
            raise AttributeError("__signature__")
        if self.cls.__dict__.get("__signature__") is self:
            _make(self.cls, CONSTRUCT)


def _make(cls: type, group: tuple[str, ...]) -> None:
    """``cls``'s methods ``group`` as ``@dataclass(frozen=True)`` makes them: those of a twin
    dataclass with the same fields (and slots, and __post_init__), made by ``dataclasses``,
    with the twin's references to itself pointing at ``cls``. For LATER, a twin with no
    constructor (``unsafe_hash``: the hash of a frozen class, without the frozen
    ``__setattr__``)."""
    construct = group is not LATER
    # the docstring too: without one, dataclasses would work out the twin's from its signature
    namespace: dict[str, Any] = {
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
        "__annotations__": {},
    }
    for f in dataclasses.fields(cls):
        namespace["__annotations__"][f.name] = f.type
        namespace[f.name] = dataclasses.field(
            default=f.default,
            default_factory=f.default_factory,
            init=f.init,
            repr=f.repr,
            hash=f.hash,
            compare=f.compare,
            metadata=f.metadata,
            kw_only=f.kw_only,
        )
    if construct and hasattr(cls, "__post_init__"):
        namespace["__post_init__"] = cls.__post_init__  # the made __init__ calls self's
    first = type(cls.__name__, (), namespace)
    # with slots, dataclasses returns a new class; the methods may name either
    twin: type = dataclasses.dataclass(
        init=construct,
        repr=not construct,
        eq=not construct,
        frozen=construct,
        unsafe_hash=not construct,
        match_args=False,
        slots=construct and "__getstate__" in group,
    )(first)
    if construct and isinstance(cls.__dict__.get("__signature__"), _Signature):
        delattr(cls, "__signature__")
    for name in group:
        setattr(cls, name, _pointed_at(twin.__dict__[name], (first, twin), cls))


def _pointed_at(fn: Any, twins: tuple[type, ...], cls: type) -> Any:
    """``fn`` (a function of a twin) as a function of ``cls``: the same code, globals and name
    (the twin's qualified name is ``cls``'s), its closure cells that hold a twin holding
    ``cls``. ``fn`` itself when it names neither (a function dataclasses shares)."""
    cells = fn.__closure__ or ()
    if any(_holds(c, twins) for c in cells):
        closure = tuple(types.CellType(cls) if _holds(c, twins) else c for c in cells)
        made = types.FunctionType(
            fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, closure
        )
        made.__kwdefaults__, made.__annotations__ = fn.__kwdefaults__, fn.__annotations__
        made.__qualname__, made.__doc__ = fn.__qualname__, fn.__doc__
        return made
    return fn


def _holds(cell: Any, values: tuple[object, ...]) -> bool:
    try:
        return any(cell.cell_contents is v for v in values)
    except ValueError:  # an empty cell
        return False
