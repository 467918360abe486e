"""Scenario parameters (``params:`` and ``${name}``): declared, referred to, set by name, and
every bad value reported at file:line:col like any other scenario problem."""

from __future__ import annotations

import smtplib
from typing import Any

import pytest

from smtpfake.engine import FakeClock
from smtpfake.scenario import ScenarioError, load_text, resolve
from smtpfake.scenario.errors import ParamsError
from smtpfake.scenario.loader import with_params
from smtpfake.scenario.params import convert, parse_assignment
from smtpfake.server import Server

from ..support.engine import Engine

DOC = """\
summary: waits ${delay} seconds
expect: e
params:
  delay: {type: duration, default: 300, min: 1, max: 86400, doc: the wait}
  count: {type: int, default: 3, min: 1}
  strict: {type: bool, default: false}
  word: {type: string, default: busy}
rules:
  - on: rcpt
    within: ${delay}
    reply: 451 4.7.1 ${word}, try again in ${delay} seconds ($${not_a_param})
  - on: mail
    after: ${count}
    reply: 421 4.7.0 too many
server:
  require_helo: ${strict}
"""


def problems(text: str, **params: Any) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_text(text, source="t.yaml", params=params)
    return [str(p) for p in info.value.problems]


def test_defaults_are_in_force_and_typed() -> None:
    sc = load_text(DOC, source="t.yaml")
    assert [p.name for p in sc.params] == ["delay", "count", "strict", "word"]
    assert sc.rules[0].within == 300.0
    assert sc.rules[1].after == 3
    assert sc.server.require_helo is False
    assert sc.summary == "waits 300 seconds"
    (reply,) = sc.rules[0].faults
    assert reply.as_reply().text() == (  # type: ignore[attr-defined]
        "451 4.7.1 busy, try again in 300 seconds (${not_a_param})"
    )
    delay = sc.param("delay")
    assert delay is not None and delay.doc == "the wait" and not delay.is_set
    assert (delay.minimum, delay.maximum, delay.location and delay.location.line) == (1, 86400, 4)


def test_set_by_name_as_values_or_as_text() -> None:
    sc = load_text(DOC, params={"delay": "5m", "count": "7", "strict": "yes", "word": "full"})
    assert sc.rules[0].within == 300.0  # 5m
    assert sc.rules[1].after == 7
    assert sc.server.require_helo is True
    assert sc.param("count").is_set  # type: ignore[union-attr]
    sc = load_text(DOC, params={"delay": 2.5, "count": 1, "strict": True})
    assert (sc.rules[0].within, sc.rules[1].after, sc.summary) == (2.5, 1, "waits 2.5 seconds")


def test_with_params_reads_the_document_again() -> None:
    sc = resolve("greylisting")
    short = with_params(sc, {"delay": 5})
    assert short.rules[0].within == 5.0 and sc.rules[0].within == 300.0
    assert with_params(sc, {}) is sc
    assert resolve(sc, params={"delay": "1s"}).rules[0].within == 1.0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"delay": "soon"},
            "t.yaml:4:3: parameter 'delay' set to 'soon': expected a duration (seconds, or with "
            "a unit: 250ms, 30s, 5m, 1h), got str 'soon'",
        ),
        ({"delay": 0.5}, "t.yaml:4:3: parameter 'delay' set to 0.5: must be at least 1, got 0.5"),
        # a negative duration is out of range, not "no duration" (a sign is read, with a unit too)
        ({"delay": "-5"}, "t.yaml:4:3: parameter 'delay' set to '-5': must be at least 1, got -5"),
        (
            {"delay": "-2m"},
            "t.yaml:4:3: parameter 'delay' set to '-2m': must be at least 1, got -120",
        ),
        ({"delay": -5}, "t.yaml:4:3: parameter 'delay' set to -5: must be at least 1, got -5"),
        ({"delay": "-"}, "t.yaml:4:3: parameter 'delay' set to '-': expected a duration"),
        ({"count": 2.5}, "t.yaml:5:3: parameter 'count' set to 2.5: expected a whole number"),
        ({"strict": "maybe"}, "t.yaml:6:3: parameter 'strict' set to 'maybe': expected true or"),
        ({"word": 5}, "t.yaml:7:3: parameter 'word' set to 5: expected a string, got int 5"),
        (
            {"dleay": 5},
            "t.yaml:4:3: params: this scenario has no parameter named 'dleay'; did you mean "
            "'delay'? (declared: delay, count, strict, word)",
        ),
    ],
)
def test_a_bad_value_is_reported_at_the_declaration(params: dict[str, Any], expected: str) -> None:
    (found,) = problems(DOC, **params)
    assert found.startswith(expected)


