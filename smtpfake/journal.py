"""The journal: every session and accepted message, bounded, safe to read from any thread.

Bounded in counts and in bytes (:class:`JournalLimits`; the README's "Limits" lists them): past
a bound the oldest go first, and :meth:`Journal.counts` says how many were accepted and how
many dropped, so a wait can count what was accepted, not what is still kept. A message is held
once (its raw bytes; ``Message.message`` parses on demand), shared by its session's record and
the message list. Listings are snapshots of immutable tuples, each session's built once per
change, so a reader never holds the lock for long.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar, overload

from smtpfake.engine.records import (
    DirectTranscript,
    Message,
    Outcome,
    QuickOutcome,
    QuickTranscript,
    SessionInfo,
    TranscriptEntry,
    Violation,
)
from smtpfake.frozen_dataclass import frozen_dataclass

if TYPE_CHECKING:  # serve's start does not load the pairing (its patterns compile at import)
    from smtpfake.exchanges import Exchange

# JournalLimits lives on its own so that `smtpfake serve --help` can list its fields cheaply
from smtpfake.journal_limits import JournalLimits as JournalLimits
from smtpfake.visible import visible

T = TypeVar("T")

#: entries a session appends to its transcript itself between two asks (Journal.direct_transcript):
#: the journal's byte bound is held that closely
DIRECT_ENTRIES = 64
#: near misses a session's format() lists (a failure report stays readable with many rules)
NEAR_MISSES_SHOWN = 20


def _utf8_size(text: str) -> int:
    """The octets ``text`` takes in UTF-8 (what the transcript byte bound counts)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "replace"))


def subject_of(message: Message) -> str:
    """The message's Subject, read from its header block alone (``Message.subject``): for logs
    and listings, so a 30 MiB message is neither parsed whole nor held twice."""
    return message.subject


@frozen_dataclass
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
        return tuple(miss_text(o, m) for o in self.outcomes for m in o.misses)

    #: transcript entries and violations dropped to stay within JournalLimits.entries
    dropped_entries: int = 0

    @property
    def commands(self) -> tuple[str, ...]:
        """What the client sent, in order, with the engine's notes on it (``(message data, 5
        bytes)``; TranscriptEntry.note tells them from lines); its close is in the transcript,
        not here."""
        return tuple(e.text for e in self.transcript if e.side == "client" and not e.event)

    @property
    def replies(self) -> tuple[str, ...]:
        """What the server sent, in order, with its notes (``(connection closed)``, ...)."""
        return tuple(e.text for e in self.transcript if e.side == "server")

    @property
    def reply_codes(self) -> tuple[int, ...]:
        return tuple(int(r[:3]) for r in self.replies if r[:3].isdigit())

    def exchanges(self) -> tuple[Exchange, ...]:
        """Each line the client sent with the reply that answered it (None: none did), in the
        order the lines came: found by counting, as a server answers commands in order (RFC
        5321 §4.2, RFC 2920 §3.1). The greeting and a 421 sent on no command answer none;
        message text and BDAT chunks are no command (smtpfake/exchanges.py says what counts)."""
        from smtpfake.exchanges import pair

        return pair(self.transcript, whole=not self.dropped_entries)

    def end_of_data(self, message: Message) -> Exchange | None:
        """The exchange that ended one of this session's ``messages``: its final "." (or its
        ``BDAT ... LAST``) and the reply that accepted it, stamped when written (the message's
        own ``time`` is when its data ended). None when the journal no longer keeps it;
        ValueError for a message not of this session."""
        kept = self.messages
        at = next((i for i, m in enumerate(kept) if m is message), None)
        if at is None:
            at = kept.index(message) if message in kept else None  # a copy (read from JSON)
        if at is None:
            raise ValueError(f"message {message.queue_id} is not one of session {self.index}'s")
        from smtpfake.exchanges import accepted_message

        accepted = [x for x in self.exchanges() if accepted_message(x)]
        # both lists drop their oldest first (the journal's limits): they match from the end
        back = len(kept) - at
        return accepted[-back] if back <= len(accepted) else None

    def format(self) -> str:
        head = f"session {self.index} from {self.peer or '?'}"
        if self.tls:
            head += ", over TLS"
        if self.auth_user is not None:
            head += f", authenticated as {self.auth_user!r}"
        lines = [head, *(f"  {line}" for e in self.transcript for line in str(e).split("\n"))]
        lines += [f"  ! {v}" for v in self.violations]
        if self.dropped_entries:
            lines.insert(1, f"  ... {self.dropped_entries} earlier entries not kept")
        hits = self.rule_hits
        if hits:
            lines.append("  rules fired: " + ", ".join(hit_text(k, n) for k, n in hits.items()))
        lines += [f"  {m}" for m in miss_lines(self.near_misses, "session.near_misses")]
        # what a client sent that a terminal would act on (a bare CR, ESC, NUL) is shown as
        # \xNN, as transcript() and serve's log show it, never played
        return visible("\n".join(lines))


