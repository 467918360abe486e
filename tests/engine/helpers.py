"""Driving an engine Session by hand: lines in, actions out, no sockets, no sleeps."""

from __future__ import annotations

from smtpfake.engine import FakeClock, Session, Shared, Violation
from smtpfake.journal import Journal, SessionRecord
from smtpfake.scenario import ScenarioRef, resolve
from smtpfake.scenario.plan import Action, Close, Reset, Send, Sleep

__all__ = ["Close", "Driver", "Engine", "Reset", "Send", "Sleep", "sent"]


class Engine:
    """One fake server's worth of state: a scenario, the shared counters, a journal, a clock."""

    def __init__(self, ref: ScenarioRef = "default") -> None:
        self.scenario = resolve(ref)
        self.shared = Shared()
        self.journal = Journal()
        self.clock = FakeClock()

    def open(self) -> Driver:
        """A new connection (the next connection number); not yet greeted."""
        session = Session(
            self.scenario, self.shared, self.journal, peer="127.0.0.1:40000", clock=self.clock
        )
        return Driver(self, session)


class Driver:
    def __init__(self, engine: Engine, session: Session) -> None:
        self.engine = engine
        self.session = session

    def connect(self) -> tuple[Action, ...]:
        return self.session.connect()

    def send(self, line: str | bytes) -> tuple[Action, ...]:
        """One client line; a str gets CRLF added."""
        data = line if isinstance(line, bytes) else line.encode("utf-8") + b"\r\n"
        return self.session.receive(data)

    def reply(self, line: str | bytes) -> bytes:
        """The bytes sent back for one line, asserting that only Send actions came back."""
        return sent(self.send(line), only_send=True)

    def code(self, line: str | bytes) -> int:
        return int(self.reply(line)[:3])

    def greet(self, ehlo: str = "EHLO client.test") -> None:
        assert sent(self.connect(), only_send=True).startswith(b"220 ")
        assert self.reply(ehlo)[:3] == b"250"

    def transaction(
        self, sender: str, *rcpts: str, body: bytes = b"Subject: t\r\n\r\nhi\r\n"
    ) -> bytes:
        """MAIL, RCPTs, DATA, body and the final dot; returns the reply to the dot."""
        assert self.code(f"MAIL FROM:<{sender}>") == 250
        for rcpt in rcpts:
            assert self.code(f"RCPT TO:<{rcpt}>") == 250
        assert self.code("DATA") == 354
        for line in body.splitlines(keepends=True):
            assert self.send(line) == ()
        return self.reply(".")

    @property
    def record(self) -> SessionRecord:
        (found,) = [s for s in self.engine.journal.sessions() if s.index == self.session.index]
        return found

    @property
    def violations(self) -> tuple[Violation, ...]:
        return self.record.violations

    def kinds(self) -> list[str]:
        return [v.kind for v in self.violations]


def sent(actions: tuple[Action, ...], *, only_send: bool = False) -> bytes:
    if only_send:
        assert all(isinstance(a, Send) for a in actions), actions
    return b"".join(a.data for a in actions if isinstance(a, Send))
