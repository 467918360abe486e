"""Helpers for the AUTH tests: an engine driver (no sockets, no sleeps) and scenario builders."""

from __future__ import annotations

import base64
from typing import Any

from smtpfake.engine import FakeClock, Session, Shared
from smtpfake.journal import Journal, SessionRecord
from smtpfake.scenario import Scenario, resolve
from smtpfake.scenario.loader import load_mapping
from smtpfake.scenario.plan import Action, Send

USERS = {"alice": "secret", "bob": "hunter2"}
TIMEOUT = 5.0


def auth_scenario(*rules: dict[str, Any], **auth: Any) -> dict[str, Any]:
    """A scenario dict with ``server.auth`` (users alice/secret and bob/hunter2 by default)."""
    out: dict[str, Any] = {
        "summary": "auth test",
        "expect": "whatever the test says",
        "server": {"auth": {"users": USERS, **auth}},
    }
    if rules:
        out["rules"] = list(rules)
    return out


def b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def plain(user: str, password: str, authzid: str = "") -> str:
    """An RFC 4616 PLAIN response, base64-encoded."""
    return b64(f"{authzid}\0{user}\0{password}")


class Fake:
    """One server's worth of engine state; each open() is a new connection."""

    def __init__(self, scenario: Scenario | dict[str, Any] | str) -> None:
        if isinstance(scenario, dict):
            scenario = load_mapping(scenario, name="test")
        self.scenario = resolve(scenario) if isinstance(scenario, str) else scenario
        self.shared = Shared()
        self.journal = Journal()
        self.clock = FakeClock()

    def open(self) -> Conn:
        session = Session(
            self.scenario, self.shared, self.journal, peer="127.0.0.1:40000", clock=self.clock
        )
        return Conn(self, session)


class Conn:
    def __init__(self, fake: Fake, session: Session) -> None:
        self.fake = fake
        self.session = session

    def greet(self, hello: str = "EHLO client.test") -> bytes:
        """Connect and send HELO/EHLO; returns the reply to it."""
        assert sent(self.session.connect()).startswith(b"220 ")
        return self.reply(hello)

    def send(self, line: str | bytes) -> tuple[Action, ...]:
        data = line if isinstance(line, bytes) else line.encode() + b"\r\n"
        return self.session.receive(data)

    def reply(self, line: str | bytes) -> bytes:
        actions = self.send(line)
        assert all(isinstance(a, Send) for a in actions), actions
        return sent(actions)

    def code(self, line: str | bytes) -> int:
        return int(self.reply(line)[:3])

    @property
    def record(self) -> SessionRecord:
        (found,) = [s for s in self.fake.journal.sessions() if s.index == self.session.index]
        return found

    def kinds(self) -> list[str]:
        return [v.kind for v in self.record.violations]


def sent(actions: tuple[Action, ...]) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, Send))
