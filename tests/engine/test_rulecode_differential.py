"""The generated rule functions (engine/rulecode.py) against the interpreter they replace
(matching.select_steps): random rule sets using every condition, random traffic, and after every
occurrence the same rule chosen, the same near misses (values, types, order, wording), the same
counters (in the same order), firing counts, states and RNG state."""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpfake.engine import compiled as compiled_module
from smtpfake.engine import rulecode
from smtpfake.engine.matching import Occurrence, compile_rules, select_steps
from smtpfake.engine.records import Outcome
from smtpfake.engine.shared import Shared
from smtpfake.scenario import load_mapping
from smtpfake.scenario.model import BODY_TYPES, GREETINGS, Rule, SizeBounds, Stage
from smtpfake.serialize import session_to_json

from ..support.engine import Engine

STAGES = (Stage.CONNECT, Stage.EHLO, Stage.MAIL, Stage.RCPT, Stage.DATA)
# upper case and classes: the glob and the argument are both compared lower-cased
GLOBS = ("*@a.test", "*@A.TEST", "b*", "*", "[ab]@*", "?@a.test", "x@a.test", "")
ARGUMENTS = ("a@a.test", "B@b.test", "x@A.test", "", "b", "bob@a.test")
PEERS = ("10.0.0.1:1000", "10.0.0.2:2000", "[::1]:25", "10.0.0.1:1001", "10.0.0.3")
PERS = (
    ("connection",),
    ("client",),
    ("sender",),
    ("recipient",),
    ("client", "sender"),
    ("client", "sender", "recipient"),
)
STATES = ("started", "s1", "s2")
# steps of the clock: 0 keeps times equal, the rest land on window and within edges
STEPS = (0.0, 0.5, 1.0, 2.5)


