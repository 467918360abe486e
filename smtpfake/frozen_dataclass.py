"""``@frozen_dataclass``: ``@dataclass(frozen=True)`` whose methods are made when one of them is
first used; ``@mutable_dataclass``: the same for ``@dataclass``.

Why (start-up time): ``dataclass`` writes the source of each method it adds and compiles it
(``exec``) when the class is defined: for a frozen class of five fields about 2.3 million
instructions on CPython 3.11, nine tenths of them compiling ``__init__``, ``__setattr__`` and
``__delattr__``. ``smtpfake serve`` defines some 50 such classes before it listens, and making
them was most of what its own modules cost (bench/startup_cost.py). A server never assigns to
its frozen records; most of them it never makes before a client comes, or at all (the scenario
comes from the cache by pickle, which calls no ``__init__``), and fewer still does it print,
compare or hash.

So ``dataclasses`` processes a class (reads its fields: about 250,000 instructions for five)
only when first asked about it - ``fields``, ``replace``, ``asdict``, ``is_dataclass``,
``match``, ``__dataclass_params__``, ``copy.replace``, a subclass, a first instance the
stand-in ``__init__`` below cannot set up from the class body alone - (a
class with slots is made anew with its slots here, as ``dataclasses`` would, and processed on
first use through a twin that holds its defaults; one with a dataclass base or a ClassVar,
InitVar or KW_ONLY annotation is made by ``dataclasses`` when defined), and the methods come in
two groups, each made by the first call of one of its methods: the constructor group -
``__init__``, and for a frozen class ``__setattr__``, ``__delattr__`` and with slots the
pickling pair ``dataclasses`` adds to it - and the LATER group (a first ``repr``, ``==`` or
``hash``) - ``__repr__``, ``__eq__`` and for a frozen class ``__hash__`` (a mutable one has
``__hash__ = None``, as ``dataclasses`` sets it). The constructor group is made by a first
assignment refused, by ``inspect.signature``, or by an instance past the first
:data:`BUILT_BEFORE_MADE`: those the stand-in ``__init__`` sets up itself, as the made one
would (each field in order, through ``object.__setattr__`` for a frozen class, then
``__post_init__()``), its fields read from the class body when it has no dataclass base, no
``init=False`` field and no ClassVar, InitVar or KW_ONLY annotation (else from ``fields``), so
that a module's table of records, or a server's first sessions, cost no compiling and no
processing; a call that does not bind plainly makes the group at once, and its ``__init__``
answers (dataclasses' own TypeError). Each group is made by ``dataclasses`` for a twin class
with the same fields (and slots, and ``__post_init__``), and set on the class. The twin's
``__setattr__`` and ``__delattr__`` name their class (``type(self) is cls``, ``super(cls,
self)``): the copies set on the class name the class instead (the same code, its closure cells
that hold the twin holding the class).

What stays the same: the class is a dataclass (``fields``, ``replace``, ``asdict``, pickling,
match patterns), and its methods are the ones ``@dataclass(frozen=True)`` (``@dataclass``)
would have added, made by ``dataclasses``; ``inspect.signature`` of the class (``help``) is its
``__init__``'s; ``__dataclass_params__`` says what the class is (frozen, with ``__init__``,
``__repr__`` and ``__eq__``), so a user's ``@dataclass(frozen=True)`` subclass is made as for a
plain frozen base (while this module makes a subclass, its bases show dataclasses what it was
told for them instead). What differs: a subclass made here needs a docstring and bases made here
(a class without a docstring gets its constructor group at once: ``dataclasses`` writes the
signature into a missing docstring); until the class is processed, a default given as
``field(...)`` reads as that Field on the class itself (instances hold every field), and a
mistake ``dataclasses`` refuses (a mutable default) is raised by the first use, not the
definition (a test processes every class of smtpfake's); its ``__replace__`` (3.13+) calls
``dataclasses.replace``, as the one dataclasses adds does. The first use of a group (or the
processing) is made once, whichever thread comes first (a lock).
tests/test_frozen_dataclass.py holds each to ``@dataclass(frozen=True)`` and ``@dataclass``.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import threading
import types
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:  # only type checkers read it (typing has it from Python 3.11)

    def dataclass_transform(**_: object) -> Callable[[Any], Any]:
        return lambda f: f


T = TypeVar("T")

#: the methods made on first use (for a frozen class): the first call of one makes its group
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
        return _on_first_use(c, frozen=True, slots=slots)

    return wrap if cls is None else wrap(cls)


@overload
def mutable_dataclass(cls: type[T], /) -> type[T]: ...


@overload
def mutable_dataclass(*, slots: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def mutable_dataclass(
    cls: type[T] | None = None, /, *, slots: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    """``@dataclass`` or ``@dataclass(slots=True)``, with ``__init__``, ``__repr__`` and
    ``__eq__`` made on first use (see the module); TypeError as for frozen_dataclass."""

    def wrap(c: type[T]) -> type[T]:
        return _on_first_use(c, frozen=False, slots=slots)

    return wrap if cls is None else wrap(cls)


def _groups(frozen: bool, slots: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The methods made on first use, as (the constructor group, the LATER group), for a frozen
    or a mutable class, with or without slots."""
    if not frozen:
        return ("__init__",), ("__repr__", "__eq__")
    return (*CONSTRUCT, "__getstate__", "__setstate__") if slots else CONSTRUCT, LATER


