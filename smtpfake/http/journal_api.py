"""Endpoints about what happened: sessions, messages (list, one, raw, delete), reset, wait."""

from __future__ import annotations

import time

from aiohttp import web

from smtpfake.control import wait_count
from smtpfake.http import listings
from smtpfake.http.context import Settings, answer, read_json
from smtpfake.http.fleet import Instance
from smtpfake.http.inputs import ApiError, duration, only, whole
from smtpfake.http.messages import Listing, find
from smtpfake.http.pacing import ChunkedAnswer
from smtpfake.serialize import journal_to_json

#: the longest POST /api/wait may block
MAX_WAIT = 300.0


async def sessions(
    request: web.Request, settings: Settings, instance: Instance
) -> web.StreamResponse:
    return await listings.send(request, listings.session_pieces(instance, request.query))


async def journal(request: web.Request, settings: Settings, instance: Instance) -> web.Response:
    """What the journal keeps at most and what it dropped; ``deleted``: messages this API was
    told to delete (not drops: the journal still holds them)."""
    body = journal_to_json(instance.server.journal.limits, instance.server.journal.counts())
    body["deleted"] = len(instance.journal.deleted)
    return answer(body)


async def messages(
    request: web.Request, settings: Settings, instance: Instance
) -> web.StreamResponse:
    listing = Listing(instance.numbered(), request.query, instance.summaries)
    return await listings.send(request, listings.message_pieces(listing))


async def delete_messages(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    found = instance.numbered()
    instance.journal.deleted.update(n.id for n in found)
    return answer({"deleted": len(found)})


async def message(
    request: web.Request, settings: Settings, instance: Instance
) -> web.StreamResponse:
    """One message parsed whole (``messages.detail``) off the event loop (``parsing``), one
    parse at a time per server (a parsed message costs about twice its size); the answer is
    then sent in chunks."""
    numbered = find(instance.numbered(), request.match_info["mid"])
    async with instance.parsing:
        body = await settings.parsing.detail(numbered)
    out = ChunkedAnswer(request, "application/json")
    return await out.send_all(body)


async def message_raw(
    request: web.Request, settings: Settings, instance: Instance
) -> web.StreamResponse:
    """The data as received (message/rfc822), in ``pacing.CHUNK`` writes."""
    numbered = find(instance.numbered(), request.match_info["mid"])
    disposition = "attachment" if request.query.get("download") == "1" else "inline"
    out = ChunkedAnswer(
        request,
        "message/rfc822",
        **{
            "Content-Disposition": f'{disposition}; filename="message-{numbered.id}.eml"',
            "X-Content-Type-Options": "nosniff",
        },
    )
    return await out.send_all(numbered.message.data)


async def delete_message(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    numbered = find(instance.numbered(), request.match_info["mid"])
    instance.journal.deleted.add(numbered.id)
    return answer({"deleted": 1})


async def reset(request: web.Request, settings: Settings, instance: Instance) -> web.Response:
    await read_json(request, settings)  # an empty or JSON body only: a form post is no reset
    # the event goes out when the journal is cleared: before the events of the sessions the
    # reset carries over into the new journal (their 421 and close), as it happened
    instance.reset(
        lambda: settings.hub.publish({"event": "reset", "server": instance.id, "time": time.time()})
    )
    return answer({"status": "reset", "scenario": instance.server.scenario.name})


#: what POST /api/wait can wait for (counted as the in-process waits count: control.wait_count)
KINDS = ("messages", "sessions")


def _count(kind: str, instance: Instance) -> int:
    # as the fixture's waits count, less the messages the API was told to delete
    return wait_count(kind, instance.server.journal, not_counted=len(instance.journal.deleted))


async def wait(request: web.Request, settings: Settings, instance: Instance) -> web.StreamResponse:
    data = await read_json(request, settings)
    only(data, (*KINDS, "timeout"))
    kinds = [k for k in KINDS if k in data]
    if len(kinds) != 1:
        raise ApiError(
            400,
            'give exactly one of "messages": N or "sessions": N (with "timeout": a duration, '
            '5, "500ms" or "30s")',
        )
    kind = kinds[0]
    count = whole(data[kind], kind, high=10**6)
    # a duration as everywhere else in the product (scenarios, POST /api/clock, --param)
    timeout = duration(data.get("timeout", 5.0), "timeout", high=MAX_WAIT)
    started = time.monotonic()
    if not await settings.hub.until(lambda: _count(kind, instance) >= count, timeout):
        got = _count(kind, instance)
        what = "message(s)" if kind == "messages" else "finished session(s)"
        waited = time.monotonic() - started
        error = ApiError(408, f"waited {waited:.1f}s for {count} {what}, got {got}", count=got)
        error.headers["Connection"] = "close"  # RFC 9110 §15.5.9
        raise error
    # what arrived, as GET /api/messages (or /api/sessions) answers
    if kind == "messages":
        listing = Listing(instance.numbered(), {}, instance.summaries)
        return await listings.send(request, listings.message_pieces(listing))
    return await listings.send(request, listings.session_pieces(instance, {}))
