"""The scenario model: frozen dataclasses, built by the loader and read by the engine."""

from __future__ import annotations

import enum
import functools
from dataclasses import field

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.checks import Checks
from smtpfake.scenario.faults.base import Fault
from smtpfake.scenario.limits import DURATION_PATTERN, MAX_SECONDS


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


@frozen_dataclass
class Location:
    """Where something was written in a scenario file: ``file:line:column``. Line 0 is no place
    in a file, shown as ``file`` alone: the file as a whole (one that cannot be read has no line
    to point at), or a key path of a request (``params.delay``, from the sidecar's API); file
    ``""`` with line 0 is no file at all (a scenario name that names none): a Problem there is
    its message alone."""

    file: str
    line: int  # 1-based; 0: the whole file, or ``file`` is a key path
    column: int  # 1-based; 0 with line 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file


#: the state every server starts in (and returns to on reset/use), as WireMock's "Started"
INITIAL_STATE = "started"

#: what ``per:`` may key a rule's counters on; client/sender/recipient combine with ``+``
PER_PARTS: tuple[str, ...] = ("connection", "client", "sender", "recipient")


#: how ``server.idle_close`` ends an idle connection: a 421 or none, then FIN or RST
IDLE_CLOSES: tuple[str, ...] = ("reply", "reply-reset", "close", "reset")

#: what the server makes of a bare LF (``server.bare_lf``), after Postfix's
#: ``smtpd_forbid_bare_newline`` (engine/bare_lf.py: what each does)
BARE_LF_POLICIES: tuple[str, ...] = ("accept", "normalize", "reject", "disconnect")
#: what the server makes of a bare CR (``server.bare_cr``); only ``clean`` makes it a line end,
#: after Cisco AsyncOS's "CR and LF Handling" (engine/bare_lf.py: what each does)
BARE_CR_POLICIES: tuple[str, ...] = ("accept", "clean", "reject", "disconnect")

#: how a connection greeted before a command (the ``greeted:`` condition)
GREETINGS: tuple[str, ...] = ("helo", "ehlo", "none")
#: what MAIL's BODY= may say (RFC 6152, RFC 3030), and "none" for no BODY= at all
BODY_TYPES: tuple[str, ...] = ("7bit", "8bitmime", "binarymime", "none")


@frozen_dataclass
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


@frozen_dataclass
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


@frozen_dataclass
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
    "type": ["number", "string", "null"],
    "pattern": DURATION_PATTERN,  # or a duration with its unit: "5m" (limits.duration_seconds)
    "exclusiveMinimum": 0,
    "maximum": MAX_SECONDS,
    "default": None,
}

_TLS_SCHEMA_PROPS = {
    "enabled": {
        "description": "`false` turns TLS off while the mapping keeps its settings",
        "type": "boolean",
        "default": True,
    },
    "certificate": {
        "description": "PEM file (relative to the scenario file); unset: a certificate "
        "generated at start for the hostname, `localhost`, `127.0.0.1` and `::1`, issued by a "
        "throwaway CA (`Server.tls_ca_file`)",
        "type": "string",
    },
    "key": {
        "description": "PEM file of the private key (relative to the scenario file), with "
        "`certificate`; unset: the key is in the certificate file",
        "type": "string",
    },
    "required": {
        "description": "before TLS, every command but EHLO, STARTTLS, NOOP and QUIT gets `530 "
        "5.7.0 Must issue a STARTTLS command first` (RFC 3207 §4)",
        "type": "boolean",
        "default": False,
    },
    "implicit": {
        "description": "SMTPS: the TLS handshake comes first, before the greeting; STARTTLS is "
        "not offered",
        "type": "boolean",
        "default": False,
    },
}


@frozen_dataclass
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


