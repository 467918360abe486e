"""The endpoints: each reads a request, calls the server's control object, and answers JSON.

Every endpoint under ``/api/`` also answers under ``/api/servers/{id}/`` for a server on demand
(``main`` is the sidecar's own). Routes are one table (:data:`ROUTES`), which the OpenAPI test
checks against ``openapi.yaml``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import web

from smtpfake import __version__
from smtpfake.cli import show_text
from smtpfake.control import wait_count
from smtpfake.http.events import EventHub
from smtpfake.http.fleet import MAIN, Fleet, Instance
from smtpfake.http.guards import json_error, make_errors, make_guard
from smtpfake.http.inputs import (
    JSON,
    ApiError,
    check_uploaded_files,
    only,
    parse_json,
    seconds,
    seed,
    whole,
)
from smtpfake.http.messages import FILTERS, PAGING, detail, find, listing
from smtpfake.logging_observer import EventLog
from smtpfake.scenario import ScenarioError, load_file, load_text, resolve, scenario_files
from smtpfake.serialize import problems_to_json, scenario_to_json, session_to_json

#: bodies larger than this are refused with 413 (a scenario is a few kB)
MAX_BODY = 1 << 20
#: the longest POST /api/wait may block
MAX_WAIT = 300.0
#: an SSE stream sends a comment this often (seconds) so proxies and clients see it alive
HEARTBEAT = 15.0
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
#: PUT /api/scenario's query, with a YAML body
YAML_QUERY = ("name", "seed", "source", "require_docs")


@dataclass(frozen=True)
class Settings:
    """What the endpoints need besides the servers."""

    fleet: Fleet
    hub: EventHub
    token: str | None
    body_timeout: float
    log: EventLog | None


SETTINGS = web.AppKey("settings", Settings)
Endpoint = Callable[[web.Request, Settings, Instance], Awaitable[web.StreamResponse]]


def answer(body: JSON, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return json_error(status, body, headers)


async def read_body(request: web.Request, settings: Settings) -> bytes:
    """The whole body, within ``body_timeout`` seconds (a Content-Length larger than what is
    sent is a 408, not a request held for ever)."""
    try:
        return await asyncio.wait_for(request.read(), settings.body_timeout)
    except asyncio.TimeoutError:
        error = ApiError(408, f"the request body did not arrive within {settings.body_timeout:g}s")
        error.headers["Connection"] = "close"
        raise error from None
    except web.HTTPRequestEntityTooLarge:
        error = ApiError(413, f"body too large (at most {MAX_BODY} bytes)")
        error.headers["Connection"] = "close"
        raise error from None


async def read_json(request: web.Request, settings: Settings) -> JSON:
    body = await read_body(request, settings)
    if body.strip() and request.content_type not in (
        "application/json",
        "application/octet-stream",
    ):
        raise ApiError(
            415,
            f"expected a JSON body (Content-Type: application/json), got {request.content_type!r}",
        )
    return parse_json(body)


# -- health and scenario ---------------------------------------------------------------------------


def _smtp(instance: Instance) -> JSON:
    return {"host": instance.server.host, "port": instance.server.port}


async def health(request: web.Request, settings: Settings, instance: Instance) -> web.Response:
    ready = instance.server.listening
    body = {
        "status": "ready" if ready else "unavailable",
        "version": __version__,
        "scenario": instance.server.scenario.name,
        "smtp": _smtp(instance),
    }
    return answer(body, 200 if ready else 503)


def scenario_body(instance: Instance) -> JSON:
    server = instance.server
    body = scenario_to_json(server.scenario)
    body["seed"] = server.effective_seed
    body["smtp"] = _smtp(instance)
    body["show"] = show_text(server.scenario)
    return body


async def get_scenario(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    return answer(scenario_body(instance))


async def put_scenario(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    if request.content_type in YAML_TYPES:
        body = await read_body(request, settings)
        _use_yaml(instance, dict(request.query), body)
    else:
        only(request.query, (), "query parameter")
        data = await read_json(request, settings)
        use_named(instance, data)
    settings.hub.publish(
        {
            "event": "scenario",
            "server": instance.id,
            "name": instance.server.scenario.name,
            "time": time.time(),
        }
    )
    return answer(scenario_body(instance))


def _use_yaml(instance: Instance, query: dict[str, str], body: bytes) -> None:
    chosen = seed(query.get("seed"))
    docs = query.get("require_docs", "true").lower()
    if docs not in ("true", "false"):
        raise ApiError(400, f"'require_docs' must be true or false, got {docs[:20]!r}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the YAML body is not UTF-8: {exc}") from None
    name = query.get("name", "uploaded")
    source = query.get("source", "request-body")
    server = instance.server
    check_uploaded_files(text, source, server.scenario_dirs)
    # the same loader as files, so the same file:line:col problems
    scenario = load_text(text, source=source, name=name, require_docs=docs == "true")
    instance.fake.use(scenario, seed=chosen)


def use_named(instance: Instance, data: JSON) -> None:
    """Switch to a scenario of the sidecar's library by name (``{"name", "seed"}``)."""
    only(data, ("name", "seed"))
    name = check_name(data.get("name"), "name")
    chosen = seed(data.get("seed"))
    _unknown_name(instance, name)
    instance.fake.use(name, seed=chosen)


