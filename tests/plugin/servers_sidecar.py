"""The real sidecar (a Server and its ApiServer, which makes servers on demand) for the plugin's
remote-mode tests, and a front that plays an older sidecar without ``POST /api/servers``.

``ServersSidecar.url`` is the sidecar's API; ``made`` counts the servers on demand it made,
``servers`` holds those still open, ``shared`` is the API of its own (``main``) server.
``without_servers_url`` forwards everything to the same API but answers 404 on ``/api/servers``,
as a sidecar from before servers on demand did.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from smtpfake.http import ApiServer
from smtpfake.http.fleet import MAIN, Instance
from smtpfake.server import Server


class ServersSidecar:
    def __init__(self) -> None:
        self.shared = ApiServer(Server("default").start()).start()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Older)
        self._httpd.target = self.shared.url  # type: ignore[attr-defined]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return self.shared.url

    @property
    def without_servers_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def made(self) -> int:
        return self.shared.fleet.made

    @property
    def servers(self) -> dict[str, Instance]:
        return {k: v for k, v in self.shared.fleet.instances.items() if k != MAIN}

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self.shared.stop()
        self.shared.server.stop()


class _Older(BaseHTTPRequestHandler):
    """Forwards to the real API, but knows nothing of servers on demand."""

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else None
        if self.path.split("?")[0].startswith("/api/servers"):
            self._answer(404, b'{"error": "no endpoint /api/servers"}')
            return
        target = self.server.target + self.path  # type: ignore[attr-defined]
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
        req = urllib.request.Request(target, data=data, method=self.command, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                self._answer(resp.status, resp.read(), resp.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as exc:
            self._answer(exc.code, exc.read(), exc.headers.get("Content-Type", ""))

    do_GET = do_POST = do_PUT = do_DELETE = _route
