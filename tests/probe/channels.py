"""The two :class:`careful.Channel` implementations: the engine driven by hand (sans-I/O, a
FakeClock: waits cost nothing) and a real socket to a running Server."""

from __future__ import annotations

import contextlib
import socket
import ssl

from smtpfake.scenario.plan import Action, Close, Reset, Send, Sleep, StartTLS
from tests.probe.careful import Reply
from tests.support.engine import Engine

#: how long a client waits for a reply (RFC 5321 §4.5.3.2 asks for minutes)
CLIENT_TIMEOUT = 300.0


def parse(data: bytes) -> tuple[Reply, bytes]:
    """The first whole reply in ``data`` (code 0 if there is none) and what follows it."""
    lines: list[str] = []
    rest = data
    while b"\n" in rest:
        raw, _, rest = rest.partition(b"\n")
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        lines.append(line[4:])
        if len(line) < 4 or line[3] != "-":
            code = int(line[:3]) if line[:3].isdigit() else 0
            return (code, lines), rest
    return (0, []), b""


def _stuffed(body: bytes) -> list[bytes]:
    """The message lines as sent: dot-stuffed, the last one ended, then the final "."."""
    lines = body.splitlines(keepends=True)
    if lines and not lines[-1].endswith(b"\n"):
        lines[-1] += b"\r\n"
    return [b"." + ln if ln.startswith(b".") else ln for ln in lines] + [b".\r\n"]


class EngineChannel:
    """One engine session. Sleeps advance the fake clock; one longer than the client's timeout
    ends the connection as a timed-out client would."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.driver = engine.open()
        self.gone = False
        self.tls_pending: StartTLS | None = None
        self.leftover = b""

    def _reply(self, actions: tuple[Action, ...]) -> Reply:
        data = b""
        for action in actions:
            if isinstance(action, Sleep):
                if action.seconds > CLIENT_TIMEOUT and not data:
                    self.close()  # the client gives up waiting
                    return 0, []
                self.engine.advance(action.seconds)
            elif isinstance(action, Send):
                data += action.data
            elif isinstance(action, Close | Reset):
                self.gone = True
            elif isinstance(action, StartTLS):
                self.tls_pending = action
        reply, self.leftover = parse(data)
        return reply

    def greeting(self) -> Reply:
        reply = self._reply(self.driver.connect())
        pending, self.tls_pending = self.tls_pending, None
        if pending is not None:  # implicit TLS: the handshake comes before the greeting
            if pending.cut_after is not None or self.gone:
                self.driver.session.tls_failed("handshake failed")
                return 0, []
            reply = self._reply(self.driver.session.tls_started("TLSv1.3", "TLS_AES"))
        return reply

    def command(self, line: str) -> Reply:
        return self._reply(self.driver.send(line))

    def message(self, body: bytes) -> Reply:
        actions: tuple[Action, ...] = ()
        for line in _stuffed(body):
            actions = self.driver.send(line)
            if any(isinstance(a, Close | Reset) for a in actions):
                break
        return self._reply(actions)

    def starttls(self) -> bool:
        pending, self.tls_pending = self.tls_pending, None
        if pending is None or pending.cut_after is not None or self.leftover or self.gone:
            self.driver.session.tls_failed("handshake failed")
            self.gone = True
            return False
        if not self.driver.closed:
            self._reply(self.driver.session.tls_started("TLSv1.3", "TLS_AES"))
        return True

    def close(self) -> None:
        if not self.gone:
            self.gone = True
        self.driver.session.disconnected()


class SocketChannel:
    """One TCP connection (TLS when asked), reading replies with a timeout."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext, implicit: bool) -> None:
        self.context = context
        self.sock: socket.socket = socket.create_connection((host, port), timeout=10)
        self.buffer = b""
        if implicit:
            try:
                self.sock = context.wrap_socket(self.sock, server_hostname="localhost")
            except (OSError, ssl.SSLError):
                self.sock.close()

    def _read(self) -> Reply:
        for _ in range(10_000):  # bounded: each recv has the socket timeout
            reply, rest = parse(self.buffer)
            if reply[0]:
                self.buffer = rest
                return reply
            try:
                chunk = self.sock.recv(65536)
            except (OSError, ssl.SSLError):
                return 0, []
            if not chunk:
                return 0, []
            self.buffer += chunk
        return 0, []

    def _send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
        except (OSError, ssl.SSLError):
            return False
        return True

    def greeting(self) -> Reply:
        return self._read()

    def command(self, line: str) -> Reply:
        if not self._send(line.encode("utf-8") + b"\r\n"):
            return 0, []
        return self._read()

    def message(self, body: bytes) -> Reply:
        if not self._send(b"".join(_stuffed(body))):
            return 0, []
        return self._read()

    def starttls(self) -> bool:
        if self.buffer:
            return False  # plain text after the 220: not a TLS server hello
        try:
            self.sock = self.context.wrap_socket(self.sock, server_hostname="localhost")
        except (OSError, ssl.SSLError):
            return False
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
