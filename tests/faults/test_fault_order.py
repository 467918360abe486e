"""Faults run in the order the rule lists them (no numeric priorities), and a new fault composes
the plan's fields without adding one: shown here with a fault defined only in this test."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from smtpfake.scenario import load_text
from smtpfake.scenario.faults import REGISTRY, Fault, FaultContext
from smtpfake.scenario.plan import Close, HalfClose, Plan, Send, Shape, Sleep

from ..support.engine import Engine
from ..support.pipe import Pipe


def noop(rule: str) -> tuple[object, ...]:
    """What the server does with NOOP under ``rule`` (a YAML flow mapping, keys in order)."""
    scenario = load_text(f"summary: s\nexpect: e\nrules:\n  - {{on: noop, {rule}}}\n")
    p = Pipe(Engine(scenario))  # type: ignore[arg-type]
    p.connect()
    return p.conn.receive_data(b"NOOP\r\n")


def test_the_loader_keeps_the_faults_in_the_order_written() -> None:
    scenario = load_text(
        "summary: s\nexpect: e\nrules:\n"
        "  - {on: noop, close: true, truncate: 3, delay: 1, malformed: bare-lf, reply: 250 x}\n"
    )
    names = [f.name for f in scenario.rules[0].faults]
    assert names == ["close", "truncate", "delay", "malformed", "reply"]


@pytest.mark.parametrize(
    ("rule", "wire"),
    [
        # the octets are shaped step by step, in the order written
        ('raw: "250 one two\\r\\n", truncate: 6', b"250 on"),
        ('truncate: 6, raw: "250 one two\\r\\n"', b"250 one two\r\n"),
        ("malformed: bad-code, truncate: 4", b"2x0 "),
        # a reply after disconnect says something again; before it, nothing is said
        ("disconnect: true, reply: 250 2.0.0 back", b"250 2.0.0 back\r\n"),
        ("reply: 250 2.0.0 back, disconnect: true", b""),
    ],
)
def test_the_order_written_is_the_order_run(rule: str, wire: bytes) -> None:
    actions = noop(rule)
    assert b"".join(a.data for a in actions if isinstance(a, Send)) == wire
    assert any(isinstance(a, HalfClose | Close) for a in actions)


def test_faults_that_touch_different_parts_of_the_plan_commute() -> None:
    one = noop("delay: 2, reply: 250 2.0.0 slow, drip: {bytes: 4, interval: 0.5}, close: true")
    two = noop("close: true, drip: {bytes: 4, interval: 0.5}, reply: 250 2.0.0 slow, delay: 2")
    assert one == two
    assert [type(a) for a in one if isinstance(a, Sleep)] == [Sleep] * 4  # the delay, 3 pauses


@dataclass(frozen=True)
class Shout(Fault, Shape):
    """A fault only this test knows: the reply in capitals."""

    name = "shout"
    primary = "enabled"
    doc = "Send the reply in capitals."

    enabled: bool = True

    def octets(self, data: bytes, reply: object) -> bytes:
        return data.upper() if self.enabled else data

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        return plan.shaped(self)


def test_a_new_fault_adds_no_field_to_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = [f.name for f in dataclasses.fields(Plan)]
    monkeypatch.setitem(REGISTRY, "shout", Shout)
    actions = noop("reply: 250 2.0.0 quiet please, shout: true, truncate: 14")
    assert [a.data for a in actions if isinstance(a, Send)] == [b"250 2.0.0 QUIE"]
    actions = noop("shout: true, reply: 250 2.0.0 quiet please")
    assert [a.data for a in actions if isinstance(a, Send)] == [b"250 2.0.0 QUIET PLEASE\r\n"]
    assert [f.name for f in dataclasses.fields(Plan)] == fields
    assert fields == ["reply", "before", "after", "shapes", "armed", "enhanced_default"]
