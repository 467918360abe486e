"""A sidecar front that makes servers on demand, per the contract in smtpfake/servers_on_demand.py.

For the plugin's tests until the real sidecar grows ``POST /api/servers``: each POST starts a real
:class:`Server` with its own real :class:`ApiServer`; ``/api/servers/{id}/X`` is forwarded to that
API's ``/api/X``; ``DELETE /api/servers/{id}`` stops both. Everything else goes to a shared one.
"""

from __future__ import annotations

import itertools
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from smtpfake.http_api import ApiServer
from smtpfake.server import Server


class ServersSidecar:
    def __init__(self) -> None:
        self.shared = ApiServer(Server("default").start()).start()
        self.servers: dict[str, ApiServer] = {}
        self.made = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.sidecar = self  # type: ignore[attr-defined]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def create(self, body: dict[str, object]) -> dict[str, object]:
        seed = body.get("seed")
        server = Server(
            str(body.get("scenario") or "default"), seed=seed if isinstance(seed, int) else None
        )
        api = ApiServer(server.start()).start()
        with self._lock:
            sid = str(next(self._ids))
            self.servers[sid] = api
            self.made += 1
        return {"id": sid, "smtp_port": server.port, "url": f"{self.url}/api/servers/{sid}"}

    def delete(self, sid: str) -> bool:
        with self._lock:
            api = self.servers.pop(sid, None)
        if api is None:
            return False
        api.stop()
        api.server.stop()
        return True

    def close(self) -> None:
        for sid in list(self.servers):
            self.delete(sid)
        self._httpd.shutdown()
        self.shared.stop()
        self.shared.server.stop()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> None:
        sidecar: ServersSidecar = self.server.sidecar  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else None
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[:2] == ["api", "servers"] and len(parts) == 2 and self.command == "POST":
            answer = sidecar.create(json.loads(data or b"{}"))
            self._answer(201, json.dumps(answer).encode())
            return
        if parts[:2] == ["api", "servers"] and len(parts) == 3 and self.command == "DELETE":
            found = sidecar.delete(parts[2])
            self._answer(200 if found else 404, b"{}")
            return
        if parts[:2] == ["api", "servers"] and len(parts) >= 4:
            api = sidecar.servers.get(parts[2])
            if api is None:
                self._answer(404, b'{"error": "no such server"}')
                return
            rest = "/".join(parts[3:]) + (
                ("?" + self.path.split("?", 1)[1]) if "?" in self.path else ""
            )
            target = f"{api.url}/api/{rest}"
        else:
            target = sidecar.shared.url + self.path
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
        req = urllib.request.Request(target, data=data, method=self.command, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                self._answer(resp.status, resp.read(), resp.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as exc:
            self._answer(exc.code, exc.read(), exc.headers.get("Content-Type", ""))

    do_GET = do_POST = do_PUT = do_DELETE = _route
