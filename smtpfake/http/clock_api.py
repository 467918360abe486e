"""``GET``/``POST /api/clock``: the server's clock, read or moved forward.

The clock is what rule windows, greylisting, rate limits and ``retry_after`` measure
(``Server.advance``); ``smtpfake serve --clock manual`` starts one that stands still until moved.
"""

from __future__ import annotations

import time

from aiohttp import web

from smtpfake.engine.clock import ManualClock
from smtpfake.http.context import Settings, answer, read_json
from smtpfake.http.fleet import Instance
from smtpfake.http.inputs import DURATION_ACCEPTED, JSON, ApiError, duration, only

#: the most one call may move the clock: ten years, in seconds
MAX_ADVANCE = 10 * 365 * 86400.0


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
        text = f'give "advance": a duration ({DURATION_ACCEPTED}), e.g. {{"advance": "5m"}}'
        raise ApiError(400, text)
    amount = duration(data["advance"], "advance", high=MAX_ADVANCE)
    try:
        instance.fake.advance(amount)
    except TypeError as exc:  # a server given a clock of its own that cannot be moved
        raise ApiError(409, str(exc)) from None
    body = _clock(instance)
    settings.hub.publish(
        {"event": "clock", "server": instance.id, "now": body["now"], "time": time.time()}
    )
    return answer(body)
