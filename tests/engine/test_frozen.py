"""The short-lived records the engine makes with frozen.made() are what their constructors make."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from smtpfake.engine.frozen import made
from smtpfake.engine.matching import Occurrence
from smtpfake.scenario.model import Stage

from ..support.engine import Engine


def _same_as_constructed(obj: Any) -> None:
    cls = type(obj)
    names = [f.name for f in dataclasses.fields(cls)]
    assert list(vars(obj)) == names  # every field given, in the constructor's order
    again = cls(**{name: getattr(obj, name) for name in names})
    assert obj == again
    assert hash(obj) == hash(again)
    assert repr(obj) == repr(again)
    with pytest.raises(dataclasses.FrozenInstanceError):
        obj.nth = 0


def test_an_occurrence_is_as_constructed() -> None:
    fake = Engine()
    c = fake.connect()
    c.cmd("EHLO client.test")
    occ = c.session.occurrence(Stage.MAIL, "a@x.test")
    assert isinstance(occ, Occurrence)
    assert (occ.greeted, occ.message, occ.nth) == ("ehlo", 1, 0)
    _same_as_constructed(occ)


def test_a_plain_plan_is_as_constructed() -> None:
    from smtpfake.engine.session import _plain_plan
    from smtpfake.scenario.plan import Plan
    from smtpfake.scenario.reply import Reply

    reply = Reply(250, ("Ok",), "2.0.0")
    plan = _plain_plan(reply)
    assert plan == Plan(reply)
    assert [f.name for f in dataclasses.fields(Plan)] == list(vars(plan))


@dataclasses.dataclass(frozen=True)
class _Record:
    time: float
    text: str
    rule: str | None = None


def test_made_is_the_constructor() -> None:
    record = made(_Record, time=1.0, text="250 ok", rule=None)
    assert record == _Record(1.0, "250 ok")
    assert hash(record) == hash(_Record(1.0, "250 ok"))
    assert repr(record) == "_Record(time=1.0, text='250 ok', rule=None)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.text = "x"  # type: ignore[misc]


@pytest.mark.parametrize("enhanced", [True, False])
def test_the_queued_reply_is_the_whole_reply(enhanced: bool) -> None:
    from smtpfake.engine.session import _queued, _whole
    from smtpfake.scenario.reply import Reply

    text = "Ok: queued as SF000042"
    (send,) = _queued(text, enhanced)
    (whole,) = _whole(Reply(250, (text,), "2.0.0" if enhanced else None), False)
    assert send == whole
    assert send.note == whole.note  # Send compares without its note
    assert send.data == (b"250 2.0.0 " if enhanced else b"250 ") + text.encode() + b"\r\n"
    _same_as_constructed(send)
    assert send.note is not None
    _same_as_constructed(send.note)
