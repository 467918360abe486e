"""The generated rule functions as a scenario gets them (engine/compiled.py, engine/rulecode.py)
and the compact near misses they keep (engine/nearmisses.py). What they decide is held to the
interpreter by test_rulecode_differential.py; this is about their shape."""

from __future__ import annotations

import json

from smtpfake.engine.compiled import compiled
from smtpfake.engine.matching import Occurrence, compile_rules, select_steps
from smtpfake.engine.nearmisses import NearMisses
from smtpfake.engine.records import Outcome
from smtpfake.engine.rulecode import _code, build
from smtpfake.engine.shared import Shared
from smtpfake.scenario import load_mapping
from smtpfake.scenario.model import Stage
from smtpfake.serialize import outcome_to_json

from ..support.engine import Engine
from .test_rulecode_differential import Ctx

RULES = {
    "rules": [
        {"name": "busy", "on": "rcpt", "match": "*@busy.test", "reply": "450 4.2.1 busy"},
        {"name": "gone", "on": ["mail", "rcpt"], "match": "*@gone.test", "reply": 550},
        {"name": "slow", "on": "any", "per": "client", "after": 100, "delay": 0},
        {"name": "flaky", "on": "any", "probability": 0.001, "size": {"min": 10}, "reply": 451},
    ]
}


def test_stages_with_the_same_rules_share_one_function_and_others_have_none() -> None:
    made = compiled(load_mapping(RULES))
    assert made.selectors[Stage.RCPT].rules == tuple(load_mapping(RULES).rules)
    assert [r.label for r in made.selectors[Stage.MAIL].rules] == ["gone", "slow", "flaky"]
    # the stages only the ``any`` rules are on: one function between them
    assert made.selectors[Stage.EHLO] is made.selectors[Stage.QUIT] is made.selectors[Stage.DATA]
    assert made.select[Stage.EHLO] is made.selectors[Stage.EHLO].select
    none = compiled(load_mapping({"rules": [{"on": "rcpt", "reply": 450}]}))
    assert none.select[Stage.MAIL] is None and Stage.MAIL not in none.selectors


def test_the_source_can_be_read_and_names_each_rule_it_checks() -> None:
    source = compiled(load_mapping(RULES)).selectors[Stage.RCPT].source
    assert source.startswith("def make(") and "    def select(occ, shared, ctx):" in source
    for label in ("busy", "gone", "slow", "flaky"):
        assert f"# '{label}'" in source
    assert "n <= 100" in source and "d < 0.001" in source  # values as literals
    assert "SIZE3.holds(size)" in source  # and as cells when they have no literal
    compile(source, "<printed>", "exec")  # what is printed is what runs


def test_the_same_rules_are_compiled_once() -> None:
    build(load_mapping(RULES).rules_by_stage[Stage.RCPT])
    hits = _code.cache_info().hits
    build(load_mapping(RULES).rules_by_stage[Stage.RCPT])  # another load of the same scenario
    assert _code.cache_info().hits == hits + 1


def test_near_misses_read_as_the_flat_tuple_they_stand_for() -> None:
    rules = load_mapping(RULES).rules_by_stage[Stage.RCPT]
    occ = Occurrence(Stage.RCPT, "a@free.test", 1, 1, peer="192.0.2.1:25", size=50)
    got = build(rules).select(occ, Shared(), Ctx())
    was = select_steps(compile_rules(rules), occ, Shared(), Ctx())
    misses = got[1]
    assert isinstance(misses, NearMisses) and got[0] is was[0] is None
    flat = was[1]
    assert len(misses) == len(flat) == 16 and list(misses) == list(flat)
    assert misses[0] is rules[0] and misses[1:4] == ("match", "*@busy.test", "a@free.test")
    assert misses[-4:] == flat[-4:] and misses[-1] == flat[-1]
    assert misses == flat and flat != misses[:-1] and hash(misses) == hash(flat)
    assert repr(misses) == repr(flat)
    outcome, reference = (Outcome(1.0, "rcpt", occ.argument, None, m) for m in (misses, flat))
    assert outcome == reference and str(outcome) == str(reference)
    assert json.dumps(outcome_to_json(outcome)) == json.dumps(outcome_to_json(reference))
    assert outcome.misses[:3] == (
        "busy: match: wanted *@busy.test, was a@free.test",
        "gone: match: wanted *@gone.test, was a@free.test",
        "slow: after: wanted more than 100, was 1",
    )
    assert outcome.misses[3].startswith("flaky: probability: wanted a draw below 0.001, was 0.")


def test_a_session_keeps_the_compact_form_and_the_journal_words_it() -> None:
    fake = Engine(load_mapping(RULES))
    c = fake.connect()
    assert c.cmd("EHLO client.test") == 250
    assert c.cmd("MAIL FROM:<a@x.test>") == 250
    assert c.cmd("RCPT TO:<b@busy.test>") == 450
    record = fake.journal.sessions()[0]
    rcpt = record.outcomes[-1]
    assert isinstance(rcpt.why, NearMisses) and rcpt.fired == "busy" and len(rcpt.why) == 0
    mail = record.outcomes[-2]
    assert [m.split(":")[0] for m in mail.misses] == ["gone", "slow", "flaky"]
    assert "MAIL a@x.test: gone: match: wanted *@gone.test, was a@x.test" in record.near_misses