#: the classes whose constructor group is made on first use -> whether they are frozen
#: (dataclasses was told they are not, and have no __init__: their subclasses must be made so)
_LAZY: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


def _on_first_use(c: type[T], *, frozen: bool, slots: bool) -> type[T]:
    """``c`` as a dataclass whose methods are made on first use (see the module)."""
    construct, later = _groups(frozen, slots)
    own = [name for name in (*construct, *later) if name in c.__dict__]
    if own:
        how = "@dataclass(frozen=True)" if frozen else "@dataclass"
        raise TypeError(f"{c.__qualname__} defines {', '.join(own)}: use {how}")
    with _MAKING:
        at_once = _constructed_at_once(c, frozen)
        if at_once or (slots and not _slots_first_use(c)):
            made = _processed(c, frozen, slots, at_once)
        else:
            made = _slotted(c) if slots else c
            for name in _PROCESSED:
                setattr(made, name, _Unprocessed(made, name, frozen))
        if not at_once:
            made.__init__ = _first_init(made, construct, frozen)  # type: ignore[method-assign]
            for name in construct[1:]:  # __setattr__, __delattr__ (and the pickling pair)
                setattr(made, name, _first_call(made, name, construct, frozen))
            made.__signature__ = _Signature(made, construct, frozen)  # type: ignore[attr-defined]
            _LAZY[made] = frozen
    for name in later:
        setattr(made, name, _first_call(made, name, later, frozen))
    if not frozen:
        made.__hash__ = None  # type: ignore[assignment]  # eq=True, not frozen: unhashable
    return made


#: the classes with slots made here (not by dataclasses) -> their fields' defaults as the class
#: body gave them (a default cannot stay on a class beside its slot): processed on first use
#: through a twin that has them (:func:`_process_slotted`)
_SLOTTED: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()


def _slots_first_use(c: type) -> bool:
    """Whether ``c`` (slots asked for) can be made with its slots here and processed on first
    use: no dataclass base, and every annotation a field (none names ClassVar, InitVar or
    KW_ONLY, which dataclasses reads apart); else dataclasses makes it at once, as before."""
    if any(dataclasses.is_dataclass(b) for b in c.__mro__[1:]) or "__slots__" in c.__dict__:
        return False
    special = ("ClassVar", "InitVar", "KW_ONLY")
    notes = inspect.get_annotations(c).values()  # dataclasses loads inspect
    return not any(word in str(note) for note in notes for word in special)


