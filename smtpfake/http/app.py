"""The HTTP application: the route table, the web page's files, and the middlewares.

Every endpoint under ``/api/`` also answers under ``/api/servers/{id}/`` for a server on demand
(``main`` is the sidecar's own). Routes are one table (:data:`ROUTES`), which the OpenAPI test
checks against ``openapi.yaml``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from aiohttp import web

from smtpfake.http import clock_api, journal_api, scenario_api, servers_api, stream
from smtpfake.http.context import MAX_BODY, SETTINGS, Endpoint, Settings
from smtpfake.http.fleet import MAIN
from smtpfake.http.guards import make_errors, make_guard
from smtpfake.http.inputs import PAGING, only
from smtpfake.http.messages import FILTERS

__all__ = ["FLEET_ROUTES", "MAX_BODY", "ROUTES", "build_app"]


# -- the table -------------------------------------------------------------------------------------

#: path (under /api) -> method -> endpoint; each also answers under /api/servers/{id}
ROUTES: dict[str, dict[str, Endpoint]] = {
    "/health": {"GET": scenario_api.health},
    "/scenario": {"GET": scenario_api.get_scenario, "PUT": scenario_api.put_scenario},
    "/scenarios": {"GET": scenario_api.list_scenarios},
    "/sessions": {"GET": journal_api.sessions},
    "/journal": {"GET": journal_api.journal},
    "/messages": {"GET": journal_api.messages, "DELETE": journal_api.delete_messages},
    "/messages/{mid}": {"GET": journal_api.message, "DELETE": journal_api.delete_message},
    "/messages/{mid}/raw": {"GET": journal_api.message_raw},
    "/reset": {"POST": journal_api.reset},
    "/wait": {"POST": journal_api.wait},
    "/tls/ca": {"GET": scenario_api.tls_ca},
    "/events": {"GET": stream.events},
    "/clock": {"GET": clock_api.get_clock, "POST": clock_api.advance_clock},
}
#: only at the top: servers are made and listed there
FLEET_ROUTES: dict[str, dict[str, Endpoint]] = {
    "/servers": {"GET": servers_api.list_servers, "POST": servers_api.create_server},
    "/servers/{sid}": {"GET": servers_api.get_server, "DELETE": servers_api.delete_server},
}


#: what a 404 lists
ENDPOINTS = sorted(["/api" + p for p in ROUTES] + ["/api" + p for p in FLEET_ROUTES])


#: the query parameters an endpoint takes; any other is a 400, never silently ignored
QUERY: dict[Endpoint, tuple[str, ...] | None] = {
    journal_api.messages: (*FILTERS, *PAGING, "include"),
    journal_api.sessions: (*PAGING, "include"),
    journal_api.message_raw: ("download",),
    # checks its own: YAML_QUERY and param.NAME for an upload, none with a JSON body
    scenario_api.put_scenario: None,
}


def _bind(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    allowed = QUERY.get(endpoint, ())

    async def handle(request: web.Request) -> web.StreamResponse:
        settings = request.app[SETTINGS]
        if allowed is not None:
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
                # the page runs only its own script; message HTML goes in a sandboxed frame.
                # Inline style is allowed because that frame (srcdoc) inherits this policy and
                # HTML mail is styled inline; the page itself builds its DOM from text only.
                "Content-Security-Policy": (
                    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
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
            make_guard(guard_host=guard_host, token=settings.token, run=settings.fleet.run),
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
                        if method == "GET":  # and HEAD, as curl -I asks
                            app.router.add_get(variant, handler)
                        else:
                            app.router.add_route(method, variant, handler)
    for path, (name, content_type) in STATIC.items():
        app.router.add_get(path, _static(name, content_type))
    return app
