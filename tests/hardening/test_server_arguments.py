"""``Server(idle_timeout=, grace_period=, stop_grace_period=)`` are checked when the server is
made: a NaN timer never fires, a negative or zero one fires at once, and a huge one overflows the
event loop."""

from __future__ import annotations

import math

import pytest

from smtpfake.scenario.limits import MAX_SECONDS, LimitError
from smtpfake.server import Server


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, 0, MAX_SECONDS + 1, True, "5"])
def test_idle_timeout_out_of_range_is_refused(value: object) -> None:
    with pytest.raises(LimitError, match=r"^Server\(idle_timeout=\): "):
        Server(idle_timeout=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["grace_period", "stop_grace_period"])
@pytest.mark.parametrize("value", [math.nan, -math.inf, -0.5, MAX_SECONDS * 2, None])
def test_grace_period_out_of_range_is_refused(name: str, value: object) -> None:
    with pytest.raises(LimitError, match=rf"^Server\({name}=\): "):
        Server(**{name: value})  # type: ignore[arg-type]


def test_the_bounds_themselves_are_accepted() -> None:
    server = Server(idle_timeout=MAX_SECONDS, grace_period=0, stop_grace_period=MAX_SECONDS)
    assert (server.idle_timeout, server.grace_period) == (MAX_SECONDS, 0.0)
    assert server.stop_grace_period == MAX_SECONDS
    assert Server(idle_timeout=0.001).idle_timeout == 0.001
    assert Server(stop_grace_period=0).stop_grace_period == 0.0
    assert Server().stop_grace_period == 0.25  # the default (README: The record)