def _slotted(c: type) -> type:
    """``c`` made anew with a slot for each field, as ``@dataclass(slots=True)`` makes it
    (``_add_slots``), without processing it: what dataclasses costs with slots is remaking the
    class after processing it (about 1M instructions a record); the defaults are kept aside
    for the processing (:data:`_SLOTTED`)."""
    namespace = dict(c.__dict__)
    names = tuple(namespace.get("__annotations__", {}))
    defaults = {name: namespace.pop(name) for name in names if name in namespace}
    namespace["__slots__"] = names
    namespace.pop("__dict__", None)
    namespace.pop("__weakref__", None)
    made = type(c)(c.__name__, c.__bases__, namespace)
    made.__qualname__ = c.__qualname__
    _SLOTTED[made] = defaults
    return made


def _process_slotted(cls: type, frozen: bool) -> None:
    """``cls`` (made by :func:`_slotted`) processed: dataclasses processes a twin without slots
    that has the class body's defaults (what it reads of a class), and its fields and
    parameters are set on ``cls``, as processing ``cls`` with slots would have set them."""
    namespace: dict[str, Any] = {
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
        "__annotations__": dict(inspect.get_annotations(cls)),
        **_SLOTTED[cls],
    }
    twin: Any = dataclasses.dataclass(init=False, eq=False, repr=False, match_args=False)(
        type(cls.__name__, (), namespace)
    )
    told = copy.copy(twin.__dataclass_params__)
    if hasattr(told, "slots"):  # Python 3.12+ says it
        told.slots = True
    cls.__dataclass_fields__ = twin.__dataclass_fields__  # type: ignore[attr-defined]
    _TOLD[cls] = told
    cls.__dataclass_params__ = _shown(told, frozen)  # type: ignore[attr-defined]


#: what dataclasses sets on a class it processes, read by its functions (fields, replace,
#: asdict, is_dataclass ...), by a subclass's processing, by ``match`` and (Python 3.13+) by
#: ``copy.replace``
_PROCESSED = ("__dataclass_fields__", "__dataclass_params__", "__match_args__") + (
    ("__replace__",) if hasattr(copy, "replace") else ()
)


def _replace(self: Any, /, **changes: Any) -> Any:
    """``__replace__`` (``copy.replace``, Python 3.13+) of a class processed on first use:
    ``dataclasses.replace``, as the one dataclasses adds."""
    return dataclasses.replace(self, **changes)


class _Unprocessed:
    """One of :data:`_PROCESSED` on a class dataclasses has not processed yet (processing a
    class of five fields costs about 250,000 instructions, and most of the records a server
    defines it never constructs, copies or compares before a client comes): reading it
    processes the class (a thread meeting it meanwhile waits), then answers; AttributeError
    while the class is being processed (dataclasses reads it only on bases, made first)."""

    def __init__(self, cls: type, name: str, frozen: bool) -> None:
        self.cls, self.name, self.frozen = cls, name, frozen

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        _process_now(self.cls)
        if isinstance(self.cls.__dict__.get(self.name), _Unprocessed):
            raise AttributeError(self.name)
        return getattr(owner if instance is None else instance, self.name)


#: the classes being processed now (by the thread holding _MAKING)
_PROCESSING: set[type] = set()


def _process_now(cls: type) -> None:
    """``cls`` processed by dataclasses, if it is not yet (once, whichever thread comes
    first). Its descriptors stay until dataclasses sets what they stand for, and
    ``__match_args__`` (which dataclasses sets only on a class without one) is set from the
    fields as dataclasses sets it: the ``__init__`` parameters that are not keyword-only."""
    with _MAKING:
        unprocessed = cls.__dict__.get("__dataclass_fields__")
        if not isinstance(unprocessed, _Unprocessed) or cls in _PROCESSING:
            return
        _PROCESSING.add(cls)
        try:
            if cls in _SLOTTED:
                _process_slotted(cls, unprocessed.frozen)
            else:
                _processed(cls, unprocessed.frozen, False, False, match_args=False)
            positional = (f.name for f in dataclasses.fields(cls) if f.init and not f.kw_only)
            cls.__match_args__ = tuple(positional)  # type: ignore[attr-defined,misc]
            if "__replace__" in _PROCESSED:  # which dataclasses sets only where there is none
                cls.__replace__ = _replace  # type: ignore[attr-defined]
        finally:
            _PROCESSING.discard(cls)