def test_setting_a_parameter_of_a_scenario_without_any() -> None:
    (found,) = problems("summary: s\nexpect: e\n", delay=5)
    # the file as a whole: it has no params: to point at (it read t.yaml:1:1:)
    assert found == "t.yaml: params: this scenario declares no parameters named 'delay' " + (
        "(declared: none)"
    )


def test_values_the_scenario_does_not_take_are_a_params_error_for_the_setting() -> None:
    """Nothing wrong in the file: a ParamsError (a ScenarioError, so every face still catches
    it) that also words each problem as the setting's own, ``NAME=VALUE: why``."""
    with pytest.raises(ParamsError) as caught:
        load_text(DOC, source="t.yaml", params={"dleay": 5, "count": "0"})
    assert caught.value.settings == (
        "dleay=5: this scenario has no parameter named 'dleay'; did you mean 'delay'? "
        "(declared: delay, count, strict, word)",
        "count=0: must be at least 1, got 0",
    )
    assert len(caught.value.problems) == 2  # at file:line:col too, for faces that show those
    broken = DOC.replace("on: rcpt", "on: rcp")
    with pytest.raises(ScenarioError) as mixed:  # a problem of the file's own: not only params
        load_text(broken, source="t.yaml", params={"dleay": 5})
    assert not isinstance(mixed.value, ParamsError)


def test_a_value_a_reader_refuses_names_the_parameter() -> None:
    text = DOC.replace("count: {type: int, default: 3, min: 1}", "count: {type: int, default: 3}")
    assert problems(text, count=0) == [
        "t.yaml:13:12: rules[2].after: must be at least 1, got 0 (from parameter count = 0)"
    ]


@pytest.mark.parametrize(
    ("declaration", "expected"),
    [
        ("{type: duration}", "t.yaml:4:6: params.p: missing 'default'"),
        ("{type: seconds, default: 1}", "t.yaml:4:13: params.p.type: unknown type 'seconds'"),
        ("{type: int, default: x}", "t.yaml:4:27: params.p.default: expected a whole number"),
        ("{type: int, default: 0, min: 1}", "t.yaml:4:27: params.p.default: must be at least 1"),
        ("{type: int, default: 5, max: 3}", "t.yaml:4:27: params.p.default: must be at most 3"),
        ("{type: string, default: a, min: 1}", "t.yaml:4:38: params.p.min: only an int, number"),
        ("{type: int, default: 2, min: 3, max: 1}", "t.yaml:4:43: params.p.max: must not be less"),
        ("{type: int, default: 1, unit: s}", "t.yaml:4:30: params.p: unknown key 'unit'"),
        ("5", "t.yaml:4:6: params.p: expected a mapping"),
    ],
)
def test_bad_declarations(declaration: str, expected: str) -> None:
    text = f"summary: s\nexpect: e\nparams:\n  p: {declaration}\nrules:\n"
    text += "  - {on: mail, after: '${p}', reply: 421 4.7.0 x}\n"
    (found,) = problems(text)  # one problem: the references to it say nothing more
    assert found.startswith(expected)


def test_unknown_and_unused_parameters_and_bad_names() -> None:
    text = (
        "summary: s\nexpect: e\nparams:\n  delay: {type: int, default: 1}\n"
        "  spare: {type: int, default: 1}\n  2bad: {type: int, default: 1}\n"
        "rules:\n  - {on: mail, after: '${dealy}', reply: '421 4.7.0 in ${delay} s'}\n"
    )
    assert problems(text) == [
        "t.yaml:5:3: params.spare: declared but never used (write ${spare} where its value goes)",
        "t.yaml:6:3: params: '2bad' is not a parameter name (letters, digits and _, not starting "
        "with a digit)",
        "t.yaml:8:23: unknown parameter 'dealy' in '${dealy}'; did you mean 'delay'? (declared "
        "in params: delay, spare; write $${ for a literal ${)",
    ]


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("duration", "250ms", 0.25),
        ("duration", "1h", 3600.0),
        ("duration", " 30 s ", 30.0),
        ("duration", 2, 2.0),
        ("duration", "-1s", -1.0),  # read with its sign: out_of_range() refuses it by name
        ("number", "1e3", 1000.0),
        ("number", "-2", -2),
        ("int", "+4", 4),
        ("bool", "off", False),
        ("bool", "TRUE", True),
        ("string", "x y", "x y"),
    ],
)
def test_convert(kind: str, text: Any, value: Any) -> None:
    assert convert(kind, text) == value