# How rules met the commands, in the words of a failing test's report (SessionRecord.format);
# `smtpfake show NAME --journal/--remote` (rules_report) says the same with the same functions.


def hit_text(label: str, count: int) -> str:
    """``greylisted x2``: a rule and how many times it fired."""
    return f"{label} x{count}"


def miss_text(outcome: Outcome, miss: str) -> str:
    """``RCPT b@y.test: greylisted: within 300 s: 312 s elapsed``: one near miss (``miss`` is
    ``LABEL: why``, Outcome.misses) on the command it was met at."""
    return f"{outcome.stage.upper()} {outcome.argument}".rstrip() + f": {miss}"


def miss_lines(misses: Sequence[str], rest: str) -> list[str]:
    """``? MISS`` for the first NEAR_MISSES_SHOWN, then ``? ... and N more (REST)``, where
    ``rest`` says where to find them all."""
    lines = [f"? {m}" for m in misses[:NEAR_MISSES_SHOWN]]
    if len(misses) > NEAR_MISSES_SHOWN:
        lines.append(f"? ... and {len(misses) - NEAR_MISSES_SHOWN} more ({rest})")
    return lines


def rules_report(labels: Sequence[str], sessions: Sequence[SessionRecord], rest: str) -> list[str]:
    """Per rule (``labels`` in scenario order): ``LABEL xN`` summed over ``sessions``, then its
    near misses (miss_lines; ``rest`` says where the uncounted are). Hits and misses of a label
    not in ``labels`` (sessions that ran another scenario) follow under their own labels, after a
    line that says they are not this scenario's rules."""
    hits: Counter[str] = Counter()
    misses: dict[str, list[str]] = {label: [] for label in labels}
    for session in sessions:
        hits.update(session.rule_hits)
        for outcome in session.outcomes:
            for miss in outcome.misses:
                misses.setdefault(_label_of(miss, misses), []).append(miss_text(outcome, miss))
    lines = []
    known, foreign = set(labels), False
    for label in dict.fromkeys([*labels, *misses, *hits]):
        if label not in known and not foreign:
            lines.append("not rules of this scenario (these sessions ran another one):")
            foreign = True
        lines.append(hit_text(label, hits[label]))
        lines += [f"  {m}" for m in miss_lines(misses.get(label, []), rest)]
    return lines


def _label_of(miss: str, labels: Mapping[str, object]) -> str:
    """The rule a ``LABEL: why`` near miss is about: the longest known label it starts with (a
    label may hold ": " itself), else the text before its first ": "."""
    parts = miss.split(": ")
    for end in range(len(parts) - 1, 0, -1):
        label = ": ".join(parts[:end])
        if label in labels:
            return label
    return parts[0]