def _processed(
    c: type[T], frozen: bool, slots: bool, at_once: bool, match_args: bool = True
) -> type[T]:
    """``c`` processed by dataclasses (_MAKING held): with its constructor group when
    ``at_once``, else with no method; its bases first. ``__dataclass_params__`` says what it
    is (frozen, with ``__init__``, ``__repr__`` and ``__eq__``), for a user's @dataclass
    subclass (dataclasses checks that a frozen class's subclass is frozen too); ours are made
    as told, _as_told."""
    for base in c.__mro__[1:]:
        _process_now(base)
    with _as_told(c):
        if at_once:
            made = dataclasses.dataclass(frozen=frozen, eq=False, repr=False, slots=slots)(c)
        else:
            made = dataclasses.dataclass(
                init=False, eq=False, repr=False, slots=slots, match_args=match_args
            )(c)
        told = _TOLD[made] = made.__dataclass_params__  # type: ignore[attr-defined]
        made.__dataclass_params__ = _shown(told, frozen)  # type: ignore[attr-defined]
    return made


#: the classes made here -> the parameters dataclasses was told (their __dataclass_params__
#: says what they are: frozen, with __init__, __repr__ and __eq__)
_TOLD: weakref.WeakKeyDictionary[type, Any] = weakref.WeakKeyDictionary()
#: what __dataclass_params__ shows for the parameters dataclasses was told (by their repr, which
#: names each) and whether the class is frozen: one object for the classes told alike (they are
#: never changed once made)
_SHOWN: dict[tuple[str, bool], Any] = {}


def _shown(told: Any, frozen: bool) -> Any:
    """A copy of ``told`` that says the class is frozen or not, with __init__, __repr__ and
    __eq__."""
    key = repr(told), frozen
    params = _SHOWN.get(key)
    if params is None:
        params = _SHOWN[key] = copy.copy(told)
        params.init = params.repr = params.eq = True
        params.frozen = frozen
    return params


@contextlib.contextmanager
def _as_told(cls: type) -> Iterator[None]:
    """While ``cls`` is made (_MAKING held): its bases made here show dataclasses the
    parameters it was told for them, which their subclasses made here match."""
    bases = [b for b in cls.__mro__[1:] if b in _TOLD]
    shown = [b.__dict__["__dataclass_params__"] for b in bases]
    for b in bases:
        b.__dataclass_params__ = _TOLD[b]  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for b, params in zip(bases, shown, strict=True):
            b.__dataclass_params__ = params  # type: ignore[attr-defined]


def _constructed_at_once(cls: type, frozen: bool) -> bool:
    """Whether ``cls`` gets its constructor group when it is defined: without a docstring, or
    as a subclass of a dataclass made so. TypeError for a subclass of a class whose group is
    made on first use that cannot be made so too."""
    bases = [b for b in cls.__mro__[1:] if dataclasses.is_dataclass(b)]
    if not any(b in _LAZY for b in bases):
        return not cls.__doc__ or bool(bases)
    if not cls.__doc__ or not all(_LAZY.get(b) is frozen for b in bases):
        raise TypeError(
            f"{cls.__qualname__}: a subclass of a dataclass whose methods are made on first use "
            "needs a docstring, and every dataclass base made the same way"
        )
    return False


def _first_call(cls: type, name: str, group: tuple[str, ...], frozen: bool) -> Callable[..., Any]:
    """``cls``'s method ``name`` until it is made: the first call makes its group and answers."""

    def first(self: object, *args: Any, **kwargs: Any) -> Any:
        _make(cls, group, frozen)
        return getattr(cls, name)(self, *args, **kwargs)

    first.__name__, first.__qualname__ = name, f"{cls.__qualname__}.{name}"
    return first


