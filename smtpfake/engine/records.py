"""What a session leaves behind: transcript entries, violations, messages. Frozen data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from smtpfake.frozen_dataclass import frozen_dataclass

if TYPE_CHECKING:
    from email.message import EmailMessage

#: how far into a message ``Message.headers`` looks for the end of its header block (bytes)
HEADER_SCAN_BYTES = 65_536


# slots: a journal keeps up to millions of these (120 bytes an entry, against 170 with a dict)
@frozen_dataclass(slots=True)
class TranscriptEntry:
    """One thing that happened on the connection. ``time``: for a client line (message text, an AUTH
    line, a BDAT chunk), when its last octet arrived (a line the connection's end cut short too), or
    for an unfinished message, the close that ended it; for a reply, when its last byte was queued
    for the socket's write (a pipelined group's replies leave in one write once the group is read: a
    little before it). A transcript is in time order. A multi-line reply is one entry whose ``text``
    holds its lines as sent, joined with newlines (see :attr:`lines`).

    What an entry is, by its flags: ``note`` False: a line the client sent or a reply the server
    sent, ``text`` as it crossed the wire (without CRLF; an AUTH response masked as ``(auth
    response)``, an over-long line shown by its head: still a line, answered as one). ``note``
    True: the engine's own words on the connection, no octets of the wire, always in
    parentheses: on the client's side what message text or chunk octets came (``(message
    data, 5 bytes)``), octets never read or discarded, the client's close; on the server's,
    TLS established or failed and the server's end of the connection. ``event`` (always with
    ``note``): the note is the client's close or reset. A client line that reads like a note
    is a line: only the flag tells, never the text. ``str()`` writes a line as ``C:``/``S:``
    and a note as ``C*``/``S*``."""

    time: float
    side: Literal["client", "server"]
    text: str
    rule: str | None = None  # the rule that shaped this reply, if any
    #: False for a reply the client left before it was written whole (``written`` octets were),
    #: or a client line whose line ending never came (the connection ended first: unfinished)
    delivered: bool = True
    written: int | None = None
    #: a connection event (the client's close or reset), not a line the client sent (a note too)
    event: bool = False
    #: the engine's note on the connection (message data's size, TLS up, the close, ...), not
    #: octets as they crossed the wire
    note: bool = False
    #: a reply whose line endings were not all CRLF (a ``raw``, ``malformed: bare-lf`` or
    #: ``truncate`` reply): how each of :attr:`lines` ended, ``crlf``, ``lf`` (bare LF), ``cr``
    #: (bare CR, the reply's last octet) or ``none`` (cut mid-line); ``()`` when all were CRLF
    endings: tuple[str, ...] = ()

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(self.text.split("\n"))

    def __str__(self) -> str:
        arrow = ("C" if self.side == "client" else "S") + ("*" if self.note else ":")
        tag = f"   [{self.rule}]" if self.rule else ""
        text = self.text
        if not self.delivered:
            text, cut = cut_short(self.side, text, self.written, self.endings)
            tag += cut
        elif self.endings:
            text = tag_endings(text, self.endings)
        return "\n".join(f"{arrow} {line}" for line in text.split("\n")) + tag


def not_delivered(written: int | None) -> str:
    """The text form's tag for a reply not delivered whole, ``   (not delivered: 4 octets
    written)`` (``1 octet`` for one); a client line's is :data:`UNFINISHED_TAG` (see
    :func:`cut_short`)."""
    written = written or 0
    return f"   (not delivered: {written} octet{'' if written == 1 else 's'} written)"


#: the text form's tag for a client line the connection's end cut short (RFC 5321 §2.3.8)
UNFINISHED_TAG = "   (unfinished: no line ending)"


#: the text form's tag for a reply line that did not end in CRLF (TranscriptEntry.endings); one
#: with no line ending reads as a client line cut short does
ENDING_TAGS = {"lf": "   (bare LF)", "cr": "   (bare CR)", "none": UNFINISHED_TAG}
#: the octets of each line ending (a reply not delivered whole is cut where ``written`` falls)
_ENDING_OCTETS = {"crlf": 2, "lf": 1, "cr": 1, "none": 0}


def tag_endings(text: str, endings: Sequence[str], whole: int | None = None) -> str:
    """``text`` as the text forms show it: each of its first ``whole`` lines (None: all) that
    did not end in CRLF tagged with how it ended, ``250 ok   (bare LF)``."""
    if not endings:
        return text
    lines = text.split("\n")
    for i, ending in enumerate(endings[:whole]):
        if i < len(lines):
            lines[i] += ENDING_TAGS.get(ending, "")
    return "\n".join(lines)


def _octets(line: str) -> int:
    """The octets of a reply line on the wire: UTF-8, an octet that was not UTF-8 (surrogate
    escaped) one octet; a lone surrogate, which no reply sends, counted as UTF-8's 3."""
    try:
        return len(line.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return len(line.encode("utf-8", "surrogatepass"))


def cut_short(
    side: str, text: str, written: int | None, endings: Sequence[str] = ()
) -> tuple[str, str]:
    """An entry not delivered whole as the text forms show it: (its text, its tag). A client
    line whose line ending never came, whole and ``(unfinished: no line ending)``; a reply, as
    :func:`reply_as_sent`."""
    if side == "client":
        return text, UNFINISHED_TAG
    return reply_as_sent(text, written, endings)


def reply_as_sent(text: str, written: int | None, endings: Sequence[str] = ()) -> tuple[str, str]:
    """A reply not delivered whole as the text forms show it (format(), serve's log, the web
    page, the probe's HTML): its lines up to the first one not written whole, and that line's
    tag; the lines after it never left, so they are counted, not shown (a ``grep 'S: 250-8BITMIME'``
    finds only lines that crossed): ``("250-smtpfake.test", "   (not delivered: 7 octets written;
    9 more lines not sent)")``; a cut at a line's end shows the lines before it, and the tag
    counts the rest. A reply of which no octet left shows its first line (which reply it was),
    with ``0 octets written``. ``written``: the reply's octets the socket took (line endings
    included). ``endings``: TranscriptEntry.endings; the lines that left whole are tagged with
    theirs (:func:`tag_endings`), the one the cut fell in has none."""
    done = written or 0
    lines = text.split("\n")
    at = 0
    shown = whole = len(lines)
    for i, line in enumerate(lines):
        if at >= done and i:
            shown = whole = i  # the cut fell at the end of the line before: none of this one left
            break
        at += _octets(line) + (_ENDING_OCTETS.get(endings[i], 2) if i < len(endings) else 2)
        if at > done:
            shown, whole = i + 1, i
            break
    for i, ending in enumerate(endings[:whole]):  # (tag_endings, on the lines that left whole)
        lines[i] += ENDING_TAGS.get(ending, "")
    tag = not_delivered(written)
    more = len(lines) - shown
    if more:
        tag = f"{tag[:-1]}; {more} more line{'' if more == 1 else 's'} not sent)"
    return "\n".join(lines[:shown]), tag


@frozen_dataclass(slots=True)  # slots: one per command on a stage with rules
class Outcome:
    """How the rules met one command (or the greeting): which one fired, and why each rule on
    that stage before it did not (near misses: ``rule 1 (on rcpt): within 300 s: 12 s elapsed``).
    Recorded only when the scenario has rules on the stage. ``time``: when the command's line
    arrived (its last octet; the connection, for the greeting), as its transcript entry."""

    time: float
    stage: str  # the Stage value
    argument: str  # as rules saw it (address, domain, argument)
    fired: str | None  # the label of the rule that fired
    #: why each rule did not fire, in rule order: flat, four items per rule (rule, condition,
    #: wanted, was; engine/matching.py; engine/nearmisses.py keeps them compact until read),
    #: worded only when read; or the words, read from JSON
    why: Sequence[object] = ()

    @property
    def misses(self) -> tuple[str, ...]:
        why = self.why
        if why and isinstance(why[0], str):
            return tuple(str(w) for w in why)
        return tuple(describe_miss(tuple(why[i : i + 4])) for i in range(0, len(why), 4))

    def __str__(self) -> str:
        what = f"{self.stage.upper()} {self.argument}".rstrip()
        head = f"{what}: {self.fired} fired" if self.fired else f"{what}: no rule fired"
        return head + "".join(f"\n    not {m}" for m in self.misses)


#: how each condition's near miss reads: "{wanted}" and "{was}" are filled in
_MISS_WORDING = {
    "within": "within {wanted} s: {was} s elapsed",
    "first": "first: wanted at most {wanted}, was {was}",
    "after": "after: wanted more than {wanted}, was {was}",
    "every": "every: wanted a multiple of {wanted}, was {was}",
    "times": "times: wanted fewer than {wanted} firings, was {was}",
    "probability": "probability: wanted a draw below {wanted}, was {was}",
}


def describe_miss(miss: object) -> str:
    """``LABEL: why`` for a near miss: the engine's (rule, condition, wanted, was) tuple
    (engine/matching.py), or text as read back from JSON."""
    if not isinstance(miss, tuple):
        return str(miss)
    rule, condition, wanted, was = miss
    label: str = rule.label
    wording = _MISS_WORDING.get(str(condition), f"{condition}: wanted {{wanted}}, was {{was}}")
    return f"{label}: " + wording.format(wanted=_shown(wanted), was=_shown(was))


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return " or ".join(_shown(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@frozen_dataclass
class Violation:
    """Something the client did that a real server would hold against it."""

    kind: str  # e.g. "bad-sequence", "no-helo"
    detail: str
    command: str
    #: when what it judges arrived (the line's last octet; the client's close for no-quit), not
    #: when the server got to judge it
    time: float

    def __str__(self) -> str:
        # a violation about no command (no-quit, chunk-short, ...) names none
        on = f" (on {self.command!r})" if self.command else ""
        return f"{self.kind}: {self.detail}{on}"


@frozen_dataclass
class Message:
    """An accepted message, exactly as received (after dot-unstuffing)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    session: int  # the index of the connection it came on
    #: when its data ended on the wire (clock seconds): its final "." arrived (RFC 5321
    #: §4.1.1.4), or its BDAT ... LAST chunk's last octet (RFC 3030 §2), the time of that
    #: transcript entry; not when the server accepted it. The 250 that accepted it has its own
    #: time, when written (SessionRecord.end_of_data finds both).
    time: float
    queue_id: str
    #: MAIL FROM's parameters as the client wrote them (case kept), split at spaces, in order:
    #: ``("size=17", "BODY=8BITMIME", "RET=HDRS", "ENVID=abc")`` (RFC 5321 §4.1.2 esmtp-param;
    #: SIZE RFC 1870, BODY RFC 6152, SMTPUTF8 RFC 6531, AUTH= RFC 4954 §5, RET/ENVID RFC 3461);
    #: aiosmtpd's ``Envelope.mail_options``, but not upper-cased
    mail_options: tuple[str, ...] = ()
    #: each accepted recipient's RCPT TO parameters, aligned with ``rcpt_tos`` (one tuple per
    #: recipient, ``()`` for none): ``(("NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;b@x.test"), ())``
    #: (RFC 3461 §4.1, §4.2); aiosmtpd keeps one flat list for the whole envelope instead
    rcpt_options: tuple[tuple[str, ...], ...] = ()

    # No cache of the parsed message, by choice: a parsed copy costs about twice the raw bytes
    # and would live as long as the journal keeps the record (20 messages of 30 MiB held 1.5 GiB);
    # a bounded cache would be shared mutable state on a frozen record read from any thread. A
    # caller that needs several parts parses once into a local; listings use ``headers``.

    @property
    def message(self) -> EmailMessage:
        """The data parsed whole as an email.message.EmailMessage (RFC 5322/6532 policy),
        parsed anew on each use: keep the result in a local."""
        # the email package is imported on first use: a server starts without it
        import email
        import email.policy
        from email.message import EmailMessage

        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def headers(self) -> EmailMessage:
        """The header block alone (at most HEADER_SCAN_BYTES of the data), parsed: for
        listings, filters and logs, so a 30 MiB message's body is never parsed or copied."""
        import email.parser
        import email.policy
        from email.message import EmailMessage

        head = self.data[:HEADER_SCAN_BYTES]
        end = head.find(b"\r\n\r\n")
        head = head if end < 0 else head[: end + 2]
        parsed = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(head)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def subject(self) -> str:
        """The Subject header, decoded (RFC 2047), read from the header block only."""
        return str(self.headers.get("Subject", ""))


_new = object.__new__


def new_message(
    mail_from: str,
    rcpt_tos: tuple[str, ...],
    data: bytes,
    session: int,
    time: float,
    queue_id: str,
    mail_options: tuple[str, ...] = (),
    rcpt_options: tuple[tuple[str, ...], ...] = (),
) -> Message:
    """``Message(...)``, the same object (equal, same hash and repr, frozen), made at a third
    of the cost: its fields stored in its ``__dict__`` one by one, in field order, where the
    dataclass's ``__init__`` calls ``object.__setattr__`` per field (CPython 3.11: about 13,000
    instructions a message against 4,300). The price: the object holds a dict (64 bytes more
    a message, tracemalloc), its keys shared with the class's as the constructor's are (a store
    per key: ``update()`` would copy a table of its own, as frozen.made does).
    tests/engine/test_records_made.py holds the two alike."""
    obj = _new(Message)
    fields = obj.__dict__
    fields["mail_from"] = mail_from
    fields["rcpt_tos"] = rcpt_tos
    fields["data"] = data
    fields["session"] = session
    fields["time"] = time
    fields["queue_id"] = queue_id
    fields["mail_options"] = mail_options
    fields["rcpt_options"] = rcpt_options
    return obj


#: ``((), (), ...)``: the rcpt_options of a message whose recipients had no parameters, made
#: once for up to 64 recipients (most messages: no tuples made per message)
_NONE_EACH = tuple(((),) * count for count in range(65))


def none_each(count: int) -> tuple[tuple[str, ...], ...]:
    """``count`` recipients' parameters when none had any: ``()`` each."""
    return _NONE_EACH[count] if count < len(_NONE_EACH) else ((),) * count


def declares_smtputf8(mail_options: Sequence[str]) -> bool:
    """Whether MAIL's parameters (``Message.mail_options``) hold SMTPUTF8, in any case: UTF-8
    addresses and headers allowed (RFC 6531 §3.4); aiosmtpd's ``Envelope.smtp_utf8``."""
    return any(option.upper() == "SMTPUTF8" for option in mail_options)


@frozen_dataclass(slots=True)  # slots: one per connection, kept by the journal
class SessionInfo:
    """Which session an event belongs to: its connection number, the client's address
    (``ip:port``, ``[v6]:port``; empty when unknown) and when it connected (the clock's seconds)."""

    index: int  # 1-based connection number since the last reset
    peer: str
    started: float


#: SessionInfo's slots, set without its frozen ``__setattr__`` (new_info)
_SET_INDEX = SessionInfo.__dict__["index"].__set__
_SET_PEER = SessionInfo.__dict__["peer"].__set__
_SET_STARTED = SessionInfo.__dict__["started"].__set__


def new_info(index: int, peer: str, started: float) -> SessionInfo:
    """``SessionInfo(index, peer, started)``, the same object, through its slots' own setters
    rather than ``object.__setattr__`` per field (3,400 instructions against 5,700; one per
    connection). tests/engine/test_records_made.py holds the two alike."""
    obj = _new(SessionInfo)
    _SET_INDEX(obj, index)
    _SET_PEER(obj, peer)
    _SET_STARTED(obj, started)
    return obj


class QuickTranscript(Protocol):
    """An observer's quicker way in for a transcript entry delivered whole (``delivered``
    True, ``written`` None, not an ``event``): (info, time, side, text, rule), no entry made;
    ``rest``: ``()`` for a line or a reply, ``(True, None, False, True)`` (the fields after
    ``rule``) for the engine's note, so a note costs no more than a line."""

    def __call__(
        self,
        info: SessionInfo,
        time: float,
        side: str,
        text: str,
        rule: str | None,
        rest: tuple[Any, ...] = (),
        /,
    ) -> None: ...


#: an observer's quickest way in for transcript entries delivered whole, asked once a session
#: and again whenever its room runs out: (the list the session appends ``(time, side, text,
#: rule)`` tuples to itself, or all of an entry's fields in order for one that is not delivered
#: whole or is a note, the length it may append up to before asking again, the longest
#: ``text`` it may append), or None to send every entry through the quick or full way in
DirectTranscript = tuple[list[tuple[Any, ...]], int, int]

#: an observer's quicker way in for a rule outcome, one per command on a stage with rules:
#: (info, time, stage, argument, fired, why), an Outcome's fields, no Outcome made
QuickOutcome = Callable[[SessionInfo, float, str, str, "str | None", Sequence[object]], None]


class Observer(Protocol):
    """Where a session reports what happened (the journal, one layer up)."""

    def started(self, info: SessionInfo) -> None: ...

    def transcript(self, info: SessionInfo, entry: TranscriptEntry) -> None: ...

    def violation(self, info: SessionInfo, violation: Violation) -> None: ...

    def message(self, info: SessionInfo, message: Message) -> None: ...

    def authenticated(self, info: SessionInfo, user: str) -> None: ...

    def secured(self, info: SessionInfo, version: str, cipher: str) -> None: ...

    def ended(self, info: SessionInfo, time: float) -> None: ...

    def outcome(self, info: SessionInfo, outcome: Outcome) -> None: ...