@frozen_dataclass
class JournalCounts:
    """What the journal saw since it was made or cleared, and what it dropped to stay bounded."""

    sessions_started: int = 0
    sessions_ended: int = 0
    #: every message acknowledged with 250 after its data, kept or not (what waits count)
    messages_accepted: int = 0
    sessions_dropped: int = 0
    messages_dropped: int = 0
    #: transcript entries and violations dropped from sessions that ran past ``entries``
    entries_dropped: int = 0
    #: transcript entries cut to ``entry_chars``
    entries_cut: int = 0
    #: what is kept now
    message_bytes: int = 0
    transcript_bytes: int = 0

    def dropped(self) -> str:
        """One line saying what was not kept to stay within the limits, or "" when nothing was:
        ``journal dropped 3 session(s), 5 message(s) (older ones, over its limits: ...)``."""
        parts = [
            f"{n} {what}"
            for n, what in (
                (self.sessions_dropped, "session(s)"),
                (self.messages_dropped, "message(s)"),
                (self.entries_dropped, "transcript entries"),
                (self.entries_cut, "entries cut short"),
            )
            if n
        ]
        if not parts:
            return ""
        return (
            f"the journal did not keep everything: {', '.join(parts)} (the oldest go first; "
            f"{self.messages_accepted} message(s) accepted, see the README's Limits)"
        )


#: JournalCounts's fields, from its annotations (all fields, in order): ``dataclasses.fields``
#: processed the class at import (tests/test_journal_bounds.py holds them equal)
_COUNT_FIELDS = tuple(JournalCounts.__annotations__)


#: a transcript entry as the journal keeps it: a tuple of TranscriptEntry's fields, only the
#: first four for a line or reply delivered whole (nearly all; :func:`_rest` gives the others).
#: A tuple of strings and numbers is one the cyclic garbage collector stops tracking, so what the
#: journal keeps adds nothing to each collection; the entry is made when the session is read.
Kept = tuple[Any, ...]
#: a kept entry's text (no Python call per entry when a session's entries are counted)
_TEXT = operator.itemgetter(2)


def _rest(entry: TranscriptEntry) -> tuple[Any, ...]:
    """The fields kept after ``rule``: none when they are the defaults (``endings`` only when
    set: a reply whose line endings were not all CRLF)."""
    if entry.endings:
        return (entry.delivered, entry.written, entry.event, entry.note, entry.endings)
    if entry.delivered and entry.written is None and not entry.note and not entry.event:
        return ()
    return (entry.delivered, entry.written, entry.event, entry.note)


class LiveSession:
    """A session as the journal keeps it while it runs; :meth:`snapshot` is its record.

    A plain class with slots (no __dict__: one object fewer per session for the collector), not
    a dataclass: ``dataclasses`` makes a class with slots anew when it is defined, about 1.5
    million instructions of serve's start for a record nothing compares, copies or prints."""

    __slots__ = (
        "auth_user",
        "counted",
        "dropped_entries",
        "ended",
        "info",
        "made",
        "made_after",
        "messages",
        "outcomes",
        "record",
        "shown",
        "tls",
        "transcript",
        "transcript_bytes",
        "violations",
    )
    info: SessionInfo
    # each bounded like the journal itself: one client can keep a session going for ever. The
    # transcript is a list its session may append to itself (Journal.direct_transcript): the
    # entries past ``counted`` are in no byte count yet (Journal._count_entries)
    transcript: list[Kept]
    # made on first use (Journal._bounded): most sessions have no violation, message or rule
    # outcome, and an empty deque is ~600 bytes, a third of an idle session's memory
    violations: deque[Violation] | None
    messages: deque[Message] | None
    ended: float | None
    auth_user: str | None
    tls: bool
    #: Outcome's fields (time, stage, argument, fired, why), made into one when read
    outcomes: deque[tuple[float, str, str, str | None, Sequence[object]]] | None
    transcript_bytes: int
    dropped_entries: int
    #: the snapshot, made once per change (a listing reuses it)
    record: SessionRecord | None
    #: the transcript's entries made so far, and ``dropped_entries`` when they were: each entry
    #: is made once, on the first read after it came, unless older ones were dropped since
    made: tuple[TranscriptEntry, ...]
    made_after: int
    #: the transcript's entries counted in ``transcript_bytes`` (and the journal's)
    counted: int
    #: how many transcript entries ``record`` holds (entries appended since make it stale)
    shown: int

    def __init__(self, info: SessionInfo, transcript: list[Kept]) -> None:
        self.info = info
        self.transcript = transcript
        self.violations = None
        self.messages = None
        self.ended = None
        self.auth_user = None
        self.tls = False
        self.outcomes = None
        self.transcript_bytes = 0
        self.dropped_entries = 0
        self.record = None
        self.made = ()
        self.made_after = 0
        self.counted = 0
        self.shown = 0

    def entries(self) -> tuple[TranscriptEntry, ...]:
        made = self.made if self.made_after == self.dropped_entries else ()
        if len(made) < len(self.transcript):
            more = itertools.islice(self.transcript, len(made), None)
            made += tuple(TranscriptEntry(*kept) for kept in more)
            self.made, self.made_after = made, self.dropped_entries
        return made

    def snapshot(self) -> SessionRecord:
        if self.record is None or self.shown != len(self.transcript):
            transcript = self.entries()
            self.shown = len(transcript)
            self.record = SessionRecord(
                index=self.info.index,
                peer=self.info.peer,
                started=self.info.started,
                ended=self.ended,
                transcript=transcript,
                violations=tuple(self.violations or ()),
                messages=tuple(self.messages or ()),
                auth_user=self.auth_user,
                tls=self.tls,
                dropped_entries=self.dropped_entries,
                outcomes=tuple(Outcome(*kept) for kept in self.outcomes or ()),
            )
        return self.record


