"""@frozen_dataclass behaves as @dataclass(frozen=True): the same constructor, repr, equality
and hash (made on first use), the same refusal to be assigned to, the same dataclass functions;
@mutable_dataclass as @dataclass."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

import smtpfake.frozen_dataclass as frozen_dataclass_module
from smtpfake.frozen_dataclass import frozen_dataclass, mutable_dataclass


def twins(slots: bool = False) -> tuple[Any, Any]:
    """The same class made both ways (fresh classes: nothing made on first use yet)."""

    def body() -> dict[str, Any]:
        return {
            "__doc__": "A reply.",
            "__annotations__": {
                "code": "int",
                "text": "str",
                "seen": "int",
                "quiet": "str",
                "tags": "tuple[str, ...]",
            },
            "seen": field(default=0, compare=False),
            "quiet": field(default="", repr=False),
            "tags": field(default_factory=tuple, hash=False),
        }

    plain: Any = dataclass(frozen=True, slots=slots)(type("Reply", (), body()))
    lazy: Any = frozen_dataclass(slots=slots)(type("Reply", (), body()))
    return plain, lazy


def made_yet(cls: type) -> dict[str, bool]:
    """Which of the methods made on first use ``cls`` has made (not its first-call stub)."""
    stub = frozen_dataclass_module.__file__
    return {n: cls.__dict__[n].__code__.co_filename != stub for n in ("__init__", "__eq__")}


@pytest.mark.parametrize("slots", [False, True])
@pytest.mark.parametrize("first", ["repr", "eq", "hash"])
def test_repr_eq_hash_are_those_of_a_frozen_dataclass(slots: bool, first: str) -> None:
    plain, lazy = twins(slots)
    a, b = lazy(250, "ok", 1, "x", ("t",)), lazy(250, "ok", 2, "y", ("u",))
    pa, pb = plain(250, "ok", 1, "x", ("t",)), plain(250, "ok", 2, "y", ("u",))
    # whichever of the three is called first makes them all
    {"repr": repr, "eq": lambda x: x == a, "hash": hash}[first](a)
    assert repr(a) == repr(pa) == "Reply(code=250, text='ok', seen=1, tags=('t',))"
    assert (a == b) is (pa == pb) is False  # quiet differs; seen does not count
    assert lazy(250, "ok", 9, "x", ("t",)) == a  # compare=False: seen
    assert a != lazy(251, "ok")
    assert hash(a) == hash(pa) == hash((250, "ok", "x"))  # tags: hash=False
    assert a.__eq__(pa) is NotImplemented  # another class, as the plain one answers
    assert (a == (250, "ok")) is False
    assert {a, lazy(250, "ok", 5, "x", ("t",))} == {a}


def test_the_constructor_is_made_past_the_first_instances() -> None:
    plain, lazy = twins()
    assert made_yet(lazy) == {"__init__": False, "__eq__": False}
    # the signature is read from the constructor, which reading it makes
    assert inspect.signature(lazy) == inspect.signature(plain)
    assert str(inspect.signature(lazy)) == (
        "(code: 'int', text: 'str', seen: 'int' = 0, quiet: 'str' = '', "
        "tags: 'tuple[str, ...]' = <factory>) -> None"
    )
    assert made_yet(lazy) == {"__init__": True, "__eq__": False}
    _, fresh = twins()
    first = [fresh(250, "ok") for _ in range(frozen_dataclass_module.BUILT_BEFORE_MADE)]
    assert made_yet(fresh)["__init__"] is False  # set up by the stand-in: nothing compiled
    r = fresh(250, "ok")  # the next one makes it
    assert made_yet(fresh)["__init__"] and r.tags == () and r.seen == 0
    assert [vars(x) for x in first] == [vars(r)] * len(first)
    assert fresh.__init__.__qualname__ == "Reply.__init__"
    # a call that does not bind makes it at once: the error is dataclasses' own
    with pytest.raises(TypeError, match=r"__init__\(\) missing 1 required positional argument"):
        twins()[1](250)
    assert not hasattr(r, "__signature__")  # as a dataclass instance has none


def _limits(make: Any, seen: list[tuple[object, ...]]) -> Any:
    """A class with defaults, a factory, a keyword-only field and __post_init__, made by
    ``make`` (dataclass(frozen=True), frozen_dataclass, ...)."""

    def post_init(self: Any) -> None:
        seen.append((type(self).__name__, tuple(vars(self)) if hasattr(self, "__dict__") else ()))
        if self.low > self.high:
            raise ValueError("low > high")

    return make(
        type(
            "Limits",
            (),
            {
                "__doc__": "Limits.",
                "__annotations__": {"low": "int", "high": "int", "names": "list", "strict": "bool"},
                "high": 10,
                "names": field(default_factory=list),
                "strict": field(default=False, kw_only=True),
                "__post_init__": post_init,
            },
        )
    )


#: calls that bind (the stand-in sets the instance up) and calls that do not (the constructor
#: is made and raises its own TypeError)
CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((1,), {}),
    ((1, 2), {}),
    ((1, 2, ["a"]), {"strict": True}),
    ((), {"low": 1, "names": ["b"]}),
    ((1,), {"high": 3, "strict": False}),
    ((11,), {}),  # __post_init__ raises ValueError
    ((), {}),  # missing low
    ((1, 2, [], True), {}),  # strict is keyword-only
    ((1,), {"low": 2}),  # low twice
    ((1,), {"other": 2}),  # no such field
]


@pytest.mark.parametrize("slots", [False, True])
@pytest.mark.parametrize("frozen", [True, False])
@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_instances_set_up_by_the_stand_in_are_those_dataclasses_makes(
    slots: bool, frozen: bool, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """The same fields set in the same order (the instance dict's order), the same
    __post_init__ call, the same error; the stand-in makes nothing for a call that binds."""
    seen_plain: list[tuple[object, ...]] = []
    seen_lazy: list[tuple[object, ...]] = []
    plain = _limits(dataclass(frozen=frozen, slots=slots), seen_plain)
    lazy_deco = frozen_dataclass if frozen else mutable_dataclass
    lazy = _limits(lazy_deco(slots=slots), seen_lazy)

    def outcome(cls: Any) -> object:
        try:
            made = cls(*args, **kwargs)
        except (TypeError, ValueError) as error:
            return type(error), str(error)
        names = [f.name for f in dataclasses.fields(made)]
        return [(n, getattr(made, n)) for n in names], getattr(made, "__dict__", None)

    expected = outcome(plain)
    assert outcome(lazy) == expected
    assert seen_lazy == seen_plain
    error = expected[0] if expected[0] in (TypeError, ValueError) else None
    assert made_yet(lazy)["__init__"] is (error is TypeError)
    if error is None and frozen:
        with pytest.raises(dataclasses.FrozenInstanceError):
            lazy(*args, **kwargs).low = 5


def test_a_class_whose_init_does_more_makes_its_constructor_at_once() -> None:
    """A field with init=False (its factory called by __init__): the first instance makes
    __init__."""
    Skipped: Any = frozen_dataclass(
        type(
            "Skipped",
            (),
            {
                "__doc__": "d",
                "__annotations__": {"a": "int", "b": "list"},
                "b": field(default_factory=list, init=False),
            },
        )
    )
    assert Skipped(1).b == [] and made_yet(Skipped)["__init__"]


def test_a_mutable_class_sets_its_fields_through_its_own_setattr() -> None:
    """As ``self.name = value`` in dataclasses' __init__ does."""
    assigned: list[str] = []

    def setattr_(self: Any, name: str, value: object) -> None:
        assigned.append(name)
        object.__setattr__(self, name, value)

    body = {"__doc__": "d", "__annotations__": {"a": "int", "b": "int"}, "b": 2}
    Watched: Any = mutable_dataclass(type("Watched", (), {**body, "__setattr__": setattr_}))
    Plain: Any = dataclass(type("Watched", (), {**body, "__setattr__": setattr_}))
    Watched(1)
    assert made_yet(Watched)["__init__"] is False and assigned == ["a", "b"]
    Plain(1)
    assert assigned == ["a", "b"] * 2


def test_a_first_assignment_is_refused_as_by_a_frozen_dataclass() -> None:
    """__setattr__ and __delattr__, made by the first assignment, refuse as a frozen class's
    do: every name on the class itself, its fields on a subclass that is not a dataclass."""
    _, lazy = twins()
    r = object.__new__(lazy)  # as pickle makes one: no __init__ yet
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'other'"):
        r.other = 1
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'other'"):
        del r.other

    class Loose(twins()[1]):  # type: ignore[misc]
        pass

    loose = Loose(1, "a")
    loose.other = 2  # not a field, not the frozen class itself: allowed, as for a plain one
    assert loose.other == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        loose.code = 2


def test_post_init_defaults_and_keyword_only_fields() -> None:
    seen: list[object] = []

    @frozen_dataclass
    class Limits:
        """With __post_init__, a factory and a keyword-only field."""

        low: int
        high: int = 10
        names: list[str] = field(default_factory=list)
        strict: bool = field(default=False, kw_only=True)

        def __post_init__(self) -> None:
            seen.append(self)
            if self.low > self.high:
                raise ValueError("low > high")

    a = Limits(1, strict=True)
    assert (a.low, a.high, a.names, a.strict) == (1, 10, [], True) and seen == [a]
    assert Limits(2).names is not Limits(2).names
    with pytest.raises(ValueError, match="low > high"):
        Limits(11)
    with pytest.raises(TypeError):
        Limits(1, 2, [], True)  # type: ignore[call-arg]  # strict is keyword-only
    assert repr(a) == (
        "test_post_init_defaults_and_keyword_only_fields.<locals>.Limits"
        "(low=1, high=10, names=[], strict=True)"
    )


@pytest.mark.parametrize("slots", [False, True])
def test_copies_are_equal_and_frozen(slots: bool) -> None:
    """Copies made before anything else (with slots, the pickling pair dataclasses adds to a
    frozen class is made by its first use too), and pickled, as the scenario cache does."""
    _, lazy = twins(slots)
    r = object.__new__(lazy)
    object.__setattr__(r, "code", 250)  # as pickle would restore one: no __init__ yet
    for name, value in (("text", "ok"), ("seen", 0), ("quiet", ""), ("tags", ("t",))):
        object.__setattr__(r, name, value)
    for other in (copy.copy(r), copy.deepcopy(r)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            other.code = 1
        assert other == r and hash(other) == hash(r)
    back = pickle.loads(pickle.dumps(SlotsKept(1, "x")))
    assert back == SlotsKept(1, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        back.n = 2


def test_each_class_makes_its_own_methods_once() -> None:
    _, lazy = twins()
    stub = lazy.__eq__
    assert lazy(1, "a") == lazy(1, "a")
    made = lazy.__dict__["__eq__"]
    assert made is not stub and made.__name__ == "__eq__"
    assert lazy(1, "a") != lazy(2, "a")
    assert lazy.__dict__["__eq__"] is made  # not made again
    other = twins()[1]
    assert other.__dict__["__eq__"] is not made and other(1, "a") != lazy(1, "a")


@pytest.mark.parametrize("slots", [False, True])
def test_frozen_and_a_dataclass(slots: bool) -> None:
    _, lazy = twins(slots)
    r = lazy(250, "ok")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.code = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        del r.text
    assert [f.name for f in dataclasses.fields(r)] == ["code", "text", "seen", "quiet", "tags"]
    assert dataclasses.replace(r, code=421) == lazy(421, "ok")
    assert dataclasses.asdict(r) == {"code": 250, "text": "ok", "seen": 0, "quiet": "", "tags": ()}
    assert lazy.__match_args__ == ("code", "text", "seen", "quiet", "tags")
    assert hasattr(r, "__dict__") is not slots


def test_pickled_and_back_equal() -> None:
    back = pickle.loads(pickle.dumps(Kept(3, "x")))
    assert back == Kept(3, "x") and hash(back) == hash(Kept(3, "x"))


@pytest.mark.parametrize("doc", [None, "A record."])
def test_subclasses(doc: str | None) -> None:
    """Without docstrings made at once, with them on first use: the same methods."""
    Base: Any = frozen_dataclass(
        type("Base", (), {"__doc__": doc, "__annotations__": {"a": "int"}})
    )
    child = {"__doc__": doc, "__annotations__": {"b": "int"}, "b": 0}
    Child: Any = frozen_dataclass(type("Child", (Base,), child))

    class Plain(Base):  # no decorator: Base's methods, as with @dataclass(frozen=True)
        pass

    assert made_yet(Child) == {"__init__": doc is None, "__eq__": False}
    assert repr(Child(1, 2)) == "Child(a=1, b=2)" and repr(Child(1)) == "Child(a=1, b=0)"
    assert Child(1, 2) != Child(1, 3) and Child(1, 2) == Child(1, 2) != Base(1)
    assert Plain(1) == Plain(1) and Plain(1) != Base(1)  # other class: NotImplemented both ways
    assert repr(Plain(1)) == "test_subclasses.<locals>.Plain(a=1)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        Child(1).a = 2
    assert str(inspect.signature(Child)) == "(a: 'int', b: 'int' = 0) -> None"


@pytest.mark.parametrize("slots", [False, True])
def test_without_a_docstring_the_constructor_is_made_at_once(slots: bool) -> None:
    """dataclasses writes the signature into a missing docstring: such a class gets __init__,
    __setattr__ and __delattr__ when it is defined."""

    body = {"__annotations__": {"a": "int", "b": "str"}, "b": ""}
    Bare: Any = frozen_dataclass(slots=slots)(type("Bare", (), body))

    assert made_yet(Bare) == {"__init__": True, "__eq__": False}
    if not slots:
        assert Bare.__doc__ == "Bare(a: 'int', b: 'str' = '')"
    with pytest.raises(dataclasses.FrozenInstanceError):
        Bare(1).a = 2


def test_a_subclass_is_made_as_its_base() -> None:
    """dataclasses was told a base made on first use is neither frozen nor has __init__: a
    subclass that would be made at once (no docstring) is refused with a clear message."""
    Base: Any = frozen_dataclass(type("Base", (), {"__doc__": "A base.", "__annotations__": {}}))
    with pytest.raises(TypeError, match="Bare: a subclass of a dataclass whose methods are made"):
        frozen_dataclass(type("Bare", (Base,), {"__annotations__": {"c": "int"}, "c": 0}))


def test_a_class_with_its_own_repr_is_refused() -> None:
    with pytest.raises(TypeError, match=r"Own defines __repr__: use @dataclass\(frozen=True\)"):

        @frozen_dataclass
        class Own:
            a: int

            def __repr__(self) -> str:
                return "own"


@frozen_dataclass
class Kept:
    """A module-level class, for pickle."""

    n: int
    s: str


@frozen_dataclass(slots=True)
class SlotsKept:
    """The same, with slots."""

    n: int
    s: str


@pytest.mark.parametrize("slots", [False, True])
def test_mutable_dataclass_is_a_dataclass(slots: bool) -> None:
    def body() -> dict[str, Any]:
        return {
            "__doc__": "A counter.",
            "__annotations__": {"name": "str", "count": "int", "seen": "list[int]"},
            "count": 0,
            "seen": field(default_factory=list, compare=False),
        }

    plain: Any = dataclass(slots=slots)(type("Counter", (), body()))
    lazy: Any = mutable_dataclass(slots=slots)(type("Counter", (), body()))
    assert made_yet(lazy) == {"__init__": False, "__eq__": False}
    assert lazy.__hash__ is None  # unhashable from the start, as with eq and not frozen
    assert str(inspect.signature(lazy)) == str(inspect.signature(plain))
    a, pa = lazy("a"), plain("a")
    a.count += 1
    pa.count += 1
    a.seen.append(1)
    pa.seen.append(1)
    assert repr(a) == repr(pa) == "Counter(name='a', count=1, seen=[1])"
    assert a == lazy("a", 1) and a != lazy("a") and a.__eq__(pa) is NotImplemented
    with pytest.raises(TypeError, match="unhashable"):
        hash(a)
    assert hasattr(a, "__dict__") is not slots
    assert copy.deepcopy(a) == a and dataclasses.replace(a, count=5).count == 5
    with pytest.raises(TypeError, match="defines __eq__: use @dataclass"):
        mutable_dataclass(type("Own", (), {"__doc__": "d", "__eq__": lambda s, o: True}))


@pytest.mark.parametrize("slots", [False, True])
def test_a_users_dataclass_subclass_is_made_as_for_a_plain_frozen_base(slots: bool) -> None:
    """__dataclass_params__ says what the class is: a user's @dataclass(frozen=True) subclass
    works, and a mutable one is refused by dataclasses itself, as for @dataclass(frozen=True)."""
    Base: Any = frozen_dataclass(slots=slots)(
        type("Base", (), {"__doc__": "A base.", "__annotations__": {"a": "int"}})
    )
    params = Base.__dataclass_params__
    assert (params.frozen, params.init, params.repr, params.eq) == (True, True, True, True)

    @dataclass(frozen=True)
    class Tagged(Base):  # type: ignore[misc]
        tag: str = ""

    assert repr(Tagged(1, "t")) == f"{Tagged.__qualname__}(a=1, tag='t')"
    assert Tagged(1, "t") == Tagged(1, "t") != Tagged(1)
    assert hash(Tagged(1)) == hash(Tagged(1)) and Base(1) == Base(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Tagged(1).tag = "u"
    with pytest.raises(TypeError, match="cannot inherit non-frozen dataclass from a frozen one"):

        @dataclass
        class Mutable(Base):  # type: ignore[misc]
            tag: str = ""


def test_threads_meeting_a_first_use_at_once_make_it_once() -> None:
    """The first instance made from several threads at once: each gets one, none an error."""
    errors: list[BaseException] = []
    made: list[object] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch often: they meet inside the first use
    try:
        _first_uses(errors, made)
    finally:
        sys.setswitchinterval(interval)
    assert errors == [] and len(made) == 1200


def _first_uses(errors: list[BaseException], made: list[object]) -> None:
    for _ in range(200):
        Rec: Any = frozen_dataclass(
            type("Rec", (), {"__doc__": "A record.", "__annotations__": {"a": "int"}})
        )
        start = threading.Barrier(6)

        def first(rec: Any = Rec, start: threading.Barrier = start) -> None:
            start.wait(timeout=10)
            try:
                made.append(rec(1))
            except BaseException as error:  # the test reports it
                errors.append(error)

        threads = [threading.Thread(target=first) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)


def _unprocessed(cls: type) -> bool:
    return isinstance(
        cls.__dict__.get("__dataclass_fields__"), frozen_dataclass_module._Unprocessed
    )


@pytest.mark.parametrize(
    "first_use",
    ["fields", "is_dataclass", "replace", "asdict", "match", "params", "subclass", "plain"],
)
def test_dataclasses_processes_a_class_when_first_asked(first_use: str) -> None:
    """Defined, a class is not processed yet; whatever asks dataclasses about it first
    processes it and gets the answer a plain frozen dataclass gives."""
    body = {
        "__doc__": "A record.",
        "__annotations__": {"a": "int", "b": "str", "c": "int"},
        "b": "x",
        "c": field(default=0, kw_only=True),
    }
    plain: Any = dataclass(frozen=True)(type("Rec", (), dict(body)))
    lazy: Any = frozen_dataclass(type("Rec", (), dict(body)))
    assert _unprocessed(lazy)
    r = object.__new__(lazy)  # as frozen.made() or pickle make one: nothing processed
    r.__dict__.update(a=1, b="y", c=2)
    if first_use == "fields":
        assert [f.name for f in dataclasses.fields(r)] == ["a", "b", "c"]
    elif first_use == "is_dataclass":
        assert dataclasses.is_dataclass(lazy) and dataclasses.is_dataclass(r)
    elif first_use == "replace":
        assert dataclasses.replace(r, a=5) == lazy(5, "y", c=2)
    elif first_use == "asdict":
        assert dataclasses.asdict(r) == {"a": 1, "b": "y", "c": 2}
    elif first_use == "match":
        match r:
            case lazy(a, b):
                assert (a, b) == (1, "y")
            case _:
                pytest.fail("no match")
    elif first_use == "params":
        assert lazy.__dataclass_params__.frozen is True
    elif first_use == "subclass":

        @dataclass(frozen=True)
        class Tagged(lazy):  # type: ignore[misc,valid-type]
            tag: str = ""

        assert repr(Tagged(1, tag="t")) == f"{Tagged.__qualname__}(a=1, b='x', c=0, tag='t')"
    else:

        class Plain(lazy):  # type: ignore[misc,valid-type]
            pass

        assert dataclasses.fields(Plain) == dataclasses.fields(lazy)
    assert not _unprocessed(lazy)
    assert lazy.__match_args__ == plain.__match_args__ == ("a", "b")
    assert [repr(f) for f in dataclasses.fields(lazy)] == [
        repr(f) for f in dataclasses.fields(plain)
    ]


def test_every_record_class_of_smtpfake_is_processed_without_error() -> None:
    """A class is processed when first used, not when defined: a mistake dataclasses refuses
    (a mutable default, a field without a type) is found here, as at import before."""
    import importlib
    import pkgutil

    import smtpfake

    for info in pkgutil.walk_packages(smtpfake.__path__, "smtpfake."):
        if info.name.endswith("__main__"):  # the command itself
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:  # an extra that is not installed (the sidecar's, uvloop)
            continue
    lazy = list(frozen_dataclass_module._LAZY)
    assert len(lazy) > 50
    for cls in lazy:
        assert dataclasses.fields(cls) is not None
        assert not _unprocessed(cls)


@pytest.mark.skipif(not hasattr(copy, "replace"), reason="copy.replace is Python 3.13+")
def test_copy_replace_works_before_the_class_is_processed() -> None:
    Rec: Any = frozen_dataclass(
        type("Rec", (), {"__doc__": "A record.", "__annotations__": {"a": "int", "b": "int"}})
    )
    r = object.__new__(Rec)  # as pickle makes one
    r.__dict__.update(a=1, b=2)
    assert _unprocessed(Rec)
    replace = copy.replace  # type: ignore[attr-defined]
    assert replace(r, b=3) == Rec(1, 3) and not _unprocessed(Rec)
    with pytest.raises(TypeError):
        replace(r, c=1)


def test_a_class_with_slots_is_made_with_them_and_processed_on_first_use() -> None:
    """Issue 11 item 1: dataclasses, processing a class with slots, makes it anew (about 1M
    instructions a record, three of them in engine/records.py at serve's start): frozen_dataclass
    makes it with its slots itself, and processes it on first use, as it would be."""
    plain, lazy = twins(slots=True)
    assert _unprocessed(lazy)
    assert lazy.__slots__ == plain.__slots__ == ("code", "text", "seen", "quiet", "tags")
    assert "__weakref__" not in vars(lazy) and "__dict__" not in vars(lazy)
    assert [repr(f) for f in dataclasses.fields(lazy)] == [
        repr(f) for f in dataclasses.fields(plain)
    ]
    assert not _unprocessed(lazy)
    assert lazy.__match_args__ == plain.__match_args__
    assert lazy.__qualname__ == plain.__qualname__ and lazy.__doc__ == plain.__doc__
    r = lazy(250, "ok")
    assert not hasattr(r, "__dict__") and r.seen == 0 and r.tags == ()
    with pytest.raises(TypeError):
        __import__("weakref").ref(r)  # no __weakref__ slot, as dataclasses makes it


def test_a_class_with_slots_and_a_classvar_is_made_by_dataclasses_at_once() -> None:
    """A ClassVar, InitVar or KW_ONLY annotation is read apart by dataclasses: such a class
    with slots is made by dataclasses when defined, as before."""
    notes = {"a": "int", "n": ClassVar[int]}
    body = {"__doc__": "A record.", "__annotations__": notes, "n": 3}
    Rec: Any = frozen_dataclass(slots=True)(type("Rec", (), body))
    assert not _unprocessed(Rec) and Rec.__slots__ == ("a",) and Rec(1).n == 3


@pytest.mark.parametrize("slots", [False, True])
def test_the_first_instances_leave_the_class_unprocessed(slots: bool) -> None:
    """Issue 11 item 1: the stand-in constructor reads a class's fields from its body (about
    0.25M instructions less than dataclasses processing it: serve's start makes records of ten
    classes); each instance is the one dataclasses' constructor makes, defaults, factories and
    keyword-only fields included, and a call that does not bind is refused as dataclasses'."""
    body = {
        "__doc__": "A record.",
        "__annotations__": {"a": "int", "b": "str", "c": "int", "d": "tuple[int, ...]"},
        "b": "x",
        "c": field(default=0, kw_only=True),
        "d": field(default_factory=tuple),
    }
    plain: Any = dataclass(frozen=True, slots=slots)(type("Rec", (), dict(body)))
    lazy: Any = frozen_dataclass(slots=slots)(type("Rec", (), dict(body)))
    made = [lazy(1), lazy(2, "y", c=3), lazy(a=4, d=(5,))]
    assert _unprocessed(lazy) and not made_yet(lazy)["__init__"]
    want = [plain(1), plain(2, "y", c=3), plain(a=4, d=(5,))]
    assert [dataclasses.astuple(r) for r in made] == [dataclasses.astuple(r) for r in want]
    with pytest.raises(TypeError):
        lazy(1, "y", (), 3)  # c is keyword-only


def test_a_field_not_in_init_has_its_class_processed_by_the_first_instance() -> None:
    body = {"__doc__": "A record.", "__annotations__": {"a": "int", "b": "int"}}
    body["b"] = field(default=2, init=False)
    Rec: Any = frozen_dataclass(type("Rec", (), body))
    assert Rec(1).b == 2 and not _unprocessed(Rec)
