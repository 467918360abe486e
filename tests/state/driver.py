"""Driving engine Sessions by hand for the state and counting tests: no sockets, no sleeps.

A :class:`Fake` is one server's worth of state (scenario, Shared, Journal, FakeClock); each
:meth:`Fake.connect` is a new connection. Replies come back as codes, so a test reads like a
conversation.
"""

from __future__ import annotations

from typing import Any

from smtpfake.engine import FakeClock, Session, Shared
from smtpfake.journal import Journal
from smtpfake.scenario import Scenario, resolve
from smtpfake.scenario.loader import load_mapping
from smtpfake.scenario.plan import Action, Close, Reset, Send

__all__ = ["Conn", "Fake", "rules"]


def rules(*rules: dict[str, Any], seed: int | None = None) -> Scenario:
    data: dict[str, Any] = {"rules": list(rules)}
    if seed is not None:
        data["seed"] = seed
    return load_mapping(data, name="test")


class Fake:
    def __init__(self, scenario: Scenario | str, *, seed: int | None = None) -> None:
        self.scenario = resolve(scenario) if isinstance(scenario, str) else scenario
        self.shared = Shared(seed=seed)
        self.journal = Journal()
        self.clock = FakeClock()

    def connect(self, peer: str = "192.0.2.10:40000") -> Conn:
        session = Session(self.scenario, self.shared, self.journal, peer=peer, clock=self.clock)
        return Conn(session)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)


class Conn:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.closed = False
        self.greeting = self._code(session.connect())

    def _code(self, actions: tuple[Action, ...]) -> int:
        assert not self.closed or not actions, "the session answered after closing"
        self.closed = self.closed or any(isinstance(a, Close | Reset) for a in actions)
        data = b"".join(a.data for a in actions if isinstance(a, Send))
        return int(data[:3]) if data else 0

    def cmd(self, line: str) -> int:
        """Send one command line; the reply code (0 when there was no reply)."""
        return self._code(self.session.receive(line.encode() + b"\r\n"))

    def ehlo(self) -> int:
        return self.cmd("EHLO client.test")

    def mail(self, sender: str = "a@x.test") -> int:
        return self.cmd(f"MAIL FROM:<{sender}>")

    def rcpt(self, recipient: str = "b@y.test") -> int:
        return self.cmd(f"RCPT TO:<{recipient}>")

    def send(self, sender: str = "a@x.test", *recipients: str) -> tuple[int, ...]:
        """One whole transaction, stopping at the first refusal (as smtplib does, then RSET).
        Returns the codes: MAIL, each RCPT, DATA, end of data."""
        codes = [self.mail(sender)]
        if codes[-1] != 250:
            return tuple(codes)
        accepted = 0
        for rcpt in recipients or ("b@y.test",):
            codes.append(self.rcpt(rcpt))
            accepted += codes[-1] == 250
            if self.closed:
                return tuple(codes)
        if not accepted:
            self.cmd("RSET")
            return tuple(codes)
        codes.append(self.cmd("DATA"))
        if codes[-1] != 354:
            return tuple(codes)
        self.session.receive(b"Subject: hi\r\n")
        self.session.receive(b"\r\n")
        self.session.receive(b"hello\r\n")
        codes.append(self._code(self.session.receive(b".\r\n")))
        return tuple(codes)

    def quit(self) -> None:
        if not self.closed:
            self.cmd("QUIT")
        self.session.disconnected()
