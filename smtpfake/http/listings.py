"""The long answers, as pieces of JSON text made one at a time and sent paced.

``GET /api/sessions``, ``GET /api/messages`` (and ``POST /api/wait``, which answers as they
do) are made by generators of pieces: a ``str`` to send, or None for a turn of the event loop
(an item that was filtered out or skipped). :func:`send` drives one: it makes everything up to
the first item before the status line goes out, so a bug that breaks every item is still a
500; a bug later cuts the connection (the client sees an incomplete answer, never a short valid
one) and is reported as every bug is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

from aiohttp import web

from smtpfake.engine.records import Message
from smtpfake.http.fleet import Instance
from smtpfake.http.inputs import JSON, PAGING, ApiError, only, window
from smtpfake.http.message_data import base64_pieces, text_pieces
from smtpfake.http.messages import Listing, Numbered
from smtpfake.http.pacing import ChunkedAnswer
from smtpfake.serialize import session_to_json

Pieces = Iterator[str | None]


#: what ``?include=`` may add to a listing's sessions
SESSION_INCLUDES = ("exchanges",)


def session_pieces(instance: Instance, query: Mapping[str, str]) -> Pieces:
    """Sessions as recorded, open ones included (ended: null): never the fixture's settling
    read, which would hold this event loop, and with it the SMTP sessions it waits for. Each
    session's messages are summaries with their ids (data at /api/messages/{id}/raw);
    ``?include=exchanges`` adds each command with its reply (``SessionRecord.exchanges()``).
    The query is checked at once (a 400 before any piece)."""
    only(query, (*PAGING, "include"), "query parameter")
    shown = window(query)
    include = query.get("include", "")
    if include not in ("", *SESSION_INCLUDES):
        raise ApiError(400, f"'include' may be {', '.join(SESSION_INCLUDES)}, got {include[:20]!r}")
    exchanges = include == "exchanges"
    # each record made as its piece is, between turns of the loop (not all 10,000 at once)
    records = instance.journal.sessions_view()
    summaries = instance.summaries
    numbers = instance.journal.message_id

    def summary(message: Message) -> JSON:
        return summaries.of(Numbered(numbers(message), message))

    def pieces() -> Pieces:
        yield json.dumps({"total": len(records), **shown.json()})[:-1] + ', "sessions": ['
        count = 0
        total = len(records)
        for position in range(shown.offset, min(total, shown.offset + shown.limit)):
            record = records[position if shown.order == "oldest" else total - 1 - position]
            piece = json.dumps(session_to_json(record, message=summary, exchanges=exchanges))
            yield piece if count == 0 else ", " + piece
            count += 1
        yield f'], "count": {count}}}\n'

    return pieces()


def message_pieces(listing: Listing) -> Pieces:
    """A listing: the page's summaries (each with its data, slice by slice, for
    ``?include=data``); ``count`` and ``matching`` come last, once known."""
    yield json.dumps(listing.head())[:-1] + ', "messages": ['
    first = True
    for item in listing.walk():
        if item is None:
            yield None
            continue
        numbered, summary = item
        piece = json.dumps(summary)
        if listing.with_data:
            piece = piece[:-1]  # its data goes in before the closing brace
        yield piece if first else ", " + piece
        first = False
        if listing.with_data:
            yield from _data_pieces(numbered.message.data)
    yield "], " + json.dumps(listing.tail())[1:] + "\n"


def _data_pieces(data: bytes) -> Iterator[str]:
    for name, pieces in (("data", text_pieces), ("data_base64", base64_pieces)):
        yield f', "{name}": "'
        yield from pieces(data)
        yield '"'
    yield "}"


async def send(request: web.Request, pieces: Pieces) -> web.StreamResponse:
    """Stream ``pieces`` as a JSON answer (see the module docstring); a client that leaves
    midway ends it quietly."""
    out = ChunkedAnswer(request, "application/json")
    ahead: list[str] = []
    for piece in pieces:  # the head and the first item, made before the answer starts
        if piece is None:
            await out.pacer.tick()
            continue
        ahead.append(piece)
        if len(ahead) == 2:
            break
    try:
        await out.start()
        if out.head_only:
            return await out.finish()
        for piece in ahead:
            await out.send(piece)
        for piece in pieces:
            if piece is None:
                await out.pacer.tick()
            else:
                await out.send(piece)
        return await out.finish()
    except ConnectionResetError:
        return out.response  # the client left: a normal end for a stream
    except Exception:
        out.cut()  # the status line went out: an incomplete answer, never a short valid one
        raise
