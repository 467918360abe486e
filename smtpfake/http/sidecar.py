"""The API server: the aiohttp application on a socket, in the same event loop as SMTP.

``smtpfake serve`` awaits :meth:`ApiServer.open` and :meth:`ApiServer.aclose` in its own loop,
beside ``Server.serve``: one loop, no extra threads. Embedding code and tests may instead call
:meth:`ApiServer.start`/:meth:`ApiServer.stop`, which run that loop in one background thread.

Limits (RFC 9112 has none; these are the sidecar's): request headers must arrive within
``header_timeout`` seconds (also the keep-alive idle time), a body within ``body_timeout``; a body
is at most 1 MiB; the listen backlog is ``backlog``.
"""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from smtpfake.http.app import build_app
from smtpfake.http.context import SETTINGS, Settings
from smtpfake.http.events import EventHub
from smtpfake.http.fleet import MAIN, Fleet
from smtpfake.http.guards import Handler, client_log, is_loopback
from smtpfake.logging_observer import EventLog
from smtpfake.server import Server
from smtpfake.wire.loops import LoopThread


@web.middleware
async def _access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    log = request.app[SETTINGS].log
    # what changed something, or failed: successful reads (health checks every few seconds, the
    # page refreshing on every event) would drown the session events
    quiet = request.method in ("GET", "HEAD") and response.status < 400
    if request.path.endswith("/wait") and response.status in (200, 408):
        # a wait reads and changes nothing, and its client reports its own timeout: an
        # awaitable wait polls in 0.05 s slices (so a cancel ends it), each ending in a 408
        quiet = True
    if log is not None and not quiet and request.path.startswith("/api/"):
        # the clock of the server the call was about (a server on demand's, else the sidecar's),
        # as that server's session lines carry: a log after POST /api/clock stays in time order
        instances = request.app[SETTINGS].fleet.instances
        about = instances.get(request.match_info.get("sid", MAIN)) or instances[MAIN]
        log.event(
            "api",
            about.server.now(),
            f"api {request.method} {request.path} -> {response.status}",
            method=request.method,
            path=request.path,
            status=response.status,
        )
    return response


class ApiServer:
    """The HTTP API over ``server`` (the sidecar's own) and its servers on demand."""

    def __init__(
        self,
        server: Server,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        log: EventLog | None = None,
        server_ports: range | None = None,
        header_timeout: float = 10.0,
        body_timeout: float = 10.0,
        backlog: int = 128,
    ) -> None:
        self.server = server
        self.host = host
        self.port = port
        self.backlog = backlog
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.hub = EventHub()
        self.fleet = Fleet(server, self.hub, ports=server_ports, log=log)
        # Bound to loopback, only a local caller can reach us, and only a browser tricked by
        # DNS rebinding would name us by a DNS name: refuse those.
        self.guard_host = is_loopback(host)
        self.settings = Settings(self.fleet, self.hub, token or None, body_timeout, log)
        self.app = build_app(self.settings, self._report, self.guard_host)
        self.app.middlewares.insert(0, _access_log)  # outermost: it sees every answer
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._background: LoopThread | None = None

    def _report(self, error: BaseException) -> None:
        self.server.report_error(error, None)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- in the caller's loop ----------------------------------------------------------------------

    async def open(self) -> None:
        """Listen in the running loop and return (OSError when the address is taken)."""
        if self._runner is not None:
            raise RuntimeError("API server already started")
        self.hub.bind(asyncio.get_running_loop())
        runner = web.AppRunner(
            self.app,
            handle_signals=False,
            access_log=None,
            logger=client_log,  # a client's unparsable request: a 400 or a close, no traceback
            keepalive_timeout=self.header_timeout,
            # after an early answer (413, 408) what is left of a body is read away for at most
            # this long, so the client sees the answer rather than a reset; then the close
            lingering_time=self.body_timeout,
            shutdown_timeout=1.0,  # what is still running after the waits are woken: cut off
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, backlog=self.backlog, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]
        self._runner = runner

    async def aclose(self) -> None:
        """End event streams, close the servers on demand, stop listening."""
        runner = self._runner
        if runner is None:
            return
        self._runner = None
        self.hub.close()
        await self.fleet.close()
        await runner.cleanup()
        await self.settings.parsing.aclose()

    # -- in a background thread (embedding, tests) -------------------------------------------------

    def start(self) -> ApiServer:
        """Serve in a background thread's loop; returns once the socket accepts requests."""
        if self._thread is not None:
            raise RuntimeError("API server already started")
        runner = LoopThread(asyncio.new_event_loop(), "smtpfake-api", self.open, self.aclose)
        self._thread, self._loop = runner.thread, runner.loop
        self._background = runner
        try:
            runner.start()
        except BaseException:
            if not runner.thread.is_alive():
                self._background = self._thread = self._loop = None
            raise
        return self

    def stop(self, timeout: float = 5.0) -> None:
        runner = self._background
        if runner is None:
            return
        runner.stop(timeout)
        self._background = self._thread = self._loop = None

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
