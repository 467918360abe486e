"""The number and JSON validators any face uses (smtpfake/scenario/limits.py), and the numbers
``serve`` reads from flags and the environment: finite, in range, never a traceback."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from smtpfake.scenario import ScenarioError, limits, load_mapping

DIGITS_4301 = "9" * 4301


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "1e999", "Infinity"])
def test_text_that_is_not_a_finite_number_is_refused(text: str) -> None:
    with pytest.raises(limits.LimitError, match=r"^timeout: "):
        limits.number_from_text(text, "timeout", minimum=0, maximum=limits.MAX_SECONDS)


def test_a_4301_digit_integer_is_refused_before_int_sees_it() -> None:
    with pytest.raises(limits.LimitError, match="at most 40 characters"):
        limits.number_from_text(
            DIGITS_4301, "seed", minimum=0, maximum=limits.MAX_SEED, integer=True
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-1", "seed: must be at least 0, got '-1'"),
        ("18446744073709551616", "seed: must be at most 18446744073709551615"),
        ("1.5", "seed: expected a whole number, got '1.5'"),
        ("x", "seed: expected a whole number, got 'x'"),
    ],
)
def test_out_of_range_text_names_the_setting(text: str, message: str) -> None:
    with pytest.raises(limits.LimitError) as info:
        limits.number_from_text(text, "seed", minimum=0, maximum=limits.MAX_SEED, integer=True)
    assert str(info.value).startswith(message)


def test_numbers_in_range_pass() -> None:
    assert limits.number_from_text(" 2.5 ", "t", minimum=0, maximum=10) == 2.5
    assert limits.check_number(7, "n", minimum=1, maximum=7, integer=True) == 7
    with pytest.raises(limits.LimitError):
        limits.check_number(True, "n", minimum=0, maximum=1)  # a bool is not a number
    with pytest.raises(limits.LimitError, match="more than 0"):
        limits.check_number(0, "t", minimum=0, maximum=1, exclusive_minimum=True)


def test_deep_json_is_refused_without_recursion() -> None:
    """A body of 100,000 '[' made json.loads raise RecursionError (a 500)."""
    with pytest.raises(limits.LimitError, match="nested deeper than 32"):
        limits.loads_json("[" * 100_000)
    assert limits.loads_json('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') == {"a": "[" * 38}
    assert limits.json_depth_ok(b"[" * 32 + b"]" * 32)
    assert not limits.json_depth_ok(b"[" * 33)


@pytest.mark.parametrize("body", ['{"timeout": NaN}', '{"timeout": Infinity}', "[-Infinity]"])
def test_json_nan_and_infinity_are_refused(body: str) -> None:
    with pytest.raises(limits.LimitError, match="finite"):
        limits.loads_json(body)


def test_json_huge_numbers_are_refused() -> None:
    with pytest.raises(limits.LimitError, match="more than 40 characters"):
        limits.loads_json('{"seed": ' + DIGITS_4301 + "}")
    with pytest.raises(limits.LimitError, match="out of range"):
        limits.loads_json("[1e999]")


def test_json_that_is_not_utf8_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        limits.loads_json(b'{"a": "\xff"}')


def test_a_python_dict_scenario_too_deep_or_containing_itself_is_a_scenario_error() -> None:
    deep: list[object] = []
    inner = deep
    for _ in range(1_000):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    with pytest.raises(ScenarioError, match="nested more than 32 levels"):
        load_mapping({"description": deep})
    looped: dict[str, object] = {}
    looped["server"] = looped
    with pytest.raises(ScenarioError, match="contains itself"):
        load_mapping(looped)
    with pytest.raises(ScenarioError, match="must be a finite number"):
        load_mapping({"rules": [{"on": "rcpt", "delay": math.nan}]})


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--seed", "-1"], {}, "--seed/SMTPFAKE_SEED: must be at least 0, got -1"),
        ([], {"SMTPFAKE_SEED": DIGITS_4301}, "SMTPFAKE_SEED='9999"),
        (
            [],
            {"SMTPFAKE_JOURNAL_MESSAGES": "nan"},
            "SMTPFAKE_JOURNAL_MESSAGES='nan' (the environment's --journal-messages): expected a",
        ),
        (["--journal-sessions", "0"], {}, "--journal-sessions/SMTPFAKE_JOURNAL_SESSIONS: must be"),
        (["--seed", DIGITS_4301], {}, "argument --seed: invalid int value"),
    ],
)
def test_serve_refuses_bad_numbers_as_a_usage_error(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "smtpfake", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    if env:  # argparse echoes what was typed; a variable's value is cut to 40 characters
        assert len(result.stderr) < 200