#: the instances a class's stand-in ``__init__`` sets up itself before dataclasses makes its
#: constructor group (the next instance makes it): a table of records made at import, and the
#: few a server's first sessions make, cost no compiling (about 2 million instructions a class)
BUILT_BEFORE_MADE = 64


def _first_init(cls: type, group: tuple[str, ...], frozen: bool) -> Callable[..., None]:
    """``cls.__init__`` until its constructor group is made: for its first
    :data:`BUILT_BEFORE_MADE` instances it sets the fields as the ``__init__`` dataclasses
    makes does (:class:`_Fields`); a call that does not bind plainly (an argument missing,
    unknown or twice, too many; a class with ``InitVar`` or ``init=False`` fields) makes the
    group instead, whose ``__init__`` answers it, errors included."""
    built = 0
    plan: list[_Fields | None] = []  # read from the class on the first call

    def __init__(self: object, *args: Any, **kwargs: Any) -> None:
        nonlocal built
        if built < BUILT_BEFORE_MADE:
            if not plan:
                plan.append(_Fields.of(cls))
            fields = plan[0]
            values = None if fields is None else fields.bind(args, kwargs)
            if fields is not None and values is not None:
                built += 1  # unlocked: a race builds one more, never a wrong one
                fields.set_up(self, values, frozen)
                return
        _make(cls, group, frozen)
        cls.__init__(self, *args, **kwargs)  # type: ignore[misc]  # the one just made

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


class _Fields:
    """How ``cls``'s ``__init__`` (as dataclasses makes it) binds its arguments and sets its
    fields: the positional parameters, the keyword-only ones, each field's default or factory,
    in the order of the fields, which is the order it sets them in."""

    def __init__(
        self, cls: type, fields: list[tuple[str, Any, Any, bool]]
    ) -> None:  # (name, default, factory, keyword-only) in order
        self.order = tuple(name for name, *_ in fields)
        self.positional = tuple(name for name, _, _, kw_only in fields if not kw_only)
        self.names = frozenset(self.order)
        #: name -> (default, factory), each dataclasses.MISSING when there is none
        self.defaults: dict[str, tuple[Any, Any]] = {
            name: (default, factory) for name, default, factory, _ in fields
        }
        self.post_init = hasattr(cls, "__post_init__")

    @classmethod
    def of(cls, record: type) -> _Fields | None:
        """None for a class whose ``__init__`` does more than bind and set each field (and call
        ``__post_init__()``): one with ``init=False`` fields, or pseudo-fields (``InitVar``,
        ``ClassVar``). A class not processed yet is read without processing it (about 0.25M
        instructions a class: serve's start makes records of ten), when it can be:
        :func:`_fields_unprocessed`."""
        unprocessed = _fields_unprocessed(record)
        if unprocessed is not None:
            return None if unprocessed is False else cls(record, unprocessed)
        fields = dataclasses.fields(record)
        every = getattr(record, "__dataclass_fields__", {})
        if any(not f.init for f in fields) or len(every) != len(fields):
            return None
        return cls(
            record, [(f.name, f.default, f.default_factory, f.kw_only is True) for f in fields]
        )

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any] | None:
        """Each field's value, in order (a factory's default called as it is set: None in its
        place), or None when the call does not bind (``__init__`` would raise TypeError)."""
        if len(args) > len(self.positional):
            return None
        given = dict(zip(self.positional, args, strict=False))
        for name, value in kwargs.items():
            if name not in self.names or name in given:
                return None
            given[name] = value
        values: list[Any] = []
        for name in self.order:
            if name in given:
                values.append((given[name],))
                continue
            default, factory = self.defaults[name]
            if factory is not dataclasses.MISSING:
                values.append(None)
            elif default is not dataclasses.MISSING:
                values.append((default,))
            else:
                return None  # a required argument is missing
        return values

    def set_up(self, obj: object, values: list[Any], frozen: bool) -> None:
        """Set the fields of ``obj`` as ``__init__`` does: in order, a frozen class's through
        ``object.__setattr__``, a mutable one's by assignment; then ``__post_init__()``."""
        assign = object.__setattr__ if frozen else setattr
        for name, value in zip(self.order, values, strict=True):
            assign(obj, name, self.defaults[name][1]() if value is None else value[0])
        if self.post_init:
            obj.__post_init__()  # type: ignore[attr-defined]


