"""JSON round trips: what the API writes, the remote client reads back into equal records."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from smtpfake.engine.records import Message, TranscriptEntry, Violation
from smtpfake.journal import SessionRecord
from smtpfake.scenario import ScenarioError, load_text
from smtpfake.serialize import (
    VIOLATION_REFERENCES,
    message_from_json,
    message_to_json,
    problems_from_json,
    problems_to_json,
    scenario_to_json,
    session_from_json,
    session_to_json,
)
from tests.sidecar.conftest import REPO


def wire(data: object) -> object:
    return json.loads(json.dumps(data))  # what survives a trip through JSON text


MESSAGE = Message(
    mail_from="a@x.test",
    rcpt_tos=("b@y.test", "c@y.test"),
    data=b"Subject: =?utf-8?q?caf=C3=A9?=\r\nX-A: 1\r\nX-A: 2\r\n\r\n\xff\xfe not utf-8\r\n",
    session=2,
    time=1_800_000_000.25,
    queue_id="SF000007",
    mail_options=("size=70", "BODY=8BITMIME", "ENVID=Q+2Bx"),
    rcpt_options=(("NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;B@y.test"), ()),
)


def test_message_round_trip_keeps_every_byte() -> None:
    out = wire(message_to_json(MESSAGE))
    assert isinstance(out, dict)
    assert out["subject"] == "café"
    assert out["headers"] == [["Subject", "café"], ["X-A", "1"], ["X-A", "2"]]
    assert "\ufffd" in out["data"]  # the text form replaces what is not UTF-8
    back = message_from_json(out)
    assert back == MESSAGE
    assert back.data == MESSAGE.data


def test_message_parameters_are_written_per_recipient_and_read_back_without_them() -> None:
    out = wire(message_to_json(MESSAGE))
    assert isinstance(out, dict)
    assert out["mail_options"] == ["size=70", "BODY=8BITMIME", "ENVID=Q+2Bx"]
    assert out["rcpt_options"] == [["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;B@y.test"], []]
    # a record written before the parameters were: none, one empty tuple per recipient
    del out["mail_options"], out["rcpt_options"]
    back = message_from_json(out)
    assert (back.mail_options, back.rcpt_options) == ((), ((), ()))


def test_session_round_trip() -> None:
    record = SessionRecord(
        index=3,
        peer="127.0.0.1:5000",
        started=1.5,
        ended=None,
        transcript=(
            TranscriptEntry(1.5, "server", "220 hi"),
            TranscriptEntry(1.6, "client", "MAIL FROM:<\udcff@x>"),  # surrogate-escaped input
            TranscriptEntry(1.7, "server", "503 5.5.1 no", rule="rule 1 (on mail)"),
        ),
        violations=(Violation("bad-sequence", "MAIL before EHLO", "MAIL", 1.6),),
        messages=(MESSAGE,),
    )
    back = session_from_json(wire(session_to_json(record)))  # type: ignore[arg-type]
    # the octet that was not UTF-8 comes back as the transcript shows it: JSON has no lone
    # surrogates (strict parsers reject them)
    assert back.transcript[1].text == "MAIL FROM:<\\xff@x>"
    assert back == dataclasses.replace(
        record,
        transcript=(
            record.transcript[0],
            dataclasses.replace(record.transcript[1], text="MAIL FROM:<\\xff@x>"),
            record.transcript[2],
        ),
    )
    ended = SessionRecord(3, "p", 1.0, 2.0, (), (), ())
    assert session_from_json(wire(session_to_json(ended))) == ended  # type: ignore[arg-type]


@pytest.mark.parametrize("user", ["alice", "", None])
def test_session_round_trip_keeps_auth_user_and_tls(user: str | None) -> None:
    record = SessionRecord(1, "p", 1.0, 2.0, (), (), (), auth_user=user, tls=True)
    out = wire(session_to_json(record))
    assert isinstance(out, dict)
    assert (out["auth_user"], out["tls"]) == (user, True)
    assert session_from_json(out) == record
    plain = SessionRecord(1, "p", 1.0, 2.0, (), (), ())
    assert session_from_json(wire(session_to_json(plain))) == plain  # type: ignore[arg-type]


def test_problems_round_trip() -> None:
    try:
        load_text("summary: x\nexpect: y\nrules:\n  - on: rcptt\n    reply: 550 no\n", source="f")
    except ScenarioError as exc:
        error = exc
    else:
        raise AssertionError("the scenario should not load")
    body = wire(problems_to_json(error))
    assert isinstance(body, dict)
    assert body["problems"] == [str(p) for p in error.problems]
    assert problems_from_json(body).problems == error.problems


def test_scenario_to_json_is_plain_json() -> None:
    scenario = load_text(
        "summary: s\nexpect: e\nrules:\n  - on: [mail, rcpt]\n    nth: [1, 2]\n"
        "    delay: 0.5\n    reply: 451 4.3.0 later\n",
        source="x.yaml",
        name="x",
    )
    out = scenario_to_json(scenario)
    assert wire(out) == out
    (rule,) = out["rules"]
    assert rule["on"] == ["mail", "rcpt"]
    assert rule["nth"] == [1, 2]
    types = [f["type"] for f in rule["faults"]]
    assert set(types) == {"delay", "reply"}
    reply = next(f for f in rule["faults"] if f["type"] == "reply")
    assert reply["params"]["code"] == 451
    assert out["server"]["hostname"]


def test_scenario_json_shows_every_condition_a_rule_sets() -> None:
    from smtpfake.scenario import resolve
    from smtpfake.serialize import scenario_to_json

    rules = scenario_to_json(resolve("greylisting"))["rules"]
    conditions = rules[0]["conditions"]
    assert conditions["per"] == ["client", "sender", "recipient"]
    assert conditions["within"] == 300
    chaos = scenario_to_json(resolve("seeded-chaos"))["rules"]
    assert all("probability" in r["conditions"] for r in chaos)


def test_violation_references_are_the_readmes() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Violations") : readme.index("### AUTH")]
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \| .* \| (RFC[^|]*?) \|$", table, re.M))
    assert rows == VIOLATION_REFERENCES
