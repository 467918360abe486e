"""Helpers for the violation, timer and body-cut tests: an engine driver (no sockets, a fake
clock) and a raw socket client. Every read has a socket timeout; every wait a deadline."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from smtpfake.engine import FakeClock, Session, Shared
from smtpfake.journal import Journal, SessionRecord
from smtpfake.scenario import ScenarioRef, resolve
from smtpfake.scenario.plan import Action, Send
from smtpfake.server import Server

TIMEOUT = 5.0
MAIL = b"From: a@x.test\r\nTo: b@x.test\r\nSubject: hi\r\n\r\nhello\r\n"


def scenario(*rules: dict[str, Any], **server: Any) -> dict[str, Any]:
    """A scenario as a dict, the way ``server.use({...})`` takes it."""
    out: dict[str, Any] = {"summary": "test scenario", "expect": "whatever the test says"}
    if rules:
        out["rules"] = list(rules)
    if server:
        out["server"] = server
    return out


def sent(actions: tuple[Action, ...]) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, Send))


class Engine:
    """One fake server's state without sockets: scenario, counters, journal, a fake clock."""

    def __init__(self, ref: ScenarioRef = "default") -> None:
        self.scenario = resolve(ref)
        self.shared = Shared()
        self.journal = Journal()
        self.clock = FakeClock()

    def open(self, peer: str = "127.0.0.1:40000") -> Client:
        session = Session(self.scenario, self.shared, self.journal, peer=peer, clock=self.clock)
        return Client(self, session)


class Client:
    """Drives one engine session the way the wire would."""

    def __init__(self, engine: Engine, session: Session) -> None:
        self.engine = engine
        self.session = session

    def send(self, line: str | bytes, *, pipelined: bool = False) -> bytes:
        """One line (a str gets CRLF); the bytes the server sends back."""
        data = line if isinstance(line, bytes) else line.encode() + b"\r\n"
        return sent(self.session.receive(data, pipelined=pipelined))

    def greet(self, ehlo: str = "EHLO client.test") -> None:
        assert sent(self.session.connect()).startswith(b"220 ")
        assert self.send(ehlo)[:3] == b"250"

    def message(
        self, body: bytes = MAIL, mail: str = "MAIL FROM:<a@x.test>", rcpt: str = "b@x.test"
    ) -> bytes:
        """MAIL, RCPT, DATA, the body's lines and the final dot; the reply to the dot."""
        assert self.send(mail)[:3] == b"250"
        assert self.send(f"RCPT TO:<{rcpt}>")[:3] == b"250"
        assert self.send("DATA")[:3] == b"354"
        for line in body.splitlines(keepends=True):
            assert self.send(line) == b""
        return self.send(".")

    @property
    def record(self) -> SessionRecord:
        (found,) = [s for s in self.engine.journal.sessions() if s.index == self.session.index]
        return found

    def kinds(self) -> list[str]:
        return [v.kind for v in self.record.violations]


class Raw:
    """A plain socket client: exact bytes in and out."""

    def __init__(self, server: Server, timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        return self.file.readline(4096)

    def reply(self) -> bytes:
        """One whole reply (every line of a multi-line one)."""
        out = b""
        for _ in range(100):
            line = self.line()
            assert line, f"EOF inside a reply after {out!r}"
            out += line
            if line[3:4] != b"-":
                return out
        raise AssertionError(f"reply longer than 100 lines: {out[:200]!r}")

    def command(self, text: str) -> bytes:
        self.send(text.encode() + b"\r\n")
        return self.reply()

    def rest(self) -> bytes:
        """Everything until the server closes; ECONNRESET counts as closed."""
        out = b""
        try:
            for _ in range(1000):
                chunk = self.file.read1(65536)
                if not chunk:
                    return out
                out += chunk
        except ConnectionResetError:
            return out
        raise AssertionError(f"the server kept sending: {out[:200]!r}")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def wait_until(predicate: Callable[[], Any], timeout: float = 2.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.005)


def ended_sessions(server: Server, count: int, timeout: float = 2.0) -> tuple[SessionRecord, ...]:
    """Wait until ``count`` sessions exist and all have ended; return them (exactly ``count``)."""

    def done() -> tuple[SessionRecord, ...] | None:
        sessions = server.sessions
        if len(sessions) >= count and all(s.ended is not None for s in sessions):
            return sessions
        return None

    sessions: tuple[SessionRecord, ...] = wait_until(done, timeout, f"{count} ended sessions")
    assert len(sessions) == count, [s.format() for s in sessions]
    return sessions


def kinds(record: SessionRecord) -> list[str]:
    return [v.kind for v in record.violations]
