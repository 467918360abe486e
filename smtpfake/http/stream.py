"""``GET /api/events``: a server's events as Server-Sent Events (text/event-stream)."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from smtpfake.http.context import Settings
from smtpfake.http.fleet import Instance

#: an SSE stream sends a comment this often (seconds) so proxies and clients see it alive
HEARTBEAT = 15.0


async def events(
    request: web.Request, settings: Settings, instance: Instance
) -> web.StreamResponse:
    """Server-Sent Events: one ``event: TYPE`` / ``data: JSON`` block per session event of this
    server (``connected``, ``command``, ``reply``, ``violation``, ``message``, ``auth``,
    ``tls``, ``closed``; ``scenario``, ``reset``, ``server`` and ``deleted`` from the API),
    until the client leaves or the server is deleted."""
    queue = settings.hub.subscribe()
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    try:
        await response.prepare(request)
        hello = {"event": "hello", "server": instance.id, "scenario": instance.server.scenario.name}
        await response.write(f"retry: 1000\nevent: hello\ndata: {json.dumps(hello)}\n\n".encode())
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), HEARTBEAT)
            except asyncio.TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if event is None:
                break  # shutdown, or this reader fell too far behind
            if event.server != instance.id:
                continue
            await response.write(event.sse())  # made once, for every stream that sends it
            if event.kind == "deleted":
                break  # this server is gone: so is its stream
    except ConnectionResetError:
        pass  # the client left: a normal end for a stream
    finally:
        settings.hub.unsubscribe(queue)
    return response