def small_tuple(values: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(values, min_size=1, max_size=3, unique=True).map(tuple)


SECONDS = st.sampled_from((0.5, 1.0, 2.5))
SIZES = st.sampled_from(
    (SizeBounds(declared=False), SizeBounds(True, 10, None), SizeBounds(True, None, 100))
)


#: each Rule field a condition sets, and the values it may take (strategies made once, not per draw)
CONDITIONS: dict[str, st.SearchStrategy[Any]] = {
    "match": st.sampled_from(GLOBS),
    "nth": small_tuple(st.integers(1, 4)),
    "connection": small_tuple(st.integers(1, 3)),
    "times": st.integers(1, 3),
    "per": st.sampled_from(PERS),
    "first": st.integers(1, 4),
    "after": st.integers(1, 3),
    "every": st.integers(1, 3),
    "window": SECONDS,
    "fixed_window": SECONDS,
    "within": st.sampled_from((0.5, 1.0, 3.0)),
    "probability": st.sampled_from((0.0, 0.3, 0.7, 1.0)),
    "state": small_tuple(st.sampled_from(STATES)),
    "next_state": st.sampled_from(STATES),
    "greeted": small_tuple(st.sampled_from(GREETINGS)),
    "tls": st.booleans(),
    "authenticated": st.sampled_from((True, False, "b*", "Uma")),
    "message": small_tuple(st.integers(0, 2)),
    "size": SIZES,
    "body": small_tuple(st.sampled_from(BODY_TYPES)),
}
RULE_STAGES = small_tuple(st.sampled_from((*STAGES, Stage.ANY))).map(frozenset)
NAMED = st.booleans()
#: which conditions a rule sets: a few, so that rules often pass their filters and the counters,
#: the draws and the firing are exercised, not only the first filter's near miss
SET = st.lists(st.sampled_from(sorted(CONDITIONS)), max_size=5, unique=True)


@st.composite
def rules(draw: st.DrawFn) -> tuple[Rule, ...]:
    return tuple(
        Rule(
            index=index,
            stages=draw(RULE_STAGES),
            faults=(),
            name=f"r{index}" if draw(NAMED) else None,
            **{name: draw(CONDITIONS[name]) for name in draw(SET)},
        )
        for index in range(1, draw(st.integers(1, 8)) + 1)
    )


#: an occurrence's fields and what they may be; the time is set as the traffic goes
OCCURRENCE = st.builds(
    Occurrence,
    stage=st.sampled_from(STAGES),
    argument=st.sampled_from(ARGUMENTS),
    nth=st.integers(1, 4),
    connection=st.integers(1, 3),
    peer=st.sampled_from(PEERS),
    sender=st.sampled_from(("", "a@a.test", "B@b.test")),
    recipients=st.lists(st.sampled_from(ARGUMENTS[:3]), max_size=2).map(tuple),
    greeted=st.sampled_from(GREETINGS),
    tls=st.booleans(),
    auth_user=st.sampled_from((None, "bob", "UMA", "")),
    message=st.integers(0, 2),
    size=st.sampled_from((None, 5, 50, 500)),
    body=st.sampled_from((None, "8BITMIME", "7BIT")),
)


#: what happens next: an occurrence after some time, a connection ending, or a reset
EVENTS = st.one_of(
    st.tuples(st.just("occur"), st.sampled_from(STEPS), OCCURRENCE),
    st.tuples(st.just("end"), st.integers(1, 3)),
    st.tuples(st.just("reset")),
)


@dataclass
class Ctx:
    """A FaultContext: one seeded RNG, made on first use as a session's is."""

    made: random.Random | None = None
    asked: int = 0

    @property
    def rng(self) -> random.Random:
        self.asked += 1
        if self.made is None:
            self.made = random.Random("7:1")
        return self.made

    def now(self) -> float:
        return 0.0


@dataclass
class Side:
    """One way of choosing (the interpreter or the generated code) and all it keeps."""

    choose: dict[Stage, Any]
    shared: Shared = field(default_factory=Shared)
    ctx: Ctx = field(default_factory=Ctx)

    def kept(self) -> tuple[Any, ...]:
        shared, rng = self.shared, self.ctx.made
        return (
            list(shared.counters.items()),
            sorted(shared.fired.items()),
            shared.state,
            list(shared.states.items()),
            None if rng is None else rng.getstate(),
        )


def by_stage(ruleset: tuple[Rule, ...]) -> dict[Stage, tuple[Rule, ...]]:
    return {
        stage: tuple(r for r in ruleset if stage in r.stages or Stage.ANY in r.stages)
        for stage in STAGES
    }


def reference(ruleset: tuple[Rule, ...]) -> dict[Stage, Any]:
    steps = {stage: compile_rules(on) for stage, on in by_stage(ruleset).items()}
    return {
        stage: lambda o, s, c, steps=steps[stage]: select_steps(steps, o, s, c) for stage in steps
    }


def generated(ruleset: tuple[Rule, ...]) -> dict[Stage, Any]:
    return {stage: rulecode.build(on).select for stage, on in by_stage(ruleset).items()}


def same_choices(ruleset: tuple[Rule, ...], events: list[tuple[Any, ...]]) -> None:
    old, new = Side(reference(ruleset)), Side(generated(ruleset))
    per_connection = tuple(r.index for r in ruleset if r.per == ("connection",))
    now = 0.0
    for event in events:
        if event[0] == "reset":
            old.shared, new.shared = Shared(), Shared()
            continue
        if event[0] == "end":
            for side in (old, new):
                side.shared.connection_ended(event[1], per_connection)
            continue
        now += event[1]
        occ = dataclasses.replace(event[2], time=now)
        was = old.choose[occ.stage](occ, old.shared, old.ctx)
        got = new.choose[occ.stage](occ, new.shared, new.ctx)
        assert got[0] is was[0], occ
        read = tuple(got[1])  # as every reader sees them: Outcome.misses, JSON, show
        assert repr(read) == repr(was[1]), occ  # values and their types, in order
        assert got[1] == was[1] and hash(got[1]) == hash(was[1])
        assert Outcome(0, "", "", None, got[1]).misses == Outcome(0, "", "", None, was[1]).misses
        assert new.kept() == old.kept(), occ
        assert (new.ctx.made is None) == (old.ctx.made is None)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules(), st.lists(EVENTS, min_size=1, max_size=30))
def test_generated_code_chooses_as_the_interpreter_does(
    ruleset: tuple[Rule, ...], events: list[tuple[Any, ...]]
) -> None:
    same_choices(ruleset, events)


#: every condition alone, each value it is drawn with, for the edge traffic below
ALONE = [
    {name: value}
    for name, values in {
        "within": (0.5, 1.0),
        "window": (0.5, 1.0),
        "fixed_window": (0.5, 1.0),
        "first": (1, 2),
        "after": (1, 2),
        "every": (2,),
        "times": (1, 2),
        "probability": (0.3, 0.7),
        "next_state": ("s1",),
        "match": ("*@a.test", "B*"),
    }.items()
    for value in values
]
#: each stage, arguments in both cases, times that land on the window and ``within`` edges
EDGE = Occurrence(Stage.CONNECT, "", 1, 1, peer=PEERS[0], sender="S@x.test", recipients=("R@y.t",))
EDGE_TRAFFIC = [
    ("occur", step, dataclasses.replace(EDGE, stage=stage, argument=argument))
    for step in (0.0, 0.5, 0.5, 0.5, 0.5, 1.0, 1.0)
    for stage in STAGES
    for argument in ("B@b.test", "a@A.test")
]


