"""A big scenario (about 1.5 MB of ordinary rules) loads whole and right: every rule, its values
and its place. Its cost is measured in bench/loader_speed.py (the 5 MB row), not here."""

from __future__ import annotations

import pytest
import yaml

from smtpfake.scenario import ScenarioError, Stage, load_text

HEAD = "summary: big\nexpect: n/a\nserver:\n  hostname: big.test\nrules:\n"
HEAD_LINES = HEAD.count("\n")
# One pair of rules, 14 lines; the first rule of pair i starts at line HEAD_LINES + 1 + 14 * i.
PAIR = """\
  - name: rule {i}
    on: [mail, rcpt]
    match: "*@host-{i}.example.test"
    per: client+sender
    times: {n}
    reply: 451 4.7.1 Try again later, rule {i}
    delay: 0.{n}
  - on: end_of_data
    connection: {n}
    drip: {{bytes: 3, interval: 0.01}}
    reply:
      code: 250
      text: [queued as {i}, second line]
"""
PAIR_LINES = PAIR.count("\n")
PAIRS = 4_500  # about 1.5 MB, 9,000 rules, 160,000 values


def _text(pairs: int) -> str:
    return HEAD + "".join(PAIR.format(i=i, n=i % 7 + 1) for i in range(pairs))


def test_a_big_scenario_loads_every_rule_with_its_values_and_place() -> None:
    text = _text(PAIRS)
    assert len(text) > 1_400_000
    scenario = load_text(text, source="big.yaml")
    assert len(scenario.rules) == 2 * PAIRS
    for i in (0, 1, PAIRS // 2, PAIRS - 1):
        first, second = scenario.rules[2 * i], scenario.rules[2 * i + 1]
        line = HEAD_LINES + 1 + PAIR_LINES * i
        assert (first.index, first.name, first.match) == (
            2 * i + 1,
            f"rule {i}",
            f"*@host-{i}.example.test",
        )
        assert first.stages == frozenset({Stage.MAIL, Stage.RCPT})
        assert (first.times, first.per) == (i % 7 + 1, ("client", "sender"))
        assert second.connection == (i % 7 + 1,)
        assert first.location is not None and second.location is not None
        assert (first.location.file, first.location.line, first.location.column) == (
            "big.yaml",
            line,
            5,
        )
        assert (second.location.line, second.location.column) == (line + 7, 5)


def test_a_problem_at_the_end_of_a_big_scenario_is_at_its_line_and_column() -> None:
    pairs = PAIRS // 2
    text = _text(pairs) + "  - on: rcpt\n    reply: 451\n    nht: 2\n"
    with pytest.raises(ScenarioError) as info:
        load_text(text, source="big.yaml")
    (problem,) = info.value.problems
    assert str(problem).startswith(
        f"big.yaml:{HEAD_LINES + PAIR_LINES * pairs + 3}:5: rules[{2 * pairs + 1}]: unknown key"
    )


def test_the_c_and_python_parsers_read_the_same_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without libyaml (some platforms) the same nodes come out: values, tags, places."""
    from smtpfake.scenario import compose

    text = (
        _text(40)
        + "  - &r {on: rcpt, match: '2024-01-01', reply: !!str 451 later}\n"
        + "  - *r\n"
        + '  - {on: data, reply: "550 \\x41 ${x}"}\n'
        + "params:\n  x: {type: string, default: fine}\n"
    )
    fast = load_text(text, source="s.yaml")
    monkeypatch.setattr(compose, "_Loader", yaml.SafeLoader)
    slow = load_text(text, source="s.yaml")
    assert fast == slow
    assert [r.location for r in fast.rules] == [r.location for r in slow.rules]
    assert fast.rules[-3].match == "2024-01-01"  # a date is read as written
