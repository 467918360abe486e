"""Driving engine Sessions by hand: lines in, actions out; no sockets, no sleeps (a FakeClock).

An :class:`Engine` is one fake server's worth of state (scenario, shared counters, journal,
clock); each :meth:`Engine.open` is a new connection, driven by a :class:`Driver`.
"""

from __future__ import annotations

from smtpfake.engine import FakeClock, Session, Shared, Violation
from smtpfake.journal import Journal, SessionRecord
from smtpfake.scenario import ScenarioRef, resolve
from smtpfake.scenario.plan import Action, Close, Reset, Send, StartTLS

PEER = "127.0.0.1:40000"
# A small whole message (52 bytes) with the headers a real client sends.
MAIL = b"From: a@x.test\r\nTo: b@x.test\r\nSubject: hi\r\n\r\nhello\r\n"


def sent(actions: tuple[Action, ...], *, only_send: bool = False) -> bytes:
    """The bytes the actions put on the wire; ``only_send`` asserts there was nothing else."""
    if only_send:
        assert all(isinstance(a, Send) for a in actions), actions
    return b"".join(a.data for a in actions if isinstance(a, Send))


class Engine:
    """One fake server's worth of state: a scenario, the shared counters, a journal, a clock."""

    def __init__(self, ref: ScenarioRef = "default", *, seed: int | None = None) -> None:
        self.scenario = resolve(ref)
        self.shared = Shared(seed=seed)
        self.journal = Journal()
        self.clock = FakeClock()

    def open(self, peer: str = PEER) -> Driver:
        """A new connection (the next connection number); not yet greeted."""
        session = Session(self.scenario, self.shared, self.journal, peer=peer, clock=self.clock)
        return Driver(self, session)

    def connect(self, peer: str = PEER) -> Driver:
        """A new connection that has had its greeting (its code in ``greeting``)."""
        driver = self.open(peer)
        driver.connect()
        return driver

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)


class Driver:
    """One connection. Tracks whether the server closed it, and fails if it speaks after that."""

    def __init__(self, engine: Engine, session: Session) -> None:
        self.engine = engine
        self.session = session
        self.closed = False
        self.greeting = 0

    def _seen(self, actions: tuple[Action, ...]) -> tuple[Action, ...]:
        assert not self.closed or not actions, "the session answered after closing"
        for action in actions:  # as the wire would: each carried out at once, then recorded
            self.session.performed(action)
        self.closed = self.closed or any(isinstance(a, Close | Reset) for a in actions)
        return actions

    def event(self, actions: tuple[Action, ...]) -> tuple[Action, ...]:
        """What the session answered to an event (a timer, TLS up), carried out as the wire
        would (so the transcript has it)."""
        return self._seen(actions)

    def connect(self) -> tuple[Action, ...]:
        actions = self._seen(self.session.connect())
        self.greeting = _code(sent(actions))
        return actions

    def send(self, line: str | bytes, *, pipelined: bool = False) -> tuple[Action, ...]:
        """One client line (a str gets CRLF added); the actions that came back."""
        data = line if isinstance(line, bytes) else line.encode("utf-8") + b"\r\n"
        return self._seen(self.session.receive(data, pipelined=pipelined))

    def reply(self, line: str | bytes, *, pipelined: bool = False, only_send: bool = True) -> bytes:
        """The bytes sent back for one line; by default asserting that only Send actions came."""
        return sent(self.send(line, pipelined=pipelined), only_send=only_send)

    def code(self, line: str | bytes) -> int:
        """The reply code to one line, asserting that only Send actions came back."""
        return int(self.reply(line)[:3])

    def cmd(self, line: str) -> int:
        """The reply code to one line whatever else happened (a delay, a close); 0 for none."""
        return _code(sent(self.send(line)))

    def greet(self, hello: str = "EHLO client.test") -> bytes:
        """Connect (a 220) and say HELO/EHLO (a 250); the reply to the hello."""
        assert sent(self.connect(), only_send=True).startswith(b"220 ")
        reply = self.reply(hello)
        assert reply[:3] == b"250", reply
        return reply

    def ehlo(self) -> int:
        return self.cmd("EHLO client.test")

    def ehlo_keywords(self) -> list[str]:
        """The EHLO reply's extension lines (without the hostname line), all asserted 250."""
        data = self.reply("EHLO client.test", only_send=False)
        lines = data.decode().split("\r\n")[:-1]
        assert all(line.startswith("250") for line in lines), data
        return [line[4:] for line in lines[1:]]

    def mail(self, sender: str = "a@x.test") -> int:
        return self.cmd(f"MAIL FROM:<{sender}>")

    def rcpt(self, recipient: str = "b@y.test") -> int:
        return self.cmd(f"RCPT TO:<{recipient}>")

    def transaction(
        self,
        sender: str = "a@x.test",
        *rcpts: str,
        body: bytes = b"Subject: t\r\n\r\nhi\r\n",
        mail: str = "",
    ) -> bytes:
        """MAIL (the line ``mail`` if given, e.g. with parameters), RCPTs (b@x.test if none),
        DATA, the body and the final dot, each asserted accepted; returns the reply to the dot."""
        assert self.code(mail or f"MAIL FROM:<{sender}>") == 250
        for rcpt in rcpts or ("b@x.test",):
            assert self.code(f"RCPT TO:<{rcpt}>") == 250
        assert self.code("DATA") == 354
        for line in body.splitlines(keepends=True):
            assert self.send(line) == ()
        return self.reply(".")

    def deliver(self, sender: str = "a@x.test", *recipients: str) -> tuple[int, ...]:
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
        for line in (b"Subject: hi\r\n", b"\r\n", b"hello\r\n"):
            self.session.receive(line)
        codes.append(self.cmd("."))
        return tuple(codes)

    def secure(self) -> tuple[Action, ...]:
        """STARTTLS accepted and the handshake done, as the wire reports it."""
        actions = self.send("STARTTLS")
        assert sent(actions) == b"220 2.0.0 Ready to start TLS\r\n"
        assert actions[-1] == StartTLS()
        return self._seen(self.session.tls_started("TLSv1.3", "TLS_AES_256_GCM_SHA384"))

    def quit(self) -> None:
        if not self.closed:
            self.cmd("QUIT")
        self.session.disconnected()

    @property
    def record(self) -> SessionRecord:
        (found,) = [s for s in self.engine.journal.sessions() if s.index == self.session.index]
        return found

    @property
    def violations(self) -> tuple[Violation, ...]:
        return self.record.violations

    def kinds(self) -> list[str]:
        return [v.kind for v in self.violations]


def _code(data: bytes) -> int:
    return int(data[:3]) if data else 0