@pytest.mark.parametrize("per", [None, *PERS])
@pytest.mark.parametrize("condition", ALONE, ids=lambda c: "-".join(map(str, c.items())))
def test_each_condition_alone_on_edge_traffic(
    condition: dict[str, Any], per: tuple[str, ...]
) -> None:
    """Times that land on the window and ``within`` edges, arguments in both cases, each ``per``:
    what a random search may take long to hit."""
    ruleset = (
        Rule(index=1, stages=frozenset({Stage.ANY}), faults=(), per=per, **condition),
        Rule(index=2, stages=frozenset({Stage.ANY}), faults=(), per=per, state=("s1",), first=2),
        Rule(index=3, stages=frozenset({Stage.ANY}), faults=(), per=per, after=1, times=1),
    )
    same_choices(ruleset, EDGE_TRAFFIC)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(GLOBS[:-1]), min_size=2, max_size=6),
    st.lists(st.tuples(st.just("occur"), st.just(0.0), OCCURRENCE), min_size=1, max_size=12),
)
def test_runs_of_match_rules_judged_together_agree(
    globs: list[str], events: list[tuple[Any, ...]]
) -> None:
    """Rules that only ``match``, in a row, are judged with one lookup (rulecode._runs)."""
    ruleset = tuple(
        Rule(index=i, stages=frozenset({Stage.ANY}), faults=(), match=glob, first=i % 2 or None)
        for i, glob in enumerate(globs, 1)
    )
    assert rulecode._runs(ruleset)
    same_choices(ruleset, events)


def test_the_match_memo_judges_alike_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rulecode, "MATCH_MEMO", 2)  # full after two arguments: cleared often
    ruleset = tuple(
        Rule(index=i, stages=frozenset({Stage.RCPT}), faults=(), match=glob)
        for i, glob in enumerate(("*@a.test", "b*", "*@b.test"), 1)
    )
    occurrences = [
        ("occur", 0.0, Occurrence(Stage.RCPT, argument, 1, 1, peer=PEERS[0]))
        for argument in (*ARGUMENTS, *ARGUMENTS[::-1], *ARGUMENTS)
    ]
    same_choices(ruleset, occurrences)


# -- whole sessions: every reader of the record sees the same ------------------------------------

BUSY = {
    "seed": 5,
    "rules": [
        *({"on": ["mail", "rcpt"], "match": f"*@nowhere-{i}.test", "reply": 550} for i in range(4)),
        {"on": "rcpt", "per": "client+sender+recipient", "within": 2, "reply": 451},
        {"on": "any", "per": "client", "after": 3, "every": 2, "times": 2, "reply": 421},
        {"on": "any", "probability": 0.2, "delay": 0},
        {"on": "mail", "window": 1, "first": 2, "next_state": "busy", "reply": 452},
        {"on": "rcpt", "state": ["started"], "match": "b*", "probability": 0.5, "reply": 450},
        {"on": "ehlo", "match": "*.test", "nth": [1], "fixed_window": 2, "after": 1, "reply": 554},
    ],
}


def record_of(monkeypatch: pytest.MonkeyPatch, interpreted: bool) -> list[Any]:
    """The journal (as JSON and as a failure report words it) of one run of varied traffic."""
    if interpreted:
        real = compiled_module.build

        def build(rules: tuple[Rule, ...]) -> rulecode.Selector:
            made = real(rules)
            steps = compile_rules(rules)
            return rulecode.Selector(
                lambda o, s, c: select_steps(steps, o, s, c), made.source, made.rules
            )

        monkeypatch.setattr(compiled_module, "build", build)
    engine = Engine(load_mapping(BUSY))
    for n in range(12):
        c = engine.connect(peer=f"10.0.0.{n % 3}:{1000 + n}")
        c.cmd("EHLO client.test")
        c.cmd(f"MAIL FROM:<s{n % 2}@x.test>")
        for rcpt in ("a@y.test", "b@y.test", "b@nowhere-2.test"):
            c.cmd(f"RCPT TO:<{rcpt}>")
        c.cmd("QUIT")
        engine.advance(0.5)
    sessions = engine.journal.sessions()
    return [json.dumps(session_to_json(s)) for s in sessions] + [s.format() for s in sessions]


def test_whole_sessions_record_the_same_as_with_the_interpreter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generated_record = record_of(monkeypatch, interpreted=False)
    interpreted_record = record_of(monkeypatch, interpreted=True)
    assert generated_record == interpreted_record
    text = "\n".join(generated_record)
    # the traffic met every kind of outcome: fired, and missed for each kind of condition
    for kind in ("fired", "match: wanted", "within", "after:", "every:", "probability:", "state:"):
        assert kind in text, kind
