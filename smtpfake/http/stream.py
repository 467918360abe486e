"""``GET /api/events``: a server's events as Server-Sent Events (text/event-stream)."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from smtpfake.http.context import Settings
from smtpfake.http.events import Event
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
            # with it, every event already waiting, in one write: a stream that wrote event by
            # event fell behind a busy server (a drain per event) and was cut off
            blocks, end = _blocks(event, queue, instance.id)
            if blocks:
                await response.write(b"".join(blocks))
            if end:
                break
    except ConnectionResetError:
        pass  # the client left: a normal end for a stream
    finally:
        settings.hub.unsubscribe(queue)
    return response


def _blocks(
    first: Event | None, queue: asyncio.Queue[Event | None], server: str
) -> tuple[list[bytes], bool]:
    """``first`` and the events waiting behind it, as SSE blocks of ``server``'s events (each
    made once, for every stream that sends it), and whether the stream ends with them: at
    ``None`` (shutdown, or this reader fell QUEUE_SIZE behind) or at ``deleted`` (this server is
    gone)."""
    blocks: list[bytes] = []
    event = first
    while True:
        if event is None:
            return blocks, True
        if event.server == server:
            blocks.append(event.sse())
            if event.kind == "deleted":
                return blocks, True
        if queue.empty():
            return blocks, False
        event = queue.get_nowait()
