"""The records the engine makes with frozen.made() are the objects their constructors make."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from smtpfake.engine.frozen import made
from smtpfake.engine.matching import Occurrence
from smtpfake.engine.records import Outcome, TranscriptEntry
from smtpfake.scenario import load_mapping
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
        obj.time = 0.0


def test_transcript_entries_and_outcomes_of_a_session_are_as_constructed() -> None:
    # a rule on every stage, so each command leaves an outcome (one fires, one near miss)
    fake = Engine(
        load_mapping(
            {
                "rules": [
                    {"on": "rcpt", "match": "*@busy.test", "reply": "450 4.2.1 busy"},
                    {"on": "any", "match": "never-*", "delay": 0},
                ]
            }
        )
    )
    c = fake.connect()
    assert c.cmd("EHLO client.test") == 250
    assert c.cmd("MAIL FROM:<a@x.test>") == 250
    assert c.cmd("RCPT TO:<b@busy.test>") == 450
    c.quit()
    record = fake.journal.sessions()[0]
    assert len(record.transcript) >= 8 and len(record.outcomes) >= 4
    assert [o.fired for o in record.outcomes].count("rule 1 (on rcpt)") == 1
    for item in (*record.transcript, *record.outcomes):
        _same_as_constructed(item)


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


def test_made_is_the_constructor() -> None:
    fields = {
        "time": 1.0,
        "side": "server",
        "text": "250 ok",
        "rule": "r",
        "delivered": False,
        "written": 3,
        "event": False,
    }
    entry = made(TranscriptEntry, **fields)
    assert entry == TranscriptEntry(**fields)
    assert made(Outcome, time=1.0, stage="rcpt", argument="x", fired=None, why=()) == Outcome(
        1.0, "rcpt", "x", None
    )
