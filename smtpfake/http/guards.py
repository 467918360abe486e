"""What every request passes before an endpoint: the DNS-rebinding guard (exactly one Host, an
absolute-form target checked too), the browser-origin guard, the bearer token, and errors as JSON.

RFC 9112 §3.2: a request has exactly one Host (aiohttp refuses a second one with a 400); with an
absolute-form target (``GET http://evil.test/api/...``) the target's authority is what counts, so
both are checked.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware
from yarl import URL

from smtpfake.http.inputs import ApiError
from smtpfake.scenario import ScenarioError
from smtpfake.serialize import problems_to_json

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: answered without the token: health checks do not know it; the page asks for it itself
PUBLIC_PATHS = ("/api/health",)
PUBLIC_PREFIXES = ("/static/",)

#: aiohttp's own log of requests it could not parse: a client's garbage, not smtpfake's bug
client_log = logging.getLogger("smtpfake.http.client")
client_log.addHandler(logging.NullHandler())
client_log.propagate = False


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def local_name(authority: str) -> bool:
    """An authority naming this machine directly (an IP literal or localhost), not a DNS name."""
    host = authority.strip()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def json_answer(
    status: int, body: dict[str, object], headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer (ASCII, so no charset parameter is needed: RFC 8259 §8.1)."""
    payload = json.dumps(body, indent=1).encode("ascii") + b"\n"
    sent = {"Content-Type": "application/json", "Cache-Control": "no-store", **(headers or {})}
    response = web.Response(status=status, body=payload, headers=sent)
    if sent.get("Connection", "").lower() == "close":
        response.force_close()  # what is left of the request is not read as the next one
    return response


def _target_authority(request: web.Request) -> str | None:
    """The authority of an absolute-form request target, None for the usual origin-form."""
    raw = request.raw_path
    if raw.startswith("/"):
        return None
    url = URL(raw)
    return url.raw_authority if url.is_absolute() else ""


#: a client of a server on demand sends the run that made it (``run`` of POST /api/servers):
#: another run of the sidecar (restarted at the same URL) answers 410, not the request with
#: its own server of that id, which may be another client's
RUN_HEADER = "X-Smtpfake-Run"


def make_guard(*, guard_host: bool, token: str | None, run: str = "") -> Middleware:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        target = _target_authority(request)
        if target is not None and target.lower() != host.lower():
            raise ApiError(
                400,
                "the request target's authority does not match its Host header (RFC 9112 §3.2.2)",
            )
        if guard_host and not local_name(host):
            raise ApiError(
                403,
                "this API is bound to loopback and answers only requests addressed to an IP "
                "address or localhost (DNS rebinding guard)",
            )
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{host}":
            raise ApiError(
                403,
                "requests from other web pages (a foreign Origin header) are refused, so a page "
                "in a browser cannot drive this sidecar; call it from a test or a script, or "
                "use the sidecar's own page at /",
            )
        path = request.path
        if token and path.startswith("/api/") and path not in PUBLIC_PATHS:
            authorize(request, token)
        sent = request.headers.get(RUN_HEADER)
        if sent is not None and sent != run and path.startswith("/api/servers/"):
            raise ApiError(
                410,
                f"this server was made by another run of the sidecar ({sent}; this run is {run}): "
                "the sidecar was restarted, and its servers on demand went with the old run",
            )
        return await handler(request)

    return guard


def authorize(request: web.Request, token: str) -> None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        error = ApiError(401, "missing or wrong bearer token (Authorization: Bearer TOKEN)")
        error.headers["WWW-Authenticate"] = 'Bearer realm="smtpfake"'
        raise error


def make_errors(report: Callable[[BaseException], None], endpoints: Sequence[str]) -> Middleware:
    """The outermost middleware: every answer but a stream is JSON; a bug is a 500 and reported."""

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return json_answer(exc.status, exc.body, exc.headers)
        except ScenarioError as exc:
            return json_answer(400, problems_to_json(exc))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            headers = {k: v for k, v in exc.headers.items() if k == "Connection"}
            if "Allow" in exc.headers:
                headers["Allow"] = ", ".join(sorted(exc.headers["Allow"].split(",")))
            message = (
                exc.text if exc.text and not exc.text.startswith(str(exc.status)) else exc.reason
            )
            if exc.status == 404:
                message = f"no endpoint {request.path} (endpoints: {', '.join(endpoints)})"
            elif exc.status == 405:
                message = f"{request.method} is not allowed on {request.path}"
            return json_answer(exc.status, {"error": message}, headers)
        except ConnectionResetError:
            raise  # the client left mid-request: aiohttp closes quietly (its log is ours, muted)
        except web.RequestPayloadError as exc:  # a broken chunked body, a short gzip stream
            return json_answer(400, {"error": f"bad request body: {exc}"}, {"Connection": "close"})
        except Exception as exc:
            # a bug in smtpfake: the caller gets a 500, and the server's error list the trace
            report(exc)
            return json_answer(500, {"error": f"internal error: {type(exc).__name__}: {exc}"})

    return errors
