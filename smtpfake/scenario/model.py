"""The scenario model: frozen dataclasses, built by the loader and read by the engine."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from smtpfake.scenario.faults.base import Fault


class Stage(str, enum.Enum):
    """Where a rule fires. ``connect`` is the greeting; ``end_of_data`` is the final "."."""

    CONNECT = "connect"
    HELO = "helo"
    EHLO = "ehlo"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"
    END_OF_DATA = "end_of_data"
    RSET = "rset"
    NOOP = "noop"
    VRFY = "vrfy"
    EXPN = "expn"
    HELP = "help"
    QUIT = "quit"
    STARTTLS = "starttls"
    AUTH = "auth"
    UNKNOWN = "unknown"
    ANY = "any"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


#: the state every server starts in (and returns to on reset/use), as WireMock's "Started"
INITIAL_STATE = "started"

#: what ``per:`` may key a rule's counters on; client/sender/recipient combine with ``+``
PER_PARTS: tuple[str, ...] = ("connection", "client", "sender", "recipient")


@dataclass(frozen=True)
class Rule:
    """WHERE (stages), WHEN (conditions) and WHAT (faults, applied in order; a state change).

    Conditions come in three groups, checked in this order (see engine/matching.py):
    filters (stages, match, nth, connection, state); counters, kept per rule and per ``per`` key
    (first, after, every, within, times); and last, probability, drawn only when all else holds.
    """

    index: int  # 1-based position in the scenario
    stages: frozenset[Stage]
    faults: tuple[Fault, ...]
    name: str | None = None
    match: str | None = None  # glob on the address (MAIL/RCPT), domain (HELO/EHLO) or argument
    nth: tuple[int, ...] | None = None  # nth occurrence of the stage within the session
    connection: tuple[int, ...] | None = None  # nth connection to the server (1-based)
    times: int | None = None  # fire at most this many times (per key if ``per``, else overall)
    #: keep the counters separately for each value of these parts (in PER_PARTS order);
    #: None means one set of counters for the whole server
    per: tuple[str, ...] | None = None
    first: int | None = None  # only the first N counted occurrences
    after: int | None = None  # only after N counted occurrences (the N+1th on)
    every: int | None = None  # every Nth counted occurrence
    window: float | None = None  # first/after/every count only the last SECONDS (sliding)
    fixed_window: float | None = None  # ... or back-to-back windows of SECONDS
    within: float | None = None  # only within SECONDS of the key's first occurrence (greylisting)
    probability: float | None = None  # fire with this chance, from the session's seeded RNG
    state: tuple[str, ...] | None = None  # only while the server is in one of these states
    next_state: str | None = None  # when the rule fires, the server moves to this state
    location: Location | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        stages = ",".join(sorted(s.value for s in self.stages))
        return f"rule {self.index} (on {stages})"


DEFAULT_EXTENSIONS: tuple[str, ...] = (
    "PIPELINING",
    "SIZE 33554432",
    "8BITMIME",
    "ENHANCEDSTATUSCODES",
    "SMTPUTF8",
    "HELP",
)


@dataclass(frozen=True)
class ServerSettings:
    hostname: str = "smtpfake.test"
    greeting: str = "ESMTP smtpfake"
    extensions: tuple[str, ...] = DEFAULT_EXTENSIONS
    #: RFC 5321 §4.1.4 strictness: MAIL before HELO/EHLO gets 503 (Postfix's default accepts it).
    require_helo: bool = False
    max_recipients: int = 1000
    #: bound on what a message body may take in memory, whatever the client sends
    max_message_bytes: int = 33554432

    def has_extension(self, keyword: str) -> bool:
        keyword = keyword.upper()
        return any(e.split(" ", 1)[0].upper() == keyword for e in self.extensions)

    def size_limit(self) -> int | None:
        for ext in self.extensions:
            word, _, arg = ext.partition(" ")
            if word.upper() == "SIZE" and arg.strip().isdigit() and int(arg) > 0:
                return int(arg)
        return None


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    expect: str
    rules: tuple[Rule, ...] = ()
    server: ServerSettings = ServerSettings()
    description: str = ""
    seed: int | None = None
    source: str = "<built-in>"  # where it was loaded from


DEFAULT_SCENARIO = Scenario(
    name="default",
    summary="An RFC-correct server that accepts and records everything.",
    expect="Deliver normally.",
)
