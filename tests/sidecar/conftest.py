"""Fixtures for the sidecar tests: in-process API servers, and ``smtpfake serve`` as a subprocess.

Everything is bounded in time: HTTP and SMTP calls carry timeouts, waits poll with deadlines, and a
sidecar process is always stopped (SIGTERM, then SIGKILL) however the test ends.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from smtpfake.http import ApiServer
from smtpfake.server import Server

from ..support import SHARED_GRACE

TIMEOUT = 5.0
PEM_TYPE = "application/x-pem-file"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: Any  # the JSON value (text for the PEM of GET /api/tls/ca)

    def __repr__(self) -> str:
        return f"<{self.status} {json.dumps(self.body)[:300]}>"


def call(
    url: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
    timeout: float = TIMEOUT,
) -> Answer:
    """One HTTP request; any status comes back as an Answer (no raising on 4xx/5xx). Every answer
    is JSON but a PEM certificate (which comes back as text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    sent = dict(headers or {})
    if data is not None:
        sent.setdefault("Content-Type", content_type)
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url + path, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, got, text = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        status, got, text = exc.code, dict(exc.headers), exc.read()
    if got.get("Content-Type") == PEM_TYPE:
        return Answer(status, got, text.decode("ascii"))
    assert got.get("Content-Type") == "application/json", (status, got, text[:200])
    return Answer(status, got, json.loads(text))


@pytest.fixture(scope="session")
def shared_server() -> Iterator[Server]:
    server = Server("default", grace_period=SHARED_GRACE).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def shared_api(shared_server: Server) -> Iterator[ApiServer]:
    with ApiServer(shared_server) as api:
        yield api


@pytest.fixture
def api(shared_api: ApiServer) -> Iterator[ApiServer]:
    """An API over the shared in-process server, back at ``default`` with an empty journal."""
    server = shared_api.server
    server.use("default", seed=0)
    server.reset()
    yield shared_api
    errors = list(server.errors)
    server.use("default", seed=0)
    server.reset()
    assert not errors, "\n".join(str(e) for e in errors)


# -- smtpfake serve as a subprocess ----------------------------------------------------------------

_BANNER = re.compile(r"listening on (?P<host>\S+):(?P<port>\d+), playing")
_API = re.compile(r"control API on (?P<url>http://\S+?)/api/")


class Sidecar:
    """``python -m smtpfake serve ...``: its output read by threads, its ports from its banner."""

    def __init__(self, *args: str, env: Mapping[str, str] | None = None) -> None:
        full = {k: v for k, v in os.environ.items() if not k.startswith("SMTPFAKE_")}
        full.update(env or {})
        self.args = [sys.executable, "-m", "smtpfake", "serve", *args]
        self.api_expected = "--api-port" in args or bool(full.get("SMTPFAKE_API_PORT"))
        self.proc = subprocess.Popen(
            self.args,
            cwd=REPO,
            env=full,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, None), daemon=True),
        ]
        for t in self._threads:
            t.start()
        self.smtp_host = ""
        self.smtp_port = 0
        self.url = ""

    def _pump(self, stream: Any, into: list[str] | None) -> None:
        for line in stream:
            if into is None:
                self.stderr.append(line)
            else:
                into.append(line)
                self.lines.put(line)

    def line(self, timeout: float = TIMEOUT) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"no output from {self.args} in {timeout}s; {self.output()}"
            ) from None

    def output(self) -> str:
        return f"stdout: {''.join(self.stdout)!r} stderr: {''.join(self.stderr)!r}"

    def wait_ready(self, timeout: float = 60.0) -> Sidecar:
        """Read the banner (text or JSON), then poll /api/health until it says ready. The wait
        is long: on a loaded machine serve took 9-13 s of wall time (0.7 s of CPU) to start
        (fresh19 N1); a healthy start returns at once."""
        deadline = time.monotonic() + timeout
        api_expected = self.api_expected
        while not self.smtp_port or (api_expected and not self.url):
            if self.proc.poll() is not None:
                self._drain()
                raise AssertionError(f"smtpfake exited {self.proc.returncode}; {self.output()}")
            line = self.line(max(0.1, deadline - time.monotonic()))
            if line.startswith("{"):
                event = json.loads(line)
                if event.get("event") == "listening":
                    self.smtp_host = event["smtp"]["host"]
                    self.smtp_port = event["smtp"]["port"]
                    self.url = event["api"] or ""
                    break
            elif m := _BANNER.search(line):
                self.smtp_host, self.smtp_port = m["host"], int(m["port"])
            elif m := _API.search(line):
                self.url = m["url"]
        if self.url:
            for _ in range(200):
                if call(self.url, "GET", "/api/health").status == 200:
                    break
                assert time.monotonic() < deadline, f"never ready; {self.output()}"
                time.sleep(0.02)
        return self

    def _drain(self) -> None:
        for t in self._threads:
            t.join(2.0)

    def signal(self, sig: int = signal.SIGTERM) -> float:
        """Send ``sig``; return how long the process took to exit."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(5.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5.0)
            raise AssertionError(f"smtpfake did not exit on {sig!r}; {self.output()}") from None
        elapsed = time.monotonic() - started
        self._drain()
        return elapsed

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5.0)
        self._drain()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def sidecar_factory() -> Iterator[Callable[..., Sidecar]]:
    """Start sidecars (``factory(*args, env=...)``); all are stopped after the test."""
    started: list[Sidecar] = []

    def start(*args: str, env: Mapping[str, str] | None = None, ready: bool = True) -> Sidecar:
        car = Sidecar(*args, env=env)
        started.append(car)
        return car.wait_ready() if ready else car

    yield start
    for car in started:
        car.stop()


@pytest.fixture(scope="session")
def shared_sidecar() -> Iterator[Sidecar]:
    """One ``smtpfake serve`` process for the tests that drive it with outside clients."""
    car = Sidecar("--port", "0", "--api-port", "0")
    try:
        yield car.wait_ready()
    finally:
        car.stop()


@pytest.fixture
def sidecar(shared_sidecar: Sidecar) -> Iterator[Sidecar]:
    """The shared sidecar, back at ``default`` with an empty journal."""
    url = shared_sidecar.url
    assert call(url, "PUT", "/api/scenario", {"name": "default", "seed": 0}).status == 200
    assert call(url, "POST", "/api/reset").status == 200
    yield shared_sidecar
    assert shared_sidecar.proc.poll() is None, shared_sidecar.output()
    assert "Traceback" not in "".join(shared_sidecar.stderr), shared_sidecar.output()
