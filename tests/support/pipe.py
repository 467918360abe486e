"""Driving an engine :class:`Connection` the way the wire does, on a FakeClock: bytes in, each
batch carried out (a Sleep moves the clock), every action reported back. No sockets, no sleeps.

A batch can be *held* part-way (``hold=True``): the test then feeds bytes, fires timers or
closes the client while the server is still "writing", and ``release()`` carries on.
"""

from __future__ import annotations

from smtpfake.engine import Session
from smtpfake.engine.connection import Connection
from smtpfake.journal import SessionRecord
from smtpfake.scenario.plan import (
    Action,
    ArmTimer,
    CancelTimer,
    Close,
    HalfClose,
    Reset,
    Send,
    Sleep,
    StartTLS,
)

from .engine import PEER, Engine


class Pipe:
    """One connection. ``wire`` holds every byte the server sent; ``ended`` says how it ended
    ("close", "reset") once it has; ``timers`` the armed timers (name -> seconds)."""

    def __init__(
        self, engine: Engine, *, peer: str = PEER, idle: float = 300.0, grace: float = 1.0
    ) -> None:
        self.engine = engine
        session = Session(
            engine.scenario, engine.shared, engine.journal, peer=peer, clock=engine.clock
        )
        self.conn = Connection(session, idle=idle, grace=grace)
        self.session = session
        self.wire = bytearray()
        self.timers: dict[str, float] = {}
        self.armed: dict[str, float] = {}  # when each timer was last armed (clock seconds)
        self.half_closed = False
        self.ended: str | None = None
        self.tls = False  # a StartTLS is waiting for tls_started() / tls_failed()
        self._held: list[Action] = []

    # -- events ---------------------------------------------------------------------------------

    def connect(self, *, hold: bool = False) -> bytes:
        return self._carry(self.conn.connected(), hold)

    def feed(self, data: bytes | str, *, hold: bool = False) -> bytes:
        """Bytes from the client (a str gets CRLF); returns what the server sent meanwhile."""
        if isinstance(data, str):
            data = data.encode() + b"\r\n"
        return self._carry(self.conn.receive_data(data), hold)

    def fire(self, name: str) -> bytes:
        assert name in self.timers, f"timer {name} is not armed"
        del self.timers[name]
        self._held = []  # a batch from a timer replaces the one under way
        return self._carry(self.conn.timer_fired(name), False)

    def eof(self) -> bytes:
        self._held = []
        return self._carry(self.conn.eof_received(), False)

    def lost(self, *, reset: bool = False) -> None:
        self.conn.connection_lost(reset=reset)
        self.ended = self.ended or ("reset" if reset else "close")

    def release(self, *, hold: bool = False) -> bytes:
        """Carry on with the held batch (its Sleep done: the clock moves); ``hold``: hold the
        next batch at its Sleep too."""
        held, self._held = self._held, []
        if hold and held and isinstance(held[0], Sleep):  # the Sleep it was held at is done
            self.engine.advance(held[0].seconds)
            self.conn.performed(held.pop(0))
        return self._run(held, hold)

    def finish(self) -> None:
        """The server closed: the wire reports the connection gone."""
        assert self.ended is not None
        self.conn.connection_lost()

    def due(self, name: str) -> float:
        """When the armed timer ``name`` runs out (clock seconds)."""
        return self.armed[name] + self.timers[name]

    # -- carrying out ----------------------------------------------------------------------------

    def _carry(self, actions: tuple[Action, ...], hold: bool) -> bytes:
        start = len(self.wire)
        self._run(list(actions), hold)
        return bytes(self.wire[start:])

    def _run(self, actions: list[Action], hold: bool) -> bytes:
        start = len(self.wire)
        while actions:
            batch = False
            for i, action in enumerate(actions):
                if isinstance(action, ArmTimer):
                    self.timers[action.name] = action.seconds
                    self.armed[action.name] = self.engine.clock.now()
                    continue
                if isinstance(action, CancelTimer):
                    self.timers.pop(action.name, None)
                    continue
                batch = True
                if isinstance(action, Sleep):
                    if hold:
                        self._held = actions[i:]
                        return bytes(self.wire[start:])
                    self.engine.advance(action.seconds)
                elif isinstance(action, Send):
                    self.wire += action.data
                elif isinstance(action, HalfClose):
                    self.half_closed = True
                elif isinstance(action, Close | Reset):
                    self.ended = "close" if isinstance(action, Close) else "reset"
                    self.conn.performed(action)
                    return bytes(self.wire[start:])
                elif isinstance(action, StartTLS):
                    self.conn.performed(action)
                    self.conn.before_tls()
                    self.tls = True
                    return bytes(self.wire[start:])
                self.conn.performed(action)
            if not batch:
                break
            actions = list(self.conn.done())
        return bytes(self.wire[start:])

    @property
    def record(self) -> SessionRecord:
        (found,) = [s for s in self.engine.journal.sessions() if s.index == self.session.index]
        return found
