"""The journal: every session and accepted message, bounded, safe to read from any thread."""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from smtpfake.engine.records import Message, Outcome, SessionInfo, TranscriptEntry, Violation

T = TypeVar("T")

#: near misses a session's format() lists (a failure report stays readable with many rules)
NEAR_MISSES_SHOWN = 20


@dataclass(frozen=True)
class SessionRecord:
    """A snapshot of one session: its transcript, violations and accepted messages."""

    index: int
    peer: str
    started: float
    ended: float | None
    transcript: tuple[TranscriptEntry, ...]
    violations: tuple[Violation, ...]
    messages: tuple[Message, ...]
    #: who AUTH succeeded for (RFC 4954); "" when a rule accepted it with no name given
    auth_user: str | None = None
    #: the session ran over TLS (STARTTLS or implicit); version and cipher are in the transcript
    tls: bool = False
    #: how the rules met each command on a stage that has rules (which fired, near misses)
    outcomes: tuple[Outcome, ...] = ()

    @property
    def rule_hits(self) -> dict[str, int]:
        """Rule label -> how many times it fired in this session (rules that never fired are
        left out)."""
        return dict(Counter(o.fired for o in self.outcomes if o.fired is not None))

    @property
    def near_misses(self) -> tuple[str, ...]:
        """``COMMAND: LABEL: why`` for every rule on a command's stage that did not fire."""
        return tuple(
            f"{o.stage.upper()} {o.argument}".rstrip() + f": {m}"
            for o in self.outcomes
            for m in o.misses
        )

    @property
    def commands(self) -> tuple[str, ...]:
        """What the client sent, in order (its close is in the transcript, not here)."""
        return tuple(e.text for e in self.transcript if e.side == "client" and not e.event)

    @property
    def replies(self) -> tuple[str, ...]:
        return tuple(e.text for e in self.transcript if e.side == "server")

    @property
    def reply_codes(self) -> tuple[int, ...]:
        return tuple(int(r[:3]) for r in self.replies if r[:3].isdigit())

    def format(self) -> str:
        head = f"session {self.index} from {self.peer or '?'}"
        if self.tls:
            head += ", over TLS"
        if self.auth_user is not None:
            head += f", authenticated as {self.auth_user!r}"
        lines = [head, *(f"  {line}" for e in self.transcript for line in str(e).split("\n"))]
        lines += [f"  ! {v}" for v in self.violations]
        hits = self.rule_hits
        if hits:
            lines.append("  rules fired: " + ", ".join(f"{k} x{n}" for k, n in hits.items()))
        misses = self.near_misses
        lines += [f"  ? {m}" for m in misses[:NEAR_MISSES_SHOWN]]
        if len(misses) > NEAR_MISSES_SHOWN:
            lines.append(
                f"  ? ... and {len(misses) - NEAR_MISSES_SHOWN} more (session.near_misses)"
            )
        return "\n".join(lines)


@dataclass
class _Live:
    info: SessionInfo
    # each bounded like the journal itself: one client can keep a session going for ever
    transcript: deque[TranscriptEntry]
    violations: deque[Violation]
    messages: deque[Message]
    ended: float | None = None
    auth_user: str | None = None
    tls: bool = False
    outcomes: deque[Outcome] = field(default_factory=deque)

    def snapshot(self) -> SessionRecord:
        return SessionRecord(
            index=self.info.index,
            peer=self.info.peer,
            started=self.info.started,
            ended=self.ended,
            transcript=tuple(self.transcript),
            violations=tuple(self.violations),
            messages=tuple(self.messages),
            auth_user=self.auth_user,
            tls=self.tls,
            outcomes=tuple(self.outcomes),
        )


class Journal:
    """Implements the engine's Observer. Writers are the server loop; readers are any thread."""

    def __init__(
        self, max_sessions: int = 10_000, max_messages: int = 10_000, max_entries: int = 10_000
    ) -> None:
        self._cond = threading.Condition()
        self._sessions: OrderedDict[int, _Live] = OrderedDict()
        self._messages: deque[Message] = deque(maxlen=max_messages)
        self._max_sessions = max_sessions
        self._max_entries = max_entries
        self._max_messages = max_messages

    # -- Observer --------------------------------------------------------------------------------

    def started(self, info: SessionInfo) -> None:
        with self._cond:
            # Keyed by the info object, not its index: use() restarts connection numbers, so two
            # sessions in one journal can share an index. The entry holds info, so ids stay unique.
            self._sessions[id(info)] = _Live(
                info,
                deque(maxlen=self._max_entries),
                deque(maxlen=self._max_entries),
                deque(maxlen=self._max_messages),
                outcomes=deque(maxlen=self._max_entries),
            )
            while len(self._sessions) > self._max_sessions:
                self._sessions.popitem(last=False)
            self._cond.notify_all()

    def _live(self, info: SessionInfo) -> _Live | None:
        live = self._sessions.get(id(info))
        return live if live is not None and live.info is info else None

    def transcript(self, info: SessionInfo, entry: TranscriptEntry) -> None:
        with self._cond:
            if live := self._live(info):
                live.transcript.append(entry)

    def violation(self, info: SessionInfo, violation: Violation) -> None:
        with self._cond:
            if live := self._live(info):
                live.violations.append(violation)

    def message(self, info: SessionInfo, message: Message) -> None:
        with self._cond:
            if live := self._live(info):
                live.messages.append(message)
                self._messages.append(message)
                self._cond.notify_all()

    def authenticated(self, info: SessionInfo, user: str) -> None:
        with self._cond:
            if live := self._live(info):
                live.auth_user = user
                self._cond.notify_all()

    def secured(self, info: SessionInfo, version: str, cipher: str) -> None:
        with self._cond:
            if live := self._live(info):
                live.tls = True
                self._cond.notify_all()

    def outcome(self, info: SessionInfo, outcome: Outcome) -> None:
        with self._cond:
            if live := self._live(info):
                live.outcomes.append(outcome)

    def ended(self, info: SessionInfo, time: float) -> None:
        with self._cond:
            if live := self._live(info):
                live.ended = time
                self._cond.notify_all()

    # -- reading ---------------------------------------------------------------------------------

    def sessions(self) -> tuple[SessionRecord, ...]:
        with self._cond:
            return tuple(s.snapshot() for s in self._sessions.values())

    def messages(self) -> tuple[Message, ...]:
        with self._cond:
            return tuple(self._messages)

    def clear(self) -> None:
        with self._cond:
            self._sessions.clear()
            self._messages.clear()
            self._cond.notify_all()

    def wait(self, predicate: Callable[[Journal], T], timeout: float) -> T:
        """Block until ``predicate(self)`` is truthy or ``timeout`` passes; return its value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self)
                remaining = deadline - time.monotonic()
                if value or remaining <= 0:
                    return value
                # Condition.wait releases the lock; readers inside predicate re-take it (RLock).
                self._cond.wait(min(remaining, 0.5))
