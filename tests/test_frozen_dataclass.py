"""@frozen_dataclass behaves as @dataclass(frozen=True): the same repr, equality and hash
(made on first use), the same refusal to be assigned to, the same dataclass functions."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest

from smtpfake.frozen_dataclass import frozen_dataclass


def twins(slots: bool = False) -> tuple[Any, Any]:
    """The same class made both ways (fresh classes: nothing made on first use yet)."""

    def body() -> dict[str, Any]:
        return {
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

    plain = dataclass(frozen=True, slots=slots)(type("Reply", (), body()))
    lazy = frozen_dataclass(slots=slots)(type("Reply", (), body()))
    return plain, lazy


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


def test_subclasses() -> None:
    @frozen_dataclass
    class Base:
        a: int

    @frozen_dataclass
    class Child(Base):
        b: int = 0

    class Plain(Base):  # no decorator: Base's methods, as with @dataclass(frozen=True)
        pass

    assert repr(Child(1, 2)) == "test_subclasses.<locals>.Child(a=1, b=2)"
    assert Child(1, 2) != Child(1, 3) and Child(1, 2) == Child(1, 2)
    assert Plain(1) == Plain(1) and Plain(1) != Base(1)  # other class: NotImplemented both ways
    assert repr(Plain(1)) == "test_subclasses.<locals>.Plain(a=1)"


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
