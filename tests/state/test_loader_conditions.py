"""The loader's checks on the counting, chance and state conditions: each problem at
file:line:col, with what is allowed."""

from __future__ import annotations

import textwrap

import pytest

from smtpfake.scenario import Rule, ScenarioError, Stage, load_text

HEAD = "summary: s\nexpect: e\nrules:\n"


def problems(rules_yaml: str) -> list[str]:
    text = HEAD + textwrap.dedent(rules_yaml)
    with pytest.raises(ScenarioError) as err:
        load_text(text, source="t.yaml")
    return [str(p) for p in err.value.problems]


def load(rules_yaml: str) -> tuple[Rule, ...]:
    return load_text(HEAD + textwrap.dedent(rules_yaml), source="t.yaml").rules


def test_all_conditions_load() -> None:
    (rule,) = load(
        """\
        - on: [rcpt, data]
          per: recipient + sender
          first: 5
          after: 1
          every: 2
          window: 60
          within: 1.5
          probability: 0.25
          state: [started, busy]
          next_state: busy
          reply: 451 4.7.1 Later
        """
    )
    assert rule.per == ("sender", "recipient")
    assert (rule.first, rule.after, rule.every) == (5, 1, 2)
    assert (rule.window, rule.within, rule.probability) == (60.0, 1.5, 0.25)
    assert rule.state == ("started", "busy")
    assert rule.next_state == "busy"
    assert rule.stages == {Stage.RCPT, Stage.DATA}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("probability: 1.5", "t.yaml:6:16: rules[1].probability: must be from 0 to 1"),
        ("probability: high", "t.yaml:6:16: rules[1].probability: expected a number from 0 to 1"),
        ("probability: true", "t.yaml:6:16: rules[1].probability: expected a number"),
        ("first: 0", "t.yaml:6:10: rules[1].first: must be at least 1"),
        ("after: 2.5", "t.yaml:6:10: rules[1].after: expected a whole number"),
        ("every: -1", "t.yaml:6:10: rules[1].every: must be at least 1"),
        ("within: 0", "t.yaml:6:11: rules[1].within: must be more than 0 seconds"),
        ("per: sender+sendr\n  first: 1", "t.yaml:6:8: rules[1].per: unknown key part 'sendr'"),
        ("per: sender+sendr\n  first: 1", "did you mean 'sender'?"),
        ("per: connection+sender\n  first: 1", "'connection' alone"),
        ("per: sender+sender\n  first: 1", "each part once"),
        ("per: [sender]\n  first: 1", "t.yaml:6:8: rules[1].per: expected a single value"),
        ("state: ''", "t.yaml:6:10: rules[1].state: a state name must not be empty"),
        ("state: []", "t.yaml:6:10: rules[1].state: expected at least one state name"),
        ("next_state: {a: 1}", "t.yaml:6:15: rules[1].next_state: expected a single value"),
    ],
)
def test_bad_values(rule: str, expected: str) -> None:
    found = problems(f"- on: rcpt\n  reply: 451\n  {rule}\n")
    assert any(expected in p for p in found), found


def test_a_required_state_no_rule_enters() -> None:
    found = problems(
        """\
        - on: mail
          next_state: busy
        - on: rcpt
          state: [started, bussy]
          reply: 451
        """
    )
    assert found == [
        "t.yaml:7:20: rules[2].state: state 'bussy' is never entered: the server starts in "
        "'started' and no rule has next_state: bussy; did you mean 'busy'?"
    ]


def test_the_state_may_be_entered_by_a_later_rule() -> None:
    load(
        """\
        - on: rcpt
          state: busy
          reply: 451
        - on: mail
          next_state: busy
        """
    )


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            "on: helo\n  per: sender\n  first: 1",
            "t.yaml:6:8: rules[1].per: there is no sender yet on helo",
        ),
        (
            "on: [mail, rcpt]\n  per: client+recipient\n  first: 1",
            "t.yaml:6:8: rules[1].per: there is no recipient yet on mail",
        ),
        (
            "on: rcpt\n  per: recipient",
            "rules[1].per: it keys the counters and the state, so add one of",
        ),
        ("on: rcpt\n  window: 60", "t.yaml:6:11: rules[1].window: it bounds what first"),
        (
            "on: rcpt\n  after: 1\n  window: 60\n  fixed_window: 60",
            "t.yaml:8:17: rules[1]: give window or fixed_window, not both",
        ),
        (
            "on: rcpt\n  first: 2\n  after: 2",
            "t.yaml:6:10: rules[1]: first: 2 with after: 2 can never hold",
        ),
    ],
)
def test_conditions_that_cannot_work_together(rule: str, expected: str) -> None:
    found = problems(f"- reply: 451\n  {rule}\n")
    assert any(expected in p for p in found), found


def test_per_on_any_is_allowed() -> None:
    load("- on: any\n  per: sender+recipient\n  first: 1\n  reply: 451\n")


def test_a_rule_that_only_moves_state_is_not_empty_but_one_with_neither_is() -> None:
    load("- on: quit\n  next_state: done\n")
    assert any("the rule does nothing" in p for p in problems("- on: quit\n  first: 1\n"))


def test_unknown_key_lists_the_new_conditions() -> None:
    (found,) = problems("- on: rcpt\n  probabilty: 0.5\n  reply: 451\n")
    assert "did you mean 'probability'?" in found
    assert "next_state" in found