class _RecordsView(Sequence[SessionRecord]):
    """Journal.sessions_view(): live sessions, snapshotted (under the journal's lock) on read."""

    def __init__(
        self, lock: AbstractContextManager[object], lives: tuple[LiveSession, ...]
    ) -> None:
        self._lock, self._lives = lock, lives

    def __len__(self) -> int:
        return len(self._lives)

    @overload
    def __getitem__(self, index: int) -> SessionRecord: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[SessionRecord]: ...

    def __getitem__(self, index: int | slice) -> SessionRecord | Sequence[SessionRecord]:
        with self._lock:
            if isinstance(index, slice):
                return tuple(live.snapshot() for live in self._lives[index])
            return self._lives[index].snapshot()


class Journal:
    """Implements the engine's Observer. Writers are the server loop; readers are any thread.

    ``limits`` bounds it (JournalLimits); the keyword arguments override single fields
    (``max_sessions``, ``max_messages``, ``max_entries``, ``max_message_bytes``,
    ``max_transcript_bytes``, ``max_entry_chars``)."""

    def __init__(self, limits: JournalLimits | None = None, /, **max_fields: int) -> None:
        overrides = {k.removeprefix("max_"): v for k, v in max_fields.items()}
        self.limits = dataclasses.replace(limits or JournalLimits(), **overrides)
        # the two bounds every transcript entry is held to, as plain ints (it is the hot path)
        self._entry_chars = self.limits.entry_chars
        self._transcript_bytes = self.limits.transcript_bytes
        # the Condition's own lock, taken directly on the hot paths (a Condition's ``with`` is
        # one more Python call per event); the methods every session calls (started, message,
        # ended, _direct_room) acquire and release it in a try/finally: a ``with`` costs twice
        # the instructions (about 2,000 against 900 on CPython 3.11)
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._waiting = 0  # threads in wait(): a change wakes them, and costs nothing without
        self._sessions: OrderedDict[int, LiveSession] = OrderedDict()
        # sessions that append to their transcript themselves (direct_transcript), by id as
        # _sessions: a read first counts what they appended (_catch_up)
        self._direct: dict[int, LiveSession] = {}
        # sessions dropped while still open (by id, as _sessions): what they accept and their
        # end still count; as many as are open at once, each gone when it ends
        self._dropped_open: dict[int, SessionInfo] = {}
        # (its session, the message): the session's record shares the same Message object
        self._messages: deque[tuple[LiveSession, Message]] = deque()
        # JournalCounts' fields as plain ints, cheaper than a frozen copy per event
        self._n = dict.fromkeys(_COUNT_FIELDS, 0)
        self._messages_snapshot: tuple[Message, ...] | None = ()
        self._sessions_snapshot: tuple[SessionRecord, ...] | None = ()

    def _count(self, **add: int) -> None:
        for key, value in add.items():
            self._n[key] += value

    def _notify(self) -> None:
        """Wake the threads in wait() (called with the lock held)."""
        if self._waiting:
            self._cond.notify_all()

    def _touch(self, live: LiveSession) -> None:
        """``live`` changed: its snapshot, and the listing, are made again when next read."""
        live.record = None
        self._sessions_snapshot = None

    # -- Observer --------------------------------------------------------------------------------

    def started(self, info: SessionInfo) -> None:
        # (LoggingJournal.started repeats this body, to do its own under the same hold: keep
        # the two alike)
        lock = self._lock  # (acquire/release: see __init__)
        lock.acquire()
        try:
            # Keyed by the info object, not its index: use() restarts connection numbers, so two
            # sessions in one journal can share an index. The entry holds info, so ids stay unique.
            self._sessions[id(info)] = LiveSession(info, [])
            self._n["sessions_started"] += 1
            self._sessions_snapshot = None
            while len(self._sessions) > self.limits.sessions:
                self._drop_oldest_session()
            if self._waiting:  # _notify(), inline: this runs for every session
                self._cond.notify_all()
        finally:
            lock.release()

    def _drop_oldest_session(self) -> None:
        key, live = self._sessions.popitem(last=False)
        self._sessions_snapshot = None
        self._count_entries(live)
        self._direct.pop(key, None)
        self._count(sessions_dropped=1, transcript_bytes=-live.transcript_bytes)
        if live.ended is None:  # still open: its messages and its end are still counted
            self._dropped_open[key] = live.info

    def _live(self, info: SessionInfo) -> LiveSession | None:
        live = self._sessions.get(id(info))
        return live if live is not None and live.info is info else None

    def transcript(self, info: SessionInfo, entry: TranscriptEntry) -> None:
        self._keep(info, entry.time, entry.side, entry.text, entry.rule, _rest(entry))

    @property
    def quick_transcript(self) -> QuickTranscript | None:
        """The engine's quicker way in for a line or reply delivered whole (nearly every entry):
        the entry's fields, no TranscriptEntry made (records.QuickTranscript). None for a
        journal whose class does more in :meth:`transcript` (a log, an event stream): it must
        see every entry."""
        return self._keep if type(self).transcript is Journal.transcript else None

    @property
    def direct_transcript(self) -> Callable[[SessionInfo], DirectTranscript | None] | None:
        """The engine's quickest way in for entries delivered whole: a session appends them to
        its transcript list itself, no call per entry (records.DirectTranscript). Offered, as
        :attr:`quick_transcript`, only by a journal whose class does nothing more per entry."""
        return self._direct_room if type(self).transcript is Journal.transcript else None

    def _direct_room(self, info: SessionInfo) -> DirectTranscript | None:
        """The session's transcript list, how long it may grow before the session asks again,
        and the longest entry it may append; None once the journal no longer keeps it. Asking
        counts what was appended and holds the journal to its byte bound: the bound is kept
        within DIRECT_ENTRIES entries a session."""
        lock = self._lock  # (acquire/release: see __init__)
        lock.acquire()
        try:
            live = self._sessions.get(id(info))
            if live is None or live.info is not info:
                return None
            if live.counted != len(live.transcript):  # (a new session's: none to count)
                self._count_entries(live)
            limit = self.limits.entries
            if len(live.transcript) >= limit:
                # a block of the oldest goes, so a long session keeps the direct way in (one at
                # a time, every entry past the limit would take the slow way: _keep)
                self._drop_entries(live, len(live.transcript) - limit + max(1, limit // 8))
            if self._n["transcript_bytes"] > self._transcript_bytes:  # (a call less, most times)
                self._hold_to_bytes(live)
            self._direct[id(info)] = live
            room = len(live.transcript) + DIRECT_ENTRIES
            return live.transcript, room if room < limit else limit, self._entry_chars  # (no min())
        finally:
            lock.release()

    def _drop_entries(self, live: LiveSession, count: int) -> None:
        """Drop the session's ``count`` oldest transcript entries, all counted (lock held)."""
        transcript = live.transcript
        self._dropping_entries(live.info, transcript, count)
        size = _utf8_size("".join(map(_TEXT, itertools.islice(transcript, count))))
        del transcript[:count]  # under the lock: a reader never sees the list shift
        live.counted -= count
        live.transcript_bytes -= size
        live.dropped_entries += count
        live.record = None
        self._sessions_snapshot = None
        self._n["transcript_bytes"] -= size
        self._n["entries_dropped"] += count

    def _dropping_entries(self, info: SessionInfo, transcript: list[Any], count: int) -> None:
        """Called before the session's ``count`` oldest entries of ``transcript`` go (lock
        held): for a subclass that reads the same list (serve's log)."""

    def _count_entries(self, live: LiveSession) -> None:
        """Count in the byte totals what the session appended itself since last counted."""
        transcript = live.transcript
        if live.counted == len(transcript):
            return
        # what this saw, not len() after it: the session may be appending meanwhile. A slice
        # (one copy of the new entries), not islice(), which steps over the counted ones: on a
        # session of 400,000 entries that was seconds of CPU inside one callback of the loop
        new = transcript[live.counted :]
        # one join, not a call per entry: UTF-8 sizes add up (no two texts make one character)
        joined = "".join(map(_TEXT, new))
        size = len(joined) if joined.isascii() else _utf8_size(joined)  # (a call less, mostly)
        live.counted += len(new)
        live.transcript_bytes += size
        self._n["transcript_bytes"] += size
        self._sessions_snapshot = None

    def _hold_to_bytes(self, live: LiveSession | None) -> None:
        """Past the byte bound the oldest sessions go, never ``live`` (the one being written;
        None: the newest)."""
        n = self._n
        if n["transcript_bytes"] <= self._transcript_bytes or not self._sessions:
            return
        keep = live if live is not None else next(reversed(self._sessions.values()))
        while (
            n["transcript_bytes"] > self._transcript_bytes
            and next(iter(self._sessions.values())) is not keep
        ):
            self._drop_oldest_session()

    def _catch_up(self) -> None:
        """Before a read: count what the open sessions appended themselves, and hold the bound."""
        if self._direct:
            for live in self._direct.values():
                self._count_entries(live)
            self._hold_to_bytes(None)

    def _keep(
        self,
        info: SessionInfo,
        time: float,
        side: str,
        text: str,
        rule: str | None,
        rest: tuple[Any, ...] = (),
    ) -> None:
        """Keep one entry (``rest``: :func:`_rest`): an entry the session could not append
        itself (over-long, past ``entries``, not delivered whole, or no direct way in)."""
        with self._lock:
            live = self._sessions.get(id(info))
            if live is None or live.info is not info:
                return
            self._count_entries(live)
            if len(text) > self._entry_chars:
                text = self._cut(text)
            size = len(text) if text.isascii() else _utf8_size(text)
            transcript = live.transcript
            if len(transcript) >= self.limits.entries:
                self._forget_entry(live, _utf8_size(transcript[0][2]))
                del transcript[0]  # under the lock: a reader never sees the list shift
            transcript.append((time, side, text, rule, *rest) if rest else (time, side, text, rule))
            live.counted = len(transcript)
            live.transcript_bytes += size
            live.record = None  # _touch(live), inline
            self._sessions_snapshot = None
            n = self._n
            n["transcript_bytes"] += size
            self._hold_to_bytes(live)

    def _cut(self, text: str) -> str:
        """``text`` cut to ``entry_chars``, saying how much was left off."""
        limit = self.limits.entry_chars
        self._n["entries_cut"] += 1
        return f"{text[:limit]}... ({len(text) - limit:,} more characters)"

    def _forget_entry(self, live: LiveSession, size: int) -> None:
        live.transcript_bytes -= size
        live.dropped_entries += 1
        self._n["transcript_bytes"] -= size
        self._n["entries_dropped"] += 1

    def violation(self, info: SessionInfo, violation: Violation) -> None:
        with self._lock:
            if live := self._live(info):
                violations = live.violations
                if violations is None:
                    violations = live.violations = deque(maxlen=self.limits.entries)
                elif len(violations) == violations.maxlen:
                    live.dropped_entries += 1
                    self._count(entries_dropped=1)
                violations.append(violation)
                self._touch(live)

    def message(self, info: SessionInfo, message: Message) -> None:
        lock = self._lock  # (acquire/release: see __init__)
        lock.acquire()
        try:
            live = self._sessions.get(id(info))  # _live(info), inline: every message
            if live is None or live.info is not info:
                if self._dropped_open.get(id(info)) is info:  # over the bounds: counted only
                    self._count(messages_accepted=1, messages_dropped=1)
                    self._notify()
                return  # a session from before clear(): not this journal's
            n = self._n  # _count(), inline: this runs for every message
            n["messages_accepted"] += 1
            n["message_bytes"] += len(message.data)
            if live.messages is None:  # (maxlen positional: a keyword costs deque() 1,700 more)
                live.messages = deque((), self.limits.messages)  # noqa: RUF037
            live.messages.append(message)
            live.record = None  # _touch(live), inline
            self._sessions_snapshot = None
            messages = self._messages
            messages.append((live, message))
            self._messages_snapshot = None
            limits = self.limits
            while len(messages) > 1 and (
                len(messages) > limits.messages or n["message_bytes"] > limits.message_bytes
            ):
                self._drop_oldest_message()
            if self._waiting:  # _notify(), inline
                self._cond.notify_all()
        finally:
            lock.release()

    def _drop_oldest_message(self) -> None:
        owner, gone = self._messages.popleft()
        self._count(messages_dropped=1, message_bytes=-len(gone.data))
        # the oldest kept message is also its session's oldest (both lists are in order)
        if owner.messages and owner.messages[0] is gone:
            owner.messages.popleft()
            self._touch(owner)

    def authenticated(self, info: SessionInfo, user: str) -> None:
        with self._lock:
            if live := self._live(info):
                live.auth_user = user
                self._touch(live)
                self._notify()

    def secured(self, info: SessionInfo, version: str, cipher: str) -> None:
        with self._lock:
            if live := self._live(info):
                live.tls = True
                self._touch(live)
                self._notify()

    def outcome(self, info: SessionInfo, outcome: Outcome) -> None:
        o = outcome
        self._keep_outcome(info, o.time, o.stage, o.argument, o.fired, o.why)

    @property
    def quick_outcome(self) -> QuickOutcome | None:
        """The engine's quicker way in for a rule outcome: its fields, no Outcome made
        (records.QuickOutcome). None for a journal whose class does more in :meth:`outcome`."""
        return self._keep_outcome if type(self).outcome is Journal.outcome else None

    def _keep_outcome(
        self,
        info: SessionInfo,
        time: float,
        stage: str,
        argument: str,
        fired: str | None,
        why: Sequence[object],
    ) -> None:
        with self._lock:
            live = self._sessions.get(id(info))
            if live is not None and live.info is info:
                if live.outcomes is None:
                    live.outcomes = deque(maxlen=self.limits.entries)
                live.outcomes.append((time, stage, argument, fired, why))
                live.record = None
                self._sessions_snapshot = None

    def ended(self, info: SessionInfo, time: float) -> None:
        lock = self._lock  # (acquire/release: see __init__)
        lock.acquire()
        try:
            # (calls inline where they would do nothing most times: this runs for every session)
            live = self._direct.pop(id(info), None)
            if live is not None:
                if live.counted != len(live.transcript):
                    self._count_entries(live)
                if self._n["transcript_bytes"] > self._transcript_bytes:
                    self._hold_to_bytes(live)
                # a session in _direct is kept, under this info (dropping it, or clear(), takes
                # it out of _direct): neither _dropped_open's nor _sessions' look-up is needed
            else:
                if self._dropped_open.get(id(info)) is info:
                    del self._dropped_open[id(info)]
                    self._count(sessions_ended=1)
                    self._notify()
                    return
                live = self._sessions.get(id(info))  # _live(info)
                if live is None or live.info is not info:
                    return
            if live.ended is None:
                self._n["sessions_ended"] += 1
            live.ended = time
            live.record = None  # _touch(live)
            self._sessions_snapshot = None
            if self._waiting:  # _notify()
                self._cond.notify_all()
        finally:
            lock.release()

    # -- reading ---------------------------------------------------------------------------------

    def sessions(self) -> tuple[SessionRecord, ...]:
        """The kept sessions, oldest first (each snapshot made once per change)."""
        with self._lock:
            self._catch_up()
            if self._sessions_snapshot is None:
                self._sessions_snapshot = tuple(s.snapshot() for s in self._sessions.values())
            return self._sessions_snapshot

    def sessions_view(self) -> Sequence[SessionRecord]:
        """The kept sessions, oldest first, as of now, each record made when it is read: for a
        listing that gives the event loop back between items (sessions() makes every missing
        record in one step: 0.15 s for 10,000 sessions, time the SMTP sessions share)."""
        with self._lock:
            self._catch_up()
            return _RecordsView(self._lock, tuple(self._sessions.values()))

    def messages(self) -> tuple[Message, ...]:
        """The kept messages, oldest first."""
        with self._lock:
            if self._messages_snapshot is None:
                self._messages_snapshot = tuple(m for _, m in self._messages)
            return self._messages_snapshot

    def counts(self) -> JournalCounts:
        """Accepted, ended and dropped since the journal was made or cleared."""
        with self._lock:
            self._catch_up()
            return JournalCounts(**self._n)

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._direct.clear()
            self._dropped_open.clear()
            self._messages.clear()
            self._messages_snapshot = ()
            self._n = dict.fromkeys(_COUNT_FIELDS, 0)
            self._sessions_snapshot = ()
            self._notify()

    def wait(self, predicate: Callable[[Journal], T], timeout: float) -> T:
        """Block until ``predicate(self)`` is truthy or ``timeout`` (seconds, finite, >= 0)
        passes; return its value."""
        if not 0 <= timeout < float("inf"):  # NaN too: it would never time out
            raise ValueError(f"timeout must be a finite number of seconds >= 0, got {timeout!r}")
        from smtpfake import wait_cancel  # only a wait needs it: serve's start does not load it

        deadline = time.monotonic() + timeout
        with self._cond:
            self._waiting += 1
            try:
                while True:
                    value = predicate(self)
                    remaining = deadline - time.monotonic()
                    if value or remaining <= 0:
                        return value
                    # Condition.wait releases the lock; readers inside predicate re-take it.
                    # In slices in an awaitable wait's worker thread: its await's cancel ends it.
                    self._cond.wait(wait_cancel.slice_of(min(remaining, 0.5)))
                    wait_cancel.check()
            finally:
                self._waiting -= 1

    def wait_for_messages(self, count: int, timeout: float) -> bool:
        """Whether ``count`` messages were accepted (kept or not) within ``timeout`` seconds."""
        return self.wait(lambda j: j.counts().messages_accepted >= count, timeout)

    def wait_for_sessions(self, count: int, timeout: float) -> bool:
        """Whether ``count`` sessions ended (kept or not) within ``timeout`` seconds."""
        return self.wait(lambda j: j.counts().sessions_ended >= count, timeout)
