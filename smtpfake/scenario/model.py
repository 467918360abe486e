"""The scenario model: frozen dataclasses, built by the loader and read by the engine."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field

from smtpfake.scenario.checks import Checks
from smtpfake.scenario.faults.base import Fault
from smtpfake.scenario.limits import MAX_SECONDS


class Stage(str, enum.Enum):
    """Where a rule fires. ``connect`` is the greeting; ``end_of_data`` is the final "."."""

    CONNECT = "connect"
    HELO = "helo"
    EHLO = "ehlo"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"
    END_OF_DATA = "end_of_data"
    BDAT = "bdat"  # RFC 3030: each chunk's reply (after its octets are read)
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


#: how ``server.idle_close`` ends an idle connection: a 421 or none, then FIN or RST
IDLE_CLOSES: tuple[str, ...] = ("reply", "reply-reset", "close", "reset")

#: how a connection greeted before a command (the ``greeted:`` condition)
GREETINGS: tuple[str, ...] = ("helo", "ehlo", "none")
#: what MAIL's BODY= may say (RFC 6152, RFC 3030), and "none" for no BODY= at all
BODY_TYPES: tuple[str, ...] = ("7bit", "8bitmime", "binarymime", "none")


@dataclass(frozen=True)
class SizeBounds:
    """The ``size:`` condition on MAIL's declared SIZE= (RFC 1870): ``none`` (no SIZE= given),
    or ``{min, max}`` octets, both inclusive (then a MAIL without SIZE= never matches)."""

    declared: bool = True
    minimum: int | None = None
    maximum: int | None = None

    def holds(self, size: int | None) -> bool:
        if size is None or not self.declared:
            return size is None and not self.declared
        low, high = self.minimum, self.maximum
        return (low is None or size >= low) and (high is None or size <= high)

    def __str__(self) -> str:
        if not self.declared:
            return "none"
        low = "" if self.minimum is None else str(self.minimum)
        high = "" if self.maximum is None else str(self.maximum)
        return f"{low}..{high}"


#: the rule fields that filter occurrences, in the order the engine checks them
FILTER_FIELDS = (
    "nth",
    "connection",
    "match",
    "greeted",
    "tls",
    "authenticated",
    "message",
    "size",
    "body",
    "state",
)


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
    #: only while the server (or, with ``per``, that key) is in one of these states
    state: tuple[str, ...] | None = None
    next_state: str | None = None  # when the rule fires, the server (or the key) moves here
    # Facts about the connection (see engine/matching.py Occurrence):
    greeted: tuple[str, ...] | None = None  # how it greeted so far: GREETINGS
    tls: bool | None = None  # TLS is active (STARTTLS done, or implicit TLS)
    #: True/False: AUTH succeeded (or not); a string: succeeded as a user matching this glob
    authenticated: bool | str | None = None
    message: tuple[int, ...] | None = None  # the nth mail transaction of the session (1-based)
    size: SizeBounds | None = None  # what MAIL declared with SIZE=
    body: tuple[str, ...] | None = None  # what MAIL declared with BODY=: BODY_TYPES
    location: Location | None = field(default=None, compare=False)

    @functools.cached_property
    def conditions_set(self) -> tuple[str, ...]:
        """The fields this rule sets, in the engine's filter order (FILTERS in
        engine/matching.py), made once: a command checks only those, not every field."""
        return tuple(n for n in FILTER_FIELDS if getattr(self, n) is not None)

    @functools.cached_property
    def counted(self) -> bool:
        """Whether a condition reads the rule's occurrence count (first, after, every, within,
        times; window/fixed_window shape it): a rule without one is counted only when it fires,
        which keeps non-firing rules cheap on every command."""
        return any(
            getattr(self, n) is not None
            for n in ("first", "after", "every", "within", "times", "window", "fixed_window")
        )

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


#: SASL mechanisms the engine implements: PLAIN (RFC 4616) and LOGIN (the de-facto one)
AUTH_MECHANISMS: tuple[str, ...] = ("PLAIN", "LOGIN")


@dataclass(frozen=True)
class AuthSettings:
    """SMTP AUTH (RFC 4954), run by the engine: what EHLO advertises and who may log in."""

    mechanisms: tuple[str, ...] = AUTH_MECHANISMS  # in the order EHLO lists them
    users: tuple[tuple[str, str], ...] = ()  # (username, password) pairs; none: every login fails
    required: bool = False  # MAIL before a successful AUTH gets 530 5.7.0
    #: AUTH outside TLS gets 538 5.7.11, and EHLO leaves AUTH out until TLS (RFC 4954 §6)
    require_tls: bool = False

    @property
    def keyword(self) -> str:
        """The EHLO line: ``AUTH PLAIN LOGIN``."""
        return " ".join(("AUTH", *self.mechanisms))

    def valid(self, user: str, password: str) -> bool:
        return (user, password) in self.users


def ehlo_keyword(extension: str) -> str:
    """The keyword of an EHLO line (``SIZE 1000`` -> ``SIZE``), upper case."""
    return extension.split(" ", 1)[0].upper()


#: a number of seconds (at most a day), or null
_OPTIONAL_SECONDS = {
    "type": ["number", "null"],
    "exclusiveMinimum": 0,
    "maximum": MAX_SECONDS,
    "default": None,
}

_TLS_SCHEMA_PROPS = {
    "enabled": {"type": "boolean", "default": True},
    "certificate": {"type": ["string", "null"], "default": None},
    "key": {"type": ["string", "null"], "default": None},
    "required": {"type": "boolean", "default": False},
    "implicit": {"type": "boolean", "default": False},
}


@dataclass(frozen=True)
class TlsSettings:
    """TLS (RFC 3207 STARTTLS, or implicit TLS from the first byte, RFC 8314). The wire does the
    handshake; the engine decides when (a 220 to STARTTLS, or before the greeting)."""

    enabled: bool = False
    #: PEM certificate (chain) file; None: one generated at start, issued by a throwaway CA
    certificate: str | None = None
    key: str | None = None  # PEM private key file; None: the key is in the certificate file
    #: RFC 3207 §4: before TLS, every command but NOOP, EHLO, STARTTLS and QUIT gets 530 5.7.0
    required: bool = False
    #: SMTPS: the handshake comes first, before the greeting; STARTTLS is not offered
    implicit: bool = False
    location: Location | None = field(default=None, compare=False)  # where it was configured

    @property
    def starttls(self) -> bool:
        """STARTTLS is offered (and advertised unless removed)."""
        return self.enabled and not self.implicit


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
    #: EHLO lines added to the list (one with a keyword already listed replaces it in place)
    extensions_add: tuple[str, ...] = field(
        default=(),
        metadata={
            "doc": "EHLO lines added to the advertised list (e.g. DSN, SIZE 1000); one whose "
            "keyword is already listed replaces it in place."
        },
    )
    #: keywords taken off the list, case-insensitive (also automatic ones: STARTTLS, AUTH)
    extensions_remove: tuple[str, ...] = field(
        default=(),
        metadata={
            "doc": "EHLO keywords removed from the advertised list, case-insensitive (also "
            "STARTTLS and AUTH, which are otherwise added when TLS or AUTH is set up)."
        },
    )
    tls: TlsSettings = field(
        default=TlsSettings(),
        metadata={
            "doc": "TLS: true, or {enabled, certificate, key, required, implicit}. STARTTLS is "
            "advertised and performed with a real handshake; with no certificate one is "
            "generated for the hostname, localhost and 127.0.0.1 by a throwaway CA "
            "(Server.tls_ca_file). required: 530 5.7.0 before TLS (RFC 3207 §4); implicit: "
            "TLS from the first byte (SMTPS).",
            "schema": {
                "anyOf": [
                    {"type": "boolean"},
                    {
                        "type": "object",
                        "properties": _TLS_SCHEMA_PROPS,
                        "additionalProperties": False,
                    },
                ],
                "default": False,
            },
        },
    )
    #: RFC 5321 §3.8: after this many seconds without a line from the client, the server sends
    #: "421 4.4.2" and closes (the engine's "idle" timer; the wire arms it)
    idle_timeout: float | None = field(
        default=None,
        metadata={
            "doc": "Seconds without a line from the client after which the server sends "
            '"421 4.4.2 ... timeout exceeded" and closes (RFC 5321 §3.8). Unset: the '
            "server's own idle timeout (300 s), which closes silently.",
            "schema": _OPTIONAL_SECONDS,
        },
    )
    #: how the idle_timeout ends the connection: IDLE_CLOSES (421 then FIN by default)
    idle_close: str = field(
        default="reply",
        metadata={
            "doc": "How idle_timeout ends a connection: reply (421 4.4.2, then FIN), "
            "reply-reset (421 4.4.2, then RST), close (no reply, FIN) or reset (no reply, RST), "
            "as providers drop kept-open connections without a word.",
            "schema": {"enum": ["reply", "reply-reset", "close", "reset"], "default": "reply"},
        },
    )
    #: RFC 5321 §3.8: this many seconds into the session the server sends "421 4.3.2" and closes,
    #: whatever the client is doing (the engine's "close_after" timer)
    close_after: float | None = field(
        default=None,
        metadata={
            "doc": "Seconds into the session after which the server sends, unasked, "
            '"421 4.3.2 ... closing transmission channel" and closes (RFC 5321 §3.8), '
            "even in the middle of a command or the message data.",
            "schema": _OPTIONAL_SECONDS,
        },
    )
    #: after any 4xx reply, the client's IP should stay away this long; a new connection from
    #: it sooner is recorded as a ``retry-too-soon`` violation
    retry_after: float | None = field(
        default=None,
        metadata={
            "doc": "Seconds a client must wait after a 4xx reply (421, 450, 451, ...) before it "
            "connects again from the same IP address; an earlier connection is recorded as a "
            "retry-too-soon violation. Unset: not checked.",
            "schema": _OPTIONAL_SECONDS,
        },
    )
    #: SMTP AUTH; None: not advertised, and AUTH gets 502
    auth: AuthSettings | None = field(
        default=None,
        metadata={
            "doc": "SMTP AUTH (RFC 4954): mechanisms (PLAIN, LOGIN), users (name: password), "
            "required (MAIL before AUTH gets 530 5.7.0), require_tls (AUTH before TLS gets "
            "538 5.7.11 and is not advertised). Unset: AUTH is not advertised and gets 502.",
            "schema": {
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "properties": {
                            "mechanisms": {
                                "type": "array",
                                "items": {"enum": list(AUTH_MECHANISMS)},
                                "minItems": 1,
                                "uniqueItems": True,
                                "default": list(AUTH_MECHANISMS),
                            },
                            "users": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                                "default": {},
                            },
                            "required": {"type": "boolean", "default": False},
                            "require_tls": {"type": "boolean", "default": False},
                        },
                        "additionalProperties": False,
                    },
                ]
            },
        },
    )

    def advertised(self, *, tls_active: bool = False) -> tuple[str, ...]:
        """What EHLO lists after the hostname, in order: ``extensions``; STARTTLS when offered,
        but never once TLS is active (RFC 3207 §4.2); AUTH when set up, but not before TLS if it
        needs TLS (RFC 4954 §6); then ``extensions_add``; less ``extensions_remove``. STARTTLS
        and AUTH listed by hand in ``extensions`` stay as written."""
        return self._advertised_lists[tls_active]

    @functools.cached_property
    def _advertised_lists(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        # Settings are frozen, so both lists are made once, not on every command that asks.
        return (self._advertise(tls_active=False), self._advertise(tls_active=True))

    def _advertise(self, *, tls_active: bool) -> tuple[str, ...]:
        lines = list(self.extensions)
        if self.tls.starttls:
            _put(lines, "STARTTLS", replace=False)
        if self.auth is not None and (tls_active or not self.auth.require_tls):
            _put(lines, self.auth.keyword, replace=False)
        for line in self.extensions_add:
            _put(lines, line, replace=True)
        removed = {ehlo_keyword(k) for k in self.extensions_remove}
        if tls_active:
            removed.add("STARTTLS")
        return tuple(e for e in lines if ehlo_keyword(e) not in removed)

    def has_extension(self, keyword: str) -> bool:
        """Whether EHLO advertises this keyword (before TLS)."""
        keyword = keyword.upper()
        return any(ehlo_keyword(e) == keyword for e in self.advertised())

    def size_limit(self) -> int | None:
        for ext in self.advertised():
            word, _, arg = ext.partition(" ")
            arg = arg.strip()
            if word.upper() == "SIZE" and arg.isascii() and arg.isdigit() and int(arg) > 0:
                return int(arg)
        return None


def _put(lines: list[str], line: str, *, replace: bool) -> None:
    """Add an EHLO line; one with the same keyword is replaced in place (or kept)."""
    keyword = ehlo_keyword(line)
    for i, existing in enumerate(lines):
        if ehlo_keyword(existing) == keyword:
            if replace:
                lines[i] = line
            return
    lines.append(line)


#: what a parameter may hold (scenario/params.py reads and converts them)
PARAM_TYPES: tuple[str, ...] = ("int", "number", "string", "bool", "duration")


@dataclass(frozen=True)
class Param:
    """One ``params:`` entry: a named value rules and settings refer to as ``${name}``.

    ``value`` is the one in force: ``default`` unless the user set it (``use(params=)``,
    ``--param``, the marker, the API). A duration is in seconds (a float); ``minimum`` and
    ``maximum`` bound int, number and duration values, both inclusive."""

    name: str
    type: str  # one of PARAM_TYPES
    default: int | float | str | bool
    value: int | float | str | bool
    minimum: float | None = None
    maximum: float | None = None
    doc: str = ""
    location: Location | None = field(default=None, compare=False)

    @property
    def is_set(self) -> bool:
        """The user gave a value other than the default."""
        return self.value != self.default


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
    #: what smtpfake probe judges a client on (checks.py)
    checks: Checks = field(default_factory=Checks)
    params: tuple[Param, ...] = ()  # in declaration order, with the values in force
    #: the YAML it was read from: loading it again with other parameter values (with_params)
    document: str = field(default="", compare=False, repr=False)

    @functools.cached_property
    def rules_by_stage(self) -> dict[Stage, tuple[Rule, ...]]:
        """The rules that may fire on each stage (its own and ``any``), in order: made once, so
        a command does not walk the rules of other stages."""
        return {
            stage: tuple(r for r in self.rules if stage in r.stages or Stage.ANY in r.stages)
            for stage in Stage
        }

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)
