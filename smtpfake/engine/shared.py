"""State shared by all sessions of one server: connection numbers, rule firings and counters,
the named state, queue ids.

It lives as long as the scenario is in force; switching scenario or resetting starts a new one.
Only the :class:`Numbering` (session numbers and queue ids) outlives a switch: the journal keeps
the older sessions, so their numbers must stay unique until the reset that clears it.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import field

from smtpfake.frozen_dataclass import mutable_dataclass
from smtpfake.scenario.model import INITIAL_STATE

#: KeyCounter's fields, in order (its ``repr`` and ``==`` go by them)
_COUNTER_FIELDS = ("seen", "fired", "first_time", "recent", "window_start", "window_seen")


class KeyCounter:
    """One rule's counters for one ``per`` key (or for the whole server without ``per``).

    One per rule and key: many, each touched on every command, so slots. A plain class with the
    methods ``@dataclass(slots=True)`` would give it (``__init__`` with its defaults, ``repr``,
    ``==``, unhashable), not a dataclass: ``dataclasses`` makes a class with slots anew when it
    is defined, over a million instructions of serve's start."""

    __slots__ = ("fired", "first_time", "recent", "seen", "window_seen", "window_start")
    __match_args__ = ("seen", "fired", "first_time", "recent", "window_start", "window_seen")

    def __init__(
        self,
        seen: int = 0,  # occurrences counted, all time
        fired: int = 0,  # times the rule fired for this key
        first_time: float | None = None,  # when the first occurrence was counted (``within``)
        recent: deque[float] | None = None,  # times inside the sliding window (``window`` only)
        window_start: float | None = None,  # the current fixed window (``fixed_window`` only)
        window_seen: int = 0,
    ) -> None:
        self.seen = seen
        self.fired = fired
        self.first_time = first_time
        self.recent = recent
        self.window_start = window_start
        self.window_seen = window_seen

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _COUNTER_FIELDS)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, KeyCounter)
        return _values_of(self) == _values_of(other)

    __hash__ = None  # type: ignore[assignment]  # mutable: as dataclasses sets it


def _values_of(counter: KeyCounter) -> tuple[object, ...]:
    """A KeyCounter's fields' values, in order (what its ``==`` compares)."""
    return tuple(getattr(counter, name) for name in _COUNTER_FIELDS)


@mutable_dataclass
class Numbering:
    """Session numbers and queue ids, unique since the last reset (a scenario switch keeps them:
    the journal still holds the sessions numbered before it)."""

    sessions: int = 0
    messages: int = 0


@mutable_dataclass
class Shared:
    """What the sessions of one server share under its scenario: connection and rule counters,
    the named state, and who must wait before connecting again."""

    seed: int | None = None  # None: the scenario's own seed (the server always sets one)
    connections: int = 0  # connections since the scenario was put in force (``connection:``)
    #: handed on by a scenario switch (server.use), made anew by a reset
    numbering: Numbering = field(default_factory=Numbering)
    fired: Counter[int] = field(default_factory=Counter)  # rule index -> times it fired
    #: the named state rules may require (``state:``) and move to (``next_state:``)
    state: str = INITIAL_STATE
    #: (rule index, key) -> that rule's counters for that key
    counters: dict[tuple[int, tuple[str, ...]], KeyCounter] = field(default_factory=dict)
    #: (rules, key) -> those rules' counters for that key, as in ``counters`` (None: none yet):
    #: engine/rulecode.py's one lookup a command for rules counted on the same key ("rules":
    #: their indexes, e.g. "3,4,9"); never for ``per: connection`` (connection_ended forgets those)
    groups: dict[tuple[str, tuple[str, ...]], list[KeyCounter | None]] = field(default_factory=dict)
    #: (per parts, key) -> that key's named state, for rules with ``per`` (see matching.state_key)
    states: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = field(default_factory=dict)
    #: client IP -> when it may connect again (``server.retry_after`` after a 4xx reply)
    retry_not_before: dict[str, float] = field(default_factory=dict)

    def next_connection(self) -> int:
        """The connection's number under this scenario, 1-based (rules' ``connection:``)."""
        self.connections += 1
        return self.connections

    def next_session(self) -> int:
        """The session's number in the journal, 1-based, unique since the last reset."""
        self.numbering.sessions += 1
        return self.numbering.sessions

    def next_queue_id(self) -> str:
        """``SF`` and six digits, unique since the last reset."""
        self.numbering.messages += 1
        return f"SF{self.numbering.messages:06d}"

    def hold_off(self, ip: str, until: float, now: float) -> None:
        """``server.retry_after``: this client IP should not connect again before ``until``,
        unless it is held off already: the wait counts from the first 4xx of a run of them, so
        greylisting's retry after its delay (from the first attempt, RFC 6647 §2.1) is on time
        however many early retries were refused in between."""
        retry = self.retry_not_before
        if retry.get(ip, 0.0) > now:
            return
        if len(retry) > 10_000:  # bounded: forget the clients already free to come back
            for free in [free for free, t in retry.items() if t <= now]:
                del retry[free]
        retry[ip] = until

    def state_of(self, key: tuple[tuple[str, ...], tuple[str, ...]] | None) -> str:
        """The server's state (key None), or one ``per`` key's (``started`` until moved)."""
        if key is None:
            return self.state
        return self.states.get(key, INITIAL_STATE)

    def move(self, key: tuple[tuple[str, ...], tuple[str, ...]] | None, state: str) -> None:
        if key is None:
            self.state = state
        else:
            self.states[key] = state

    def connection_ended(self, connection: int, rules: tuple[int, ...]) -> None:
        """Forget what was kept for one connection (``per: connection`` state and the counters
        of these rules), so a server that runs for days does not grow with every connection."""
        key = (str(connection),)
        self.states.pop((("connection",), key), None)
        for rule in rules:
            self.counters.pop((rule, key), None)

    def counter(self, rule: int, key: tuple[str, ...]) -> KeyCounter:
        found = self.counters.get((rule, key))
        if found is None:
            found = self.counters[(rule, key)] = KeyCounter()
        return found
