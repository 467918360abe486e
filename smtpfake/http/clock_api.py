"""``GET``/``POST /api/clock``: the server's clock, read or moved forward.

The clock is what rule windows, greylisting, rate limits and ``retry_after`` measure
(``Server.advance``); ``smtpfake serve --clock manual`` starts one that stands still until moved.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from smtpfake.engine.clock import ManualClock
from smtpfake.http.context import Settings, answer, read_json
from smtpfake.http.fleet import Instance
from smtpfake.http.inputs import JSON, ApiError, only, seconds, shown
from smtpfake.scenario.params import convert

#: the most one call may move the clock: ten years, in seconds
MAX_ADVANCE = 10 * 365 * 86400.0


#: what "advance" takes, as scenario parameters of type duration and ``--param`` do
ACCEPTED = "seconds as a number, or text with a unit: 250ms, 30s, 5m, 1h"


def _duration(value: Any) -> Any:
    """A duration as the scenario language reads one (``params.convert``); 400 otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ApiError(400, f"'advance' must be a duration ({ACCEPTED}), got {shown(value)}")
    if isinstance(value, str):
        try:
            return convert("duration", value)
        except ValueError:
            raise ApiError(
                400, f"'advance' must be a duration ({ACCEPTED}), got {shown(value)}"
            ) from None
    return value  # a number: checked as seconds (finite, in range)


def _clock(instance: Instance) -> JSON:
    server = instance.server
    kind = "manual" if isinstance(server.clock, ManualClock) else "system"
    return {"now": server.now(), "kind": kind}


async def get_clock(request: web.Request, settings: Settings, instance: Instance) -> web.Response:
    return answer(_clock(instance))


async def advance_clock(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    data = await read_json(request, settings)
    only(data, ("advance",))
    if "advance" not in data:
        raise ApiError(400, f'give "advance": a duration ({ACCEPTED}), e.g. {{"advance": "5m"}}')
    amount = seconds(_duration(data["advance"]), "advance", high=MAX_ADVANCE)
    try:
        instance.fake.advance(amount)
    except TypeError as exc:  # a server given a clock of its own that cannot be moved
        raise ApiError(409, str(exc)) from None
    body = _clock(instance)
    settings.hub.publish(
        {"event": "clock", "server": instance.id, "now": body["now"], "time": time.time()}
    )
    return answer(body)
