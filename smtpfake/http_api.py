"""The sidecar's HTTP control API: JSON over the standard library's ``http.server``.

Standard library only, so the plain pytest install carries no web framework: the API is a handful
of small synchronous JSON endpoints, which ``ThreadingHTTPServer`` serves well (one thread per
request, so a long ``POST /api/wait`` does not hold up the others). The API runs in its own
thread beside the SMTP server's loop and only calls the Server's thread-safe methods.

Safe by default: it binds 127.0.0.1; an optional bearer token guards every endpoint but
``/api/health``; a request with an ``Origin`` header (a web page) is refused, and so is one whose
``Host`` is a DNS name while bound to loopback (DNS rebinding).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from smtpfake import __version__
from smtpfake.journal import Journal
from smtpfake.logging_observer import EventLog
from smtpfake.scenario import ScenarioError, load_file, load_text, resolve, scenario_files
from smtpfake.serialize import (
    JSON,
    message_to_json,
    problems_to_json,
    scenario_to_json,
    session_to_json,
)
from smtpfake.server import Server

#: bodies larger than this are refused (a scenario is a few kB; this is not an upload service)
MAX_BODY = 1 << 20
#: an over-large body is read away up to this much, so the client sees 413, not a broken pipe
DRAIN_LIMIT = 16 * MAX_BODY
#: the longest POST /api/wait may block
MAX_WAIT = 300.0
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: JSON = {"error": message, **extra}
        self.headers: dict[str, str] = {}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def json(self) -> JSON:
        """The body as a JSON object; an empty body is ``{}``."""
        if not self.body.strip():
            return {}
        if self.content_type not in ("", "application/json"):
            raise ApiError(
                415,
                f"expected a JSON body (Content-Type: application/json), got {self.content_type!r}",
            )
        try:
            data = json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"the body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(400, f"expected a JSON object, got {type(data).__name__}")
        return data


@dataclass(frozen=True)
class Response:
    status: int
    body: JSON
    headers: dict[str, str] = field(default_factory=dict)
    #: a non-JSON answer (the CA's PEM): sent as is, with ``content_type``, instead of ``body``
    raw: bytes | None = None
    content_type: str = "application/json"


Handler = Callable[["ControlApi", Request], Response]

#: path -> method -> handler; the OpenAPI test checks this table against openapi.yaml
ROUTES: dict[str, dict[str, str]] = {
    "/api/health": {"GET": "health"},
    "/api/scenario": {"GET": "get_scenario", "PUT": "put_scenario"},
    "/api/scenarios": {"GET": "list_scenarios"},
    "/api/sessions": {"GET": "sessions"},
    "/api/messages": {"GET": "messages"},
    "/api/reset": {"POST": "reset"},
    "/api/wait": {"POST": "wait"},
    "/api/tls/ca": {"GET": "tls_ca"},
}
#: answered without the token: container health checks do not know it, and it reveals nothing
PUBLIC = frozenset({"/api/health"})


def _invalid(status: int, error: ScenarioError) -> ApiError:
    body = problems_to_json(error)
    return ApiError(status, body.pop("error"), **body)


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiError(400, f"'{what}' must be a whole number >= 0, got {value!r}")
    return value


def _seed(value: Any, what: str = "seed") -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"'{what}' must be a whole number, got {value!r}")
    return value


class ControlApi:
    """The endpoints, as plain methods from Request to Response (no sockets here)."""

    def __init__(self, server: Server, token: str | None = None) -> None:
        self.server = server
        self.token = token or None

    # -- dispatch ------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        try:
            return self._handle(request)
        except ApiError as exc:
            return Response(exc.status, exc.body, exc.headers)

    def _handle(self, request: Request) -> Response:
        if "origin" in request.headers:
            raise ApiError(
                403,
                "requests from web pages (with an Origin header) are refused, so a page in a "
                "browser cannot drive this sidecar; call it from a test or a script",
            )
        methods = ROUTES.get(request.path)
        if methods is None:
            known = ", ".join(sorted(ROUTES))
            raise ApiError(404, f"no endpoint {request.path} (endpoints: {known})")
        if request.path not in PUBLIC:
            self._authorize(request)
        name = methods.get(request.method)
        if name is None:
            allowed = ", ".join(sorted(methods))
            error = ApiError(405, f"{request.method} is not allowed on {request.path} ({allowed})")
            error.headers["Allow"] = allowed
            raise error
        handler: Callable[[Request], Response] = getattr(self, name)
        return handler(request)

    def _authorize(self, request: Request) -> None:
        if self.token is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), self.token.encode()
        ):
            error = ApiError(401, "missing or wrong bearer token (Authorization: Bearer TOKEN)")
            error.headers["WWW-Authenticate"] = 'Bearer realm="smtpfake"'
            raise error

    # -- endpoints -----------------------------------------------------------------------------

    def _smtp(self) -> JSON:
        return {"host": self.server.host, "port": self.server.port}

    def health(self, request: Request) -> Response:
        ready = self.server.listening
        body = {
            "status": "ready" if ready else "unavailable",
            "version": __version__,
            "scenario": self.server.scenario.name,
            "smtp": self._smtp(),
        }
        return Response(200 if ready else 503, body)

    def _scenario(self) -> JSON:
        scenario = self.server.scenario
        body = scenario_to_json(scenario)
        body["seed"] = self.server.effective_seed
        body["smtp"] = self._smtp()
        return body

    def get_scenario(self, request: Request) -> Response:
        return Response(200, self._scenario())

    def put_scenario(self, request: Request) -> Response:
        try:
            if request.content_type in YAML_TYPES:
                self._use_yaml(request)
            else:
                self._use_named(request.json())
        except ScenarioError as exc:
            raise _invalid(400, exc) from None
        return Response(200, self._scenario())

    def _use_yaml(self, request: Request) -> None:
        unknown = set(request.query) - {"name", "seed", "source", "require_docs"}
        if unknown:
            raise ApiError(400, f"unknown query parameter(s): {', '.join(sorted(unknown))}")
        seed = _seed(request.query.get("seed"))
        docs = request.query.get("require_docs", "true").lower()
        if docs not in ("true", "false"):
            raise ApiError(400, f"'require_docs' must be true or false, got {docs!r}")
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiError(400, f"the YAML body is not UTF-8: {exc}") from None
        name = request.query.get("name", "uploaded")
        source = request.query.get("source", "request-body")
        # the same loader as files, so the same file:line:col problems
        scenario = load_text(text, source=source, name=name, require_docs=docs == "true")
        self.server.use(scenario, seed=seed)

    def _use_named(self, data: JSON) -> None:
        unknown = set(data) - {"name", "seed"}
        if unknown:
            raise ApiError(
                400,
                f"unknown field(s): {', '.join(sorted(unknown))} (give 'name' and optional 'seed'; "
                "to upload a scenario, send YAML with Content-Type: application/yaml)",
            )
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(400, '\'name\' must be a scenario name, e.g. {"name": "default"}')
        if "/" in name or "\\" in name or name.endswith((".yaml", ".yml")):
            # Never read a path the caller names on the sidecar's disk: upload the YAML instead.
            raise ApiError(
                400,
                f"'{name}' is a path, not a name; upload the file as the body with "
                "Content-Type: application/yaml",
            )
        seed = _seed(data.get("seed"))
        if name not in scenario_files(self.server.scenario_dirs):
            try:
                resolve(name, self.server.scenario_dirs)
            except ScenarioError as exc:  # the library's "no scenario named ...; did you mean"
                error = _invalid(404, exc)
                error.body["error"] = exc.problems[0].message
                raise error from None
        self.server.use(name, seed=seed)

    def list_scenarios(self, request: Request) -> Response:
        items: list[JSON] = []
        for name, path in sorted(scenario_files(self.server.scenario_dirs).items()):
            try:
                sc = load_file(path)
            except ScenarioError as exc:
                items.append(
                    {"name": name, "summary": None, "source": str(path)}
                    | {"problems": [str(p) for p in exc.problems]}
                )
                continue
            items.append({"name": name, "summary": sc.summary, "source": sc.source})
        return Response(200, {"active": self.server.scenario.name, "scenarios": items})

    def sessions(self, request: Request) -> Response:
        records = self.server.sessions
        return Response(
            200, {"count": len(records), "sessions": [session_to_json(s) for s in records]}
        )

    def messages(self, request: Request) -> Response:
        found = self.server.messages
        return Response(200, {"count": len(found), "messages": [message_to_json(m) for m in found]})

    def tls_ca(self, request: Request) -> Response:
        """The PEM of the throwaway CA behind the active scenario's generated certificate.

        404 when there is nothing a client could trust from us: the scenario has no TLS, or it
        names its own certificate file (whose issuer smtpfake does not know)."""
        scenario = self.server.scenario
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
        pem = self.server.tls_ca_pem.encode("ascii")
        return Response(200, {}, raw=pem, content_type="application/x-pem-file")

    def reset(self, request: Request) -> Response:
        request.json()  # an empty or JSON body only, so a form post cannot pass for a reset
        self.server.reset()
        return Response(200, {"status": "reset", "scenario": self.server.scenario.name})

    def wait(self, request: Request) -> Response:
        data = request.json()
        unknown = set(data) - {"messages", "sessions", "timeout"}
        if unknown:
            raise ApiError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        kinds = [k for k in ("messages", "sessions") if k in data]
        if len(kinds) != 1:
            raise ApiError(
                400, 'give exactly one of "messages": N or "sessions": N (with "timeout": seconds)'
            )
        kind = kinds[0]
        count = _count(data[kind], kind)
        timeout = data.get("timeout", 5.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise ApiError(400, f"'timeout' must be a number of seconds >= 0, got {timeout!r}")
        if timeout > MAX_WAIT:
            raise ApiError(400, f"'timeout' may be at most {MAX_WAIT:g} seconds, got {timeout}")

        def enough(journal: Journal) -> bool:
            if kind == "messages":
                return len(journal.messages()) >= count
            # as SmtpFake.wait_for_sessions: sessions that have ended, so transcripts are whole
            return sum(1 for s in journal.sessions() if s.ended is not None) >= count

        started = time.monotonic()
        if not self.server.journal.wait(enough, float(timeout)):
            if kind == "messages":
                got = len(self.server.messages)
                what = f"{count} message(s), got {got}"
            else:
                got = sum(1 for s in self.server.sessions if s.ended is not None)
                what = f"{count} finished session(s), got {got}"
            waited = time.monotonic() - started
            error = ApiError(408, f"waited {waited:.1f}s for {what}", count=got)
            error.headers["Connection"] = "close"  # RFC 9110 §15.5.9
            raise error
        if kind == "messages":
            return self.messages(request)
        return self.sessions(request)


# -- the HTTP transport ----------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _local_host_header(value: str) -> bool:
    """A Host header naming this machine directly (an IP literal or localhost), not a DNS name."""
    host = value.strip()
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


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a pending /api/wait must not hold up shutdown
    allow_reuse_address = True
    api: ApiServer


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = f"smtpfake/{__version__}"
    error_content_type = "application/json"
    timeout = 30.0  # a client that connects and sends nothing does not keep a thread forever

    def _dispatch(self) -> None:
        api = self.server.api
        parts = urllib.parse.urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = dict(urllib.parse.parse_qsl(parts.query))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            response = self._response(api, path, query, headers)
        except Exception as exc:
            # a bug in smtpfake: the caller gets a 500 and the server's error list gets the trace
            api.server.report_error(exc, None)
            response = Response(500, {"error": f"internal error: {type(exc).__name__}: {exc}"})
        # logged before answering, so the line comes before anything the caller does next
        api.log_request(self.command, path, response.status)
        self._send(response)

    def _response(
        self, api: ApiServer, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> Response:
        if api.guard_host and not _local_host_header(headers.get("host", "")):
            return Response(
                403,
                {
                    "error": "this API is bound to loopback and answers only requests addressed "
                    "to an IP address or localhost (DNS rebinding guard)"
                },
            )
        body = self._read_body(headers)
        if isinstance(body, Response):
            return body
        request = Request(self.command, path, query, headers, body)
        return api.control.handle(request)

    def _read_body(self, headers: Mapping[str, str]) -> bytes | Response:
        too_big = Response(
            413, {"error": f"body too large (at most {MAX_BODY} bytes)"}, {"Connection": "close"}
        )
        encoding = headers.get("transfer-encoding", "").strip().lower()
        if encoding == "chunked":
            return self._read_chunked(too_big)
        if encoding:
            return Response(
                400,
                {"error": f"unsupported Transfer-Encoding {encoding!r}"},
                {"Connection": "close"},
            )
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            return Response(400, {"error": "bad Content-Length"}, {"Connection": "close"})
        if length > MAX_BODY:
            # Read it away (up to a bound) so the client sees the 413 rather than a broken pipe;
            # then close, rather than parse what is left as the next request.
            left = min(length, DRAIN_LIMIT)
            while left > 0 and (chunk := self.rfile.read(min(left, 65536))):
                left -= len(chunk)
            return too_big
        return self.rfile.read(length) if length else b""

    def _read_chunked(self, too_big: Response) -> bytes | Response:
        """RFC 9112 §7.1 chunked body (Java's and Go's streaming clients send it)."""
        bad = Response(400, {"error": "bad chunked body"}, {"Connection": "close"})
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                return bad
            if size == 0:
                for _ in range(100):  # trailer fields, up to the blank line
                    if self.rfile.readline(8192).strip() == b"":
                        break
                break
            if size < 0 or len(body) + size > DRAIN_LIMIT:
                return too_big
            data = self.rfile.read(size)
            if len(data) < size or self.rfile.readline(3).strip() != b"":
                return bad
            body += data
        return too_big if len(body) > MAX_BODY else bytes(body)

    def _send(self, response: Response) -> None:
        if response.raw is not None:
            payload = response.raw
        else:
            payload = json.dumps(response.body, indent=1).encode("ascii") + b"\n"
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # malformed request lines, unknown methods, over-long URLs: JSON like every other answer
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self.close_connection = True
        self._send(Response(code, {"error": message or phrase}, {"Connection": "close"}))

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are logged as events by ApiServer.log_request, not on stderr


class ApiServer:
    """The API over HTTP in a background thread; ``start()`` returns once it accepts requests."""

    def __init__(
        self,
        server: Server,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        log: EventLog | None = None,
    ) -> None:
        self.control = ControlApi(server, token)
        self.server = server
        self.host = host
        self.port = port
        self.log = log
        # Bound to loopback, only a local caller can reach us, and only a browser tricked by
        # DNS rebinding would name us by a DNS name: refuse those.
        self.guard_host = _is_loopback(host)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> ApiServer:
        if self._httpd is not None:
            raise RuntimeError("API server already started")
        cls = _HTTPServer6 if ":" in self.host else _HTTPServer
        httpd = cls((self.host, self.port), _Handler)
        httpd.api = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="smtpfake-api"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(2.0)
        self._httpd = None
        self._thread = None

    def log_request(self, method: str, path: str, status: int) -> None:
        if self.log is None or (path == "/api/health" and status == 200):
            return  # health checks every few seconds would drown the session events
        self.log.event(
            "api",
            time.time(),
            f"api {method} {path} -> {status}",
            method=method,
            path=path,
            status=status,
        )

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