@pytest.mark.parametrize(("kind", "text"), [("int", True), ("duration", "1 ss"), ("bool", 1)])
def test_convert_refuses(kind: str, text: Any) -> None:
    with pytest.raises(ValueError):
        convert(kind, text)


def test_parse_assignment() -> None:
    assert parse_assignment("delay=5m") == ("delay", "5m")
    assert parse_assignment("word=a=b") == ("word", "a=b")
    for bad in ("delay", "=5", "two words=1"):
        with pytest.raises(ValueError):
            parse_assignment(bad)


# -- the built-ins take parameters ----------------------------------------------------------------


def test_builtin_parameters() -> None:
    assert resolve("greylisting", params={"delay": 5}).rules[0].within == 5.0
    slow = resolve("slow-greeting", params={"delay": "0"})
    assert slow.rules[0].faults[0].seconds == 0.0  # type: ignore[attr-defined]
    rate = resolve("rate-limit", params={"count": 2, "window": "1m", "per_connection": 1})
    assert [(r.after, r.window) for r in rate.rules] == [(1, None), (2, 60.0)]


def test_greylisting_with_a_short_delay_in_the_engine() -> None:
    fake = Engine(resolve("greylisting", params={"delay": 5}))
    conn = fake.connect()
    conn.ehlo()
    assert conn.mail() == 250
    reply = conn.reply("RCPT TO:<b@y.test>")
    assert reply == b"451 4.7.1 Greylisted, please try again in 5s\r\n"
    fake.advance(5)
    assert conn.rcpt() == 250


def test_use_with_params_on_the_wire() -> None:
    clock = FakeClock()
    with Server("default", clock=clock) as server:
        server.use("greylisting", params={"delay": 5})
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo()
            client.mail("a@x.test")
            code, text = client.rcpt("b@y.test")
            assert (code, text) == (451, b"4.7.1 Greylisted, please try again in 5s")
            clock.advance(5)
            client.rset()
            client.mail("a@x.test")
            assert client.rcpt("b@y.test")[0] == 250
        # told as this call's argument (as Control.use tells it), not at greylisting.yaml's
        # declaration of the parameter
        with pytest.raises(ScenarioError) as info:
            server.use("greylisting", params={"delay": -1})
        assert str(info.value) == (
            "use('greylisting', params={'delay': -1}): delay=-1: must be at least 0.001, got -1"
        )
        assert server.scenario.param("delay").value == 5.0  # type: ignore[union-attr]


def test_a_dict_scenario_takes_params_and_files_are_cached_per_value() -> None:
    inline = {
        "params": {"code": {"type": "int", "default": 451, "min": 400, "max": 599}},
        "rules": [{"on": "rcpt", "reply": "${code} try later"}],
    }
    sc = resolve(inline, params={"code": "452"})
    assert sc.rules[0].faults[0].code == 452  # type: ignore[attr-defined]
    assert resolve(inline).rules[0].faults[0].code == 451  # type: ignore[attr-defined]
    five, again = (
        resolve("greylisting", params={"delay": 5}),
        resolve("greylisting", params={"delay": 5}),
    )
    assert five is again  # the same file and values: parsed once
    assert resolve("greylisting", params={"delay": 6}).rules[0].within == 6.0


def test_a_duration_without_min_is_at_least_zero() -> None:
    doc = DOC.replace("min: 1, max: 86400, ", "")
    (found,) = problems(doc, delay="-1s")
    assert found.startswith(
        "t.yaml:4:3: parameter 'delay' set to '-1s': must be at least 0, got -1"
    )
    assert load_text(doc, params={"delay": "+3"}).rules[0].within == 3.0
