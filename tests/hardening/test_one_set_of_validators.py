"""The HTTP API checks numbers and JSON with the limits module (smtpfake/scenario/limits.py),
as the scenario loader and the command line do: one set of rules, one wording."""

from __future__ import annotations

import pytest

from smtpfake.http.inputs import ApiError, duration, parse_json, whole
from smtpfake.scenario import limits


def test_loads_json_names_the_bad_number_by_its_path() -> None:
    with pytest.raises(limits.LimitError) as info:
        limits.loads_json('{"a": [1, {"b": NaN}], "c": Infinity}')
    assert str(info.value) == "'a[1].b': JSON number NaN is not allowed (numbers must be finite)"
    with pytest.raises(limits.LimitError, match=r"^'seed': JSON number of more than 40"):
        limits.loads_json('{"seed": ' + "9" * 4301 + "}")


@pytest.mark.parametrize(
    "body",
    [b'{"timeout": NaN}', b'{"n": 1e999}', b'{"n": ' + b"1" * 41 + b"}", b"[" * 33 + b"]" * 33],
)
def test_a_json_body_is_refused_in_the_limits_modules_words(body: bytes) -> None:
    with pytest.raises(limits.LimitError) as expected:
        limits.loads_json(body)
    with pytest.raises(ApiError) as got:
        parse_json(body)
    assert got.value.status == 400
    assert str(got.value) == f"the body: {expected.value}"


def test_numbers_the_limits_module_allows_are_read_as_json() -> None:
    # 20 digits: within the limits' 40 characters (the API's own cap was 19 digits)
    assert parse_json(b'{"seed": 18446744073709551615}') == {"seed": 2**64 - 1}


@pytest.mark.parametrize("text", ["\u0663", "1_000", "+5", "1e3", "", " - "])
def test_query_numbers_are_ascii_digits(text: str) -> None:
    with pytest.raises(ApiError, match=r"^'limit' must be a whole number from 0 to 10"):
        whole(text, "limit", high=10)


def test_ranges_and_types_are_the_limits_modules() -> None:
    assert whole(" 7 ", "limit", high=10) == 7
    assert whole(-3, "n", low=-5) == -3
    for bad in (True, 1.0, 11, None):
        with pytest.raises(ApiError, match=r"^'n' must be a whole number from 0 to 10, got"):
            whole(bad, "n", high=10)
    assert duration(2, "timeout", high=5) == 2.0
    for value in (float("nan"), float("inf"), -1, 6, False, None, [1], "6s", "-1", "1e0", "2 d"):
        with pytest.raises(ApiError, match=r"^'timeout' must be a duration from 0 to 5 seconds"):
            duration(value, "timeout", high=5)


@pytest.mark.parametrize(
    ("text", "seconds"), [("1", 1.0), (" 2.5 ", 2.5), ("250ms", 0.25), ("5 s", 5.0), ("1m", 60.0)]
)
def test_durations_are_read_as_scenarios_read_them(text: str, seconds: float) -> None:
    """A bare number in text is seconds, as in a scenario, ``--param`` and POST /api/clock."""
    assert limits.duration_seconds(text) == seconds
    assert duration(text, "timeout", high=60) == seconds
