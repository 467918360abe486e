"""Durations: wherever a scenario gives seconds (fault parameters, window/within, the server's
timers) it may write a number with its unit, as parameters and POST /api/clock take them."""

from __future__ import annotations

import pytest

from smtpfake.scenario import ScenarioError, load_text

HEAD = "summary: s\nexpect: e\n"


def test_units_read_as_seconds() -> None:
    sc = load_text(
        HEAD
        + "server: {idle_timeout: 5m, close_after: 90s, retry_after: 1h}\n"
        + "rules:\n"
        + "  - {on: mail, delay: 250ms}\n"
        + "  - {on: rcpt, hang: 1.5h}\n"
        + "  - {on: data, drip: {bytes: 1, interval: 2m}}\n"
        + "  - {on: noop, delay: {min: 100ms, max: 2s}}\n"
        + "  - {on: helo, per: client, within: 5m, first: 1, window: 30s, reply: 451 4.7.1 x}\n",
        source="durations.yaml",
    )
    assert (sc.server.idle_timeout, sc.server.close_after, sc.server.retry_after) == (
        300.0,
        90.0,
        3600.0,
    )
    delay, hang, drip, uniform, counted = sc.rules
    assert delay.faults[0].seconds == 0.25  # type: ignore[attr-defined]
    assert hang.faults[0].seconds == 5400.0  # type: ignore[attr-defined]
    assert drip.faults[0].interval == 120.0  # type: ignore[attr-defined]
    assert (uniform.faults[0].min, uniform.faults[0].max) == (0.1, 2.0)  # type: ignore[attr-defined]
    assert (counted.within, counted.window) == (300.0, 30.0)


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "rules:\n  - {on: mail, delay: 5x}\n",
            "4:23",
            "rules[1].delay: expected a number of seconds or a duration "
            "(250ms, 30s, 5m, 1h) or null, got str '5x'",
        ),
        (
            "rules:\n  - {on: mail, delay: {median: 1, sigma: 2s}}\n",
            "4:42",
            "rules[1].delay.sigma: expected a number, got str '2s'",
        ),
        (
            "server: {idle_timeout: 2d}\n",
            "3:24",
            "server.idle_timeout: expected a number of seconds or a duration "
            "(250ms, 30s, 5m, 1h), got str '2d'",
        ),
    ],
)
def test_a_bad_duration_says_what_is_accepted(text: str, where: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_text(HEAD + text, source="d.yaml")
    assert f"d.yaml:{where}: {message}" in str(caught.value).splitlines()


def test_a_duration_over_a_day_is_out_of_range() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_text(HEAD + "rules:\n  - {on: mail, first: 1, window: 25h, reply: 451 x}\n")
    assert "window" in str(caught.value) and "86400" in str(caught.value).replace(",", "")