@frozen_dataclass
class ServerSettings:
    """``server:`` of a scenario. Each field's metadata ``doc`` (Markdown, one paragraph) is its
    line in the JSON Schema and the README's settings table (scenario/reference.py), and
    ``schema`` what its value may be when the field's type cannot say it."""

    hostname: str = field(
        default="smtpfake.test", metadata={"doc": "name in the greeting and EHLO reply"}
    )
    greeting: str = field(
        default="ESMTP smtpfake", metadata={"doc": "rest of the 220 greeting, after the hostname"}
    )
    extensions: tuple[str, ...] = field(
        default=DEFAULT_EXTENSIONS,
        metadata={
            "doc": "EHLO keywords, in order; `SIZE n` sets the size limit; without "
            "`ENHANCEDSTATUSCODES` no enhanced codes are sent"
        },
    )
    #: RFC 5321 §4.1.4 strictness: MAIL before HELO/EHLO gets 503 (Postfix's default accepts it).
    require_helo: bool = field(
        default=False,
        metadata={
            "doc": "MAIL/RCPT/DATA before HELO/EHLO get `503 5.5.1` (otherwise MAIL is "
            "accepted, as Postfix does, and recorded as a violation)"
        },
    )
    max_recipients: int = field(
        default=1000, metadata={"doc": "RCPT beyond this many in one transaction gets `452 4.5.3`"}
    )
    #: bound on what a message body may take in memory, whatever the client sends
    max_message_bytes: int = field(
        default=33554432,
        metadata={"doc": "the most a message may hold in memory; more gets `552 5.3.4`"},
    )
    #: RFC 5321 §2.3.8, §4.1.1.4: a line ends in CRLF; what a bare LF does (BARE_LF_POLICIES)
    bare_lf: str = field(
        default="accept",
        metadata={
            "doc": "what a bare LF (no CR before it) does, recorded as `bare-lf` in every case: "
            "`accept` (it ends a line, and `<LF>.<LF>`, `<CRLF>.<LF>`, `<LF>.<CRLF>` end the "
            "message, as Postfix before 3.9), `normalize` (it ends a line, but only "
            "`<CRLF>.<CRLF>` ends the message: Postfix 3.9's default), `reject` (as `normalize`, "
            "and a command line, AUTH line or message with one gets `550 5.5.2 HOSTNAME Error: "
            "bare <LF> received`) or `disconnect` (as `reject` with `521`, then the close); see "
            "[Bare LF and bare CR](#bare-lf-and-bare-cr)",
            "schema": {"enum": list(BARE_LF_POLICIES), "default": "accept"},
        },
    )
    #: RFC 5321 §2.3.8: a CR only before an LF; what a bare CR does (BARE_CR_POLICIES)
    bare_cr: str = field(
        default="accept",
        metadata={
            "doc": "what a bare CR (no LF after it) does, recorded as `bare-cr` in every case: "
            "`accept` (it is an octet of the line or text, never a line end, so `<CR>.<CR>` "
            "ends nothing: as Postfix), `clean` (it ends a line as a CRLF does, so `<CR>.<CR>` "
            "ends the message and what follows is read as commands: Cisco Secure Email's "
            "default, CR and LF Handling `Clean`), "
            "`reject` (a command line, AUTH line or message with one "
            "gets `550 5.5.2 HOSTNAME Error: bare <CR> received`) or `disconnect` (as `reject` "
            "with `521`, then the close); see [Bare LF and bare CR](#bare-lf-and-bare-cr)",
            "schema": {"enum": list(BARE_CR_POLICIES), "default": "accept"},
        },
    )
    #: RFC 5321 §4.1.2: Path = "<" Mailbox ">" right after the colon; Postfix's
    #: smtpd_strict_rfc821_envelopes
    strict_envelope: bool = field(
        default=False,
        metadata={
            "doc": "MAIL/RCPT paths exactly as RFC 5321 §4.1.2 writes them: `MAIL FROM:a@b` "
            "(no angle brackets) and `MAIL FROM: <a@b>` (white space after the colon) get "
            "`501 5.1.7 Bad sender address syntax` (RCPT: `501 5.1.3 Bad recipient address "
            "syntax`; `bad-syntax`), as Postfix with `smtpd_strict_rfc821_envelopes`; "
            "otherwise both are accepted and recorded as `path-syntax`, as Postfix does by "
            "default. The mailbox inside the path is checked either way (`<a,b@x.test>` gets "
            "the 501 with or without this)"
        },
    )
    #: EHLO lines added to the list (one with a keyword already listed replaces it in place)
    extensions_add: tuple[str, ...] = field(
        default=(),
        metadata={
            "doc": 'EHLO lines added to the list (`[DSN, "SIZE 1000"]`); one whose keyword '
            "is listed already replaces it in place"
        },
    )
    #: keywords taken off the list, case-insensitive (also automatic ones: STARTTLS, AUTH)
    extensions_remove: tuple[str, ...] = field(
        default=(),
        metadata={
            "doc": "EHLO keywords taken off the list, case-insensitive, including the automatic "
            "`STARTTLS` and `AUTH` (`[PIPELINING, STARTTLS]`)"
        },
    )
    # factories, not instances: an instance made here would make the class's constructor at
    # import (frozen_dataclass), which a scenario read from the cache never needs
    tls: TlsSettings = field(
        default_factory=TlsSettings,
        metadata={
            "doc": "TLS with a real handshake (see [TLS](#tls)): `true`, or `{certificate, key, "
            "required, implicit}` (a mapping turns it on; `enabled: false` turns it off); "
            "STARTTLS is advertised until TLS is active",
            "schema": {
                "anyOf": [
                    {"type": "boolean"},
                    {
                        "type": "object",
                        "properties": _TLS_SCHEMA_PROPS,
                        "dependentRequired": {"key": ["certificate"]},
                        "additionalProperties": False,
                    },
                ],
                "default": False,
            },
        },
    )
    #: RFC 5321 §3.8: after this many seconds without a whole line from the client, the server sends
    #: "421 4.4.2" and closes (the engine's "idle" timer; the wire arms it)
    idle_timeout: float | None = field(
        default=None,
        metadata={
            "doc": "seconds without a whole line from the client after which the server sends "
            "`421 4.4.2 HOSTNAME Error: timeout exceeded` unasked and closes (RFC 5321 §3.8); "
            "unset: the server's idle timeout (`Server(idle_timeout=300)`, `serve "
            "--idle-timeout`) closes silently; see `idle_close`. What restarts it (the "
            "server's own timeout too): the server having written a reply, and each whole line "
            "from the client (a command, an AUTH response, a line of message text); where no "
            "line ends, every 1,001 octets (a BDAT chunk's octets, a line too long to hold). "
            "Part of a line never does: a client dribbling octets without a line end is "
            "timed out as a silent one is (RFC 5321 §4.5.3.2: timeouts per command and per "
            "data block; Postfix's `smtpd_per_record_deadline`). The server's own delays never "
            "count against the client; its reading does: while the socket takes nothing more "
            "of the replies (the client does not read them), this timer runs, from when the "
            "socket stopped taking and from each whole line that comes meanwhile, however many "
            "replies are still to go, and ends the connection without waiting on the client; "
            "each time the socket takes some of them (a client reading slowly) it starts over. "
            "Unset, the server's own timeout is also the bound on the server's own silence: a "
            "reply a rule delays (`delay`, `hang`) longer than it is cut, recorded not "
            "delivered, and the connection closed silently (`(connection closed: idle "
            "timeout)`); a reply the server paces (`drip`, `fragment`) starts it over with "
            "each piece written, so only a pause between pieces longer than it ends one; so "
            "under `serve` (300 s by default) a `hang` or `delay` longer than `--idle-timeout` "
            "ends there, and a scenario that means to outwait it sets its own `idle_timeout`",
            "schema": _OPTIONAL_SECONDS,
        },
    )
    #: how the idle_timeout ends the connection: IDLE_CLOSES (421 then FIN by default)
    idle_close: str = field(
        default="reply",
        metadata={
            "doc": "how `idle_timeout` ends the connection: `reply` (the `421 4.4.2`, then FIN), "
            "`reply-reset` (the 421, then RST), `close` (no reply, FIN) or `reset` (no reply, "
            "RST): the silent drop providers do to kept-open connections (built-in "
            "`silent-idle-drop`)",
            "schema": {"enum": ["reply", "reply-reset", "close", "reset"], "default": "reply"},
        },
    )
    #: RFC 5321 §3.8: this many seconds into the session the server sends "421 4.3.2" and closes,
    #: whatever the client is doing (the engine's "close_after" timer)
    close_after: float | None = field(
        default=None,
        metadata={
            "doc": "seconds into the session at which the server sends `421 4.3.2 HOSTNAME "
            "Service not available, closing transmission channel` unasked and closes, whatever "
            'the client is doing (RFC 5321 §3.8: "asynchronously from command receipt"); a '
            "message whose text has not ended (no final `.` yet) is not recorded; one the "
            "server accepted whose `250` a rule still delays (`delay` on `end_of_data`) is "
            "kept, its `250` recorded not delivered (`SessionRecord.end_of_data(message)`), "
            "as a real server has queued it: a client that retries sends it twice (RFC 1047), "
            "and so under the server's own idle limit. While a reply is partly "
            "written (a `drip`, a `fragment`) it sends no 421 (that would land in the middle "
            "of the reply's line): only the close, as a stop does",
            "schema": _OPTIONAL_SECONDS,
        },
    )
    #: after any 4xx reply, the client's IP should stay away this long; a new connection from
    #: it sooner is recorded as a ``retry-too-soon`` violation
    retry_after: float | None = field(
        default=None,
        metadata={
            "doc": "seconds a client must stay away after a 4xx reply (421, 450, 451, ...) to "
            "it; a new connection from the same IP sooner is recorded as `retry-too-soon`; "
            "counted from the first 4xx while it is not held off already (an early retry's "
            "refusal does not start the wait again, as greylisting counts from the first "
            "attempt)",
            "schema": _OPTIONAL_SECONDS,
        },
    )
    #: SMTP AUTH; None: not advertised, and AUTH gets 502
    auth: AuthSettings | None = field(
        default=None,
        metadata={
            "doc": "SMTP AUTH run by smtpfake (see [AUTH](#auth)): `{mechanisms, users, "
            "required, require_tls}`; unset: AUTH is not advertised and gets `502`",
            "schema": {
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "properties": {
                            "mechanisms": {
                                "description": "advertised as `AUTH PLAIN LOGIN`, in this "
                                "order; others get `504 5.5.4`",
                                "type": "array",
                                "items": {"enum": list(AUTH_MECHANISMS)},
                                "minItems": 1,
                                "uniqueItems": True,
                                "default": list(AUTH_MECHANISMS),
                            },
                            "users": {
                                "description": "`name: password`, both strings (quote "
                                "numbers: `'1234'`); none: every login fails",
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                                "default": {},
                            },
                            "required": {
                                "description": "MAIL before a successful AUTH gets `530 "
                                "5.7.0 Authentication required`",
                                "type": "boolean",
                                "default": False,
                            },
                            "require_tls": {
                                "description": "AUTH is not advertised before TLS, and AUTH "
                                "then gets `538 5.7.11`",
                                "type": "boolean",
                                "default": False,
                            },
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


@frozen_dataclass
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


@frozen_dataclass
class Scenario:
    """A loaded scenario: what it is for (``summary``, ``expect``), its server settings, its
    rules in the order they are tried, and where it came from."""

    name: str
    summary: str
    expect: str
    rules: tuple[Rule, ...] = ()
    server: ServerSettings = field(default_factory=ServerSettings)
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