def _fields_unprocessed(cls: type) -> list[tuple[str, Any, Any, bool]] | Literal[False] | None:
    """The fields of ``cls``, not processed yet, as dataclasses would read them: (name,
    default, factory, keyword-only) in the order of its annotations, a default given as
    ``field(...)`` read from that Field; False when one is ``init=False``; None when ``cls`` is
    processed, or has a dataclass base or an annotation dataclasses reads apart (ClassVar,
    InitVar, KW_ONLY): those are read from dataclasses.fields. Read with _MAKING held: not
    while another thread processes the class (which replaces the Fields in its body)."""
    with _MAKING:
        if not isinstance(cls.__dict__.get("__dataclass_fields__"), _Unprocessed):
            return None
        if cls not in _SLOTTED and not _slots_first_use(cls):  # the same conditions
            return None
        given = _SLOTTED.get(cls, cls.__dict__)
        missing = dataclasses.MISSING
        fields: list[tuple[str, Any, Any, bool]] = []
        for name in inspect.get_annotations(cls):
            default = given.get(name, missing)
            if not isinstance(default, dataclasses.Field):
                fields.append((name, default, missing, False))
            elif not default.init:
                return False
            else:
                kw_only = default.kw_only is True
                fields.append((name, default.default, default.default_factory, kw_only))
        return fields


class _Signature:
    """``cls.__signature__`` until ``__init__`` is made: reading it (``inspect.signature``)
    makes it and answers None, so that ``inspect`` reads the made ``__init__``; an instance
    has no such attribute, as a dataclass's has not."""

    def __init__(self, cls: type, group: tuple[str, ...], frozen: bool) -> None:
        self.made = cls, group, frozen

    def __get__(self, instance: object, owner: type | None = None) -> None:
        if instance is not None:
            raise AttributeError("__signature__")
        cls, group, frozen = self.made
        if cls.__dict__.get("__signature__") is self:
            _make(cls, group, frozen)


#: the groups made so far, by class (their first method's name); _MAKING held while one is made:
#: threads meeting a class's first use at once make its group once
_MADE: weakref.WeakKeyDictionary[type, set[str]] = weakref.WeakKeyDictionary()
_MAKING = threading.RLock()


def _make(cls: type, group: tuple[str, ...], frozen: bool) -> None:
    """``cls``'s methods ``group`` as ``@dataclass(frozen=frozen)`` makes them (once, whichever
    thread comes first; the others wait for it): see :func:`_make_now`."""
    with _MAKING:
        made = _MADE.setdefault(cls, set())
        if group[0] not in made:
            _make_now(cls, group, frozen)
            made.add(group[0])


def _make_now(cls: type, group: tuple[str, ...], frozen: bool) -> None:
    """``cls``'s methods ``group`` as ``@dataclass(frozen=frozen)`` makes them: those of a twin
    dataclass with the same fields (and slots, and __post_init__), made by ``dataclasses``,
    with the twin's references to itself pointing at ``cls``. For the LATER group, a twin with
    no constructor (for a frozen class ``unsafe_hash``: the hash of a frozen class, without
    the frozen ``__setattr__``)."""
    construct = "__init__" in group
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
        frozen=frozen and construct,
        unsafe_hash=frozen and not construct,
        match_args=False,
        slots=construct and "__slots__" in cls.__dict__,
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