def check_name(name: Any, field: str) -> str:
    """A scenario name of the library; a path is refused (never read a path a caller names on
    the sidecar's disk: upload the YAML instead); an unknown name is a 404 with did-you-mean."""
    if not isinstance(name, str) or not name:
        raise ApiError(400, f'\'{field}\' must be a scenario name, e.g. {{"{field}": "default"}}')
    if "/" in name or "\\" in name or name.endswith((".yaml", ".yml")):
        raise ApiError(
            400,
            f"'{name[:80]}' is a path, not a name; upload the file as the body of PUT "
            "/api/scenario with Content-Type: application/yaml",
        )
    return name


def _unknown_name(instance: Instance, name: str) -> None:
    if name in scenario_files(instance.server.scenario_dirs):
        return
    try:
        resolve(name, instance.server.scenario_dirs)
    except ScenarioError as exc:  # the library's "no scenario named ...; did you mean"
        body = problems_to_json(exc)
        del body["error"]
        raise ApiError(404, exc.problems[0].message, **body) from None


async def list_scenarios(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    items: list[JSON] = []
    for name, path in sorted(scenario_files(instance.server.scenario_dirs).items()):
        try:
            sc = load_file(path)
        except ScenarioError as exc:
            items.append(
                {"name": name, "summary": None, "source": str(path)}
                | {"problems": [str(p) for p in exc.problems]}
            )
            continue
        items.append({"name": name, "summary": sc.summary, "source": sc.source})
    return answer({"active": instance.server.scenario.name, "scenarios": items})


# -- sessions, messages, waits ---------------------------------------------------------------------


def _sessions(instance: Instance) -> JSON:
    records = instance.fake.sessions
    return {"count": len(records), "sessions": [session_to_json(s) for s in records]}


async def sessions(request: web.Request, settings: Settings, instance: Instance) -> web.Response:
    return answer(_sessions(instance))


async def messages(request: web.Request, settings: Settings, instance: Instance) -> web.Response:
    return answer(listing(instance.numbered(), request.query))


async def delete_messages(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    found = instance.numbered()
    instance.deleted.update(n.id for n in found)
    return answer({"deleted": len(found)})


async def message(request: web.Request, settings: Settings, instance: Instance) -> web.Response:
    return answer(detail(find(instance.numbered(), request.match_info["mid"])))


async def message_raw(request: web.Request, settings: Settings, instance: Instance) -> web.Response:
    numbered = find(instance.numbered(), request.match_info["mid"])
    disposition = "attachment" if request.query.get("download") == "1" else "inline"
    return web.Response(
        body=numbered.message.data,
        content_type="message/rfc822",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'{disposition}; filename="message-{numbered.id}.eml"',
            "X-Content-Type-Options": "nosniff",
        },
    )


async def delete_message(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    numbered = find(instance.numbered(), request.match_info["mid"])
    instance.deleted.add(numbered.id)
    return answer({"deleted": 1})


async def reset(request: web.Request, settings: Settings, instance: Instance) -> web.Response:
    await read_json(request, settings)  # an empty or JSON body only: a form post is no reset
    instance.reset()
    settings.hub.publish({"event": "reset", "server": instance.id, "time": time.time()})
    return answer({"status": "reset", "scenario": instance.server.scenario.name})


#: what POST /api/wait can wait for (counted as the in-process waits count: control.wait_count)
KINDS = ("messages", "sessions")


def _count(kind: str, instance: Instance) -> int:
    # the messages the API shows (not deleted), as the fixture's waits see theirs
    return wait_count(kind, [n.message for n in instance.numbered()], instance.server.sessions)


async def wait(request: web.Request, settings: Settings, instance: Instance) -> web.Response:
    data = await read_json(request, settings)
    only(data, (*KINDS, "timeout"))
    kinds = [k for k in KINDS if k in data]
    if len(kinds) != 1:
        raise ApiError(
            400, 'give exactly one of "messages": N or "sessions": N (with "timeout": seconds)'
        )
    kind = kinds[0]
    count = whole(data[kind], kind, high=10**6)
    timeout = seconds(data.get("timeout", 5.0), "timeout", high=MAX_WAIT)
    started = time.monotonic()
    if not await settings.hub.until(lambda: _count(kind, instance) >= count, timeout):
        got = _count(kind, instance)
        what = "message(s)" if kind == "messages" else "finished session(s)"
        waited = time.monotonic() - started
        error = ApiError(408, f"waited {waited:.1f}s for {count} {what}, got {got}", count=got)
        error.headers["Connection"] = "close"  # RFC 9110 §15.5.9
        raise error
    if kind == "messages":
        return answer(listing(instance.numbered(), {}))
    return answer(_sessions(instance))


async def tls_ca(request: web.Request, settings: Settings, instance: Instance) -> web.Response:
    """The PEM of the throwaway CA behind the active scenario's generated certificate; 404 when
    there is nothing a client could trust from us."""
    scenario = instance.server.scenario
    tls = scenario.server.tls
    if not tls.enabled:
        raise ApiError(
            404,
            f"the active scenario '{scenario.name}' has no server.tls, so there is no CA to "
            "trust; switch to a TLS scenario (e.g. tls-required) first",
            reason="no-tls",
        )
    if tls.certificate is not None:
        raise ApiError(
            404,
            f"the active scenario '{scenario.name}' uses its own certificate "
            f"({tls.certificate}); smtpfake does not know its CA: trust that certificate's "
            "issuer instead",
            reason="own-certificate",
        )
    pem = instance.server.tls_ca_pem.encode("ascii")
    return web.Response(
        body=pem, content_type="application/x-pem-file", headers={"Cache-Control": "no-store"}
    )


# -- events ------------------------------------------------------------------------------------


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
            if event.get("server") != instance.id:
                continue
            data = json.dumps(event, ensure_ascii=True)  # one line: no raw LF can split it
            await response.write(
                f"id: {event['id']}\nevent: {event['event']}\ndata: {data}\n\n".encode()
            )
            if event["event"] == "deleted":
                break  # this server is gone: so is its stream
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the client left (aiohttp cancels the handler): a normal end for a stream
    finally:
        settings.hub.unsubscribe(queue)
    return response


# -- servers on demand -------------------------------------------------------------------------


def _server_body(request: web.Request, instance: Instance) -> JSON:
    base = f"{request.scheme}://{request.host}"
    return {
        "id": instance.id,
        "host": instance.server.host,
        "smtp_port": instance.server.port,
        "url": f"{base}/api/servers/{instance.id}",
        "scenario": instance.server.scenario.name,
        "seed": instance.server.effective_seed,
        "created": instance.created,
        "sessions": len(instance.server.sessions),
        "messages": len(instance.numbered()),
    }


async def create_server(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    data = await read_json(request, settings)
    only(data, ("scenario", "seed", "params"))
    name = check_name(data.get("scenario", "default"), "scenario")
    chosen = seed(data.get("seed"))
    params = data.get("params")
    if params not in (None, {}):
        raise ApiError(
            400, "'params': this smtpfake's scenarios take no parameters yet; leave it out"
        )
    _unknown_name(settings.fleet.main, name)
    created = await settings.fleet.create(name, chosen)
    settings.hub.publish({"event": "server", "server": MAIN, "id": created.id, "time": time.time()})
    body = _server_body(request, created)
    return answer(body, 201, {"Location": body["url"]})


async def list_servers(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    found = [_server_body(request, i) for i in settings.fleet.instances.values()]
    return answer({"count": len(found), "capacity": settings.fleet.capacity, "servers": found})


async def get_server(request: web.Request, settings: Settings, instance: Instance) -> web.Response:
    return answer(_server_body(request, instance))


async def delete_server(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    await settings.fleet.delete(instance.id)
    now = time.time()
    settings.hub.publish({"event": "deleted", "server": instance.id, "time": now})
    settings.hub.publish({"event": "server", "server": MAIN, "id": instance.id, "time": now})
    return answer({"deleted": instance.id})


# -- the table -------------------------------------------------------------------------------------

#: path (under /api) -> method -> endpoint; each also answers under /api/servers/{id}
ROUTES: dict[str, dict[str, Endpoint]] = {
    "/health": {"GET": health},
    "/scenario": {"GET": get_scenario, "PUT": put_scenario},
    "/scenarios": {"GET": list_scenarios},
    "/sessions": {"GET": sessions},
    "/messages": {"GET": messages, "DELETE": delete_messages},
    "/messages/{mid}": {"GET": message, "DELETE": delete_message},
    "/messages/{mid}/raw": {"GET": message_raw},
    "/reset": {"POST": reset},
    "/wait": {"POST": wait},
    "/tls/ca": {"GET": tls_ca},
    "/events": {"GET": events},
}
#: only at the top: servers are made and listed there
FLEET_ROUTES: dict[str, dict[str, Endpoint]] = {
    "/servers": {"GET": list_servers, "POST": create_server},
    "/servers/{sid}": {"GET": get_server, "DELETE": delete_server},
}


#: what a 404 lists
ENDPOINTS = sorted(["/api" + p for p in ROUTES] + ["/api" + p for p in FLEET_ROUTES])


#: the query parameters an endpoint takes; any other is a 400, never silently ignored
QUERY: dict[Endpoint, tuple[str, ...]] = {
    messages: FILTERS + PAGING,
    message_raw: ("download",),
    put_scenario: YAML_QUERY,  # for a YAML upload; a JSON body takes none (put_scenario checks)
}


def _bind(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    allowed = QUERY.get(endpoint, ())

    async def handle(request: web.Request) -> web.StreamResponse:
        settings = request.app[SETTINGS]
        only(request.query, allowed, "query parameter")
        instance = settings.fleet.get(request.match_info.get("sid", MAIN))
        return await endpoint(request, settings, instance)

    handle.__name__ = endpoint.__name__
    return handle


def _static(name: str, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    data = resources.files("smtpfake.http").joinpath("static").joinpath(name).read_bytes()

    async def handle(request: web.Request) -> web.Response:
        return web.Response(
            body=data,
            content_type=content_type,
            headers={
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
                "X-Frame-Options": "DENY",
                # the page runs only its own script; message HTML goes in a sandboxed frame
                "Content-Security-Policy": (
                    "default-src 'none'; script-src 'self'; style-src 'self'; "
                    "connect-src 'self'; img-src 'self' data:; frame-src 'self' blob: data:; "
                    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
                ),
            },
        )

    return handle


#: the web page's files (shipped in the package, no build step, nothing from a CDN)
STATIC = {
    "/": ("index.html", "text/html"),
    "/static/page.js": ("page.js", "text/javascript"),
    "/static/page.css": ("page.css", "text/css"),
}


def build_app(
    settings: Settings, report: Callable[[BaseException], None], guard_host: bool
) -> web.Application:
    app = web.Application(
        client_max_size=MAX_BODY,
        middlewares=[
            make_errors(report, ENDPOINTS),
            make_guard(guard_host=guard_host, token=settings.token),
        ],
    )
    app[SETTINGS] = settings
    for table, prefixes in ((ROUTES, ("/api", "/api/servers/{sid}")), (FLEET_ROUTES, ("/api",))):
        for path, methods in table.items():
            for prefix in prefixes:
                for method, endpoint in methods.items():
                    handler = _bind(endpoint)
                    # a trailing slash names the same endpoint (answered, not redirected: not
                    # every client follows a 308)
                    for variant in (prefix + path, prefix + path + "/"):
                        app.router.add_route(method, variant, handler)
    for path, (name, content_type) in STATIC.items():
        app.router.add_get(path, _static(name, content_type))
    return app
