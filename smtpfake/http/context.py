"""What every endpoint shares: its settings, the body read within limits, a JSON answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from smtpfake.http.events import EventHub
from smtpfake.http.fleet import Fleet, Instance
from smtpfake.http.guards import json_answer
from smtpfake.http.inputs import JSON, ApiError, parse_json
from smtpfake.http.parsing import Parsing
from smtpfake.logging_observer import EventLog

#: bodies larger than this are refused with 413 (a scenario is a few kB)
MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Settings:
    """What the endpoints need besides the servers."""

    fleet: Fleet
    hub: EventHub
    token: str | None
    body_timeout: float
    log: EventLog | None
    #: where GET /api/messages/{id} parses (a worker process for large messages)
    parsing: Parsing = field(default_factory=Parsing)


SETTINGS = web.AppKey("settings", Settings)
Endpoint = Callable[[web.Request, Settings, Instance], Awaitable[web.StreamResponse]]


def answer(body: JSON, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return json_answer(status, body, headers)


def _too_large(size: int | None) -> str:
    return f"body too large (at most {MAX_BODY} bytes)"


async def read_body(
    request: web.Request,
    settings: Settings,
    *,
    limit: int = MAX_BODY,
    too_large: Callable[[int | None], str] = _too_large,
) -> bytes:
    """The whole body, within ``body_timeout`` seconds (a Content-Length larger than what is
    sent is a 408, not a request held for ever) and ``limit`` bytes (more: 413, its error
    ``too_large(Content-Length)``, None when the body came without one)."""
    if limit != MAX_BODY:
        request = request.clone(client_max_size=limit)  # (the app's limit is MAX_BODY)
    try:
        return await asyncio.wait_for(request.read(), settings.body_timeout)
    except asyncio.TimeoutError:
        error = ApiError(408, f"the request body did not arrive within {settings.body_timeout:g}s")
        error.headers["Connection"] = "close"
        raise error from None
    except web.HTTPRequestEntityTooLarge:
        error = ApiError(413, too_large(request.content_length))
        error.headers["Connection"] = "close"
        raise error from None


async def read_json(
    request: web.Request,
    settings: Settings,
    *,
    or_else: str = "",
    too_large: Callable[[int | None], str] = _too_large,
) -> JSON:
    """The JSON body (``{}`` when empty); 415 for another Content-Type, naming ``or_else`` (what
    else the endpoint takes) too, so a body sent without its Content-Type says how to send it;
    ``too_large`` words a 413 (see :func:`read_body`)."""
    body = await read_body(request, settings, too_large=too_large)
    if body.strip() and request.content_type not in (
        "application/json",
        "application/octet-stream",
    ):
        wanted = "a JSON body (Content-Type: application/json)" + (f" {or_else}" if or_else else "")
        raise ApiError(415, f"expected {wanted}, got {request.content_type!r}")
    # no Content-Type (curl -T file.yaml): a body that is no JSON object is told what the
    # endpoint takes, as a wrong type is, not only that it is not JSON
    untyped = request.content_type == "application/octet-stream"
    if or_else and untyped and body.strip() and not body.lstrip().startswith(b"{"):
        raise ApiError(
            415,
            f"expected a JSON body (Content-Type: application/json) {or_else}; the body came "
            "without a Content-Type and is not a JSON object",
        )
    return parse_json(body)
