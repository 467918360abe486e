"""One log line per session event, so a CI log shows what the client did.

``LoggingJournal`` is a :class:`Journal` that also writes each event it records: connect, every
command and reply, violations, accepted messages, AUTH success, the TLS handshake, close.
``smtpfake serve`` puts it in place of the server's journal before serving. Text for people by
default; JSON lines (``--log-format json``) for log collectors.

The log must not cost the server its speed. A session appends its transcript entries to the
journal's list itself, as with the plain journal (records.DirectTranscript: no call per entry);
the log reads what was appended when it writes a batch (:class:`EventLog`: every FLUSH_DELAY
seconds while a session is open) and makes those lines then, one loop per batch
(smtpfake.log_lines), stamped from a per-millisecond cache, escaped once per batch. A batch for
a stream with a file descriptor (stdout) is handed to a thread of the log's own
(smtpfake.log_writer), so that a reader that does not keep up never holds the server up.
"""

from __future__ import annotations

import asyncio
import atexit
import math
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Literal, Protocol, TextIO

from smtpfake.engine.records import (
    DirectTranscript,
    Message,
    QuickTranscript,
    SessionInfo,
    TranscriptEntry,
    Violation,
)
from smtpfake.journal import Journal, Kept, LiveSession, subject_of
from smtpfake.log_lines import (
    EVEN,
    MILLI_SPAN,
    MILLI_Z,
    Fields,
    Followed,
    Later,
    Lines,
    Ready,
    by_time,
    entry_fields,
    json_object,
    tables,
)
from smtpfake.log_writer import LogWriter
from smtpfake.visible import json_document, visible

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

#: seconds a line waits at most before it is written, while the event loop that made it runs
FLUSH_DELAY = 0.05
#: characters gathered that are written at once, without waiting for the timer (64 KiB of ASCII)
FLUSH_SIZE = 64 * 1024


def ts_text(t: float) -> str:
    """``t`` (seconds since the epoch) as a JSON log line's ``ts``, a number whose float is ``t``
    exactly: from 2001 to 2286 with 7 decimals (``1764000000.1234567``: 17 significant digits,
    which read back as any float), else as Python's repr (the shortest digits that do)."""
    return f"{t:.7f}" if 1e9 <= t < 1e10 else repr(t)


def _escaped(text: str) -> str:
    """``text`` with what UTF-8 cannot hold escaped (a lone surrogate that visible() left, as
    ``\\udXXX``): the text log never fails to write."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def stamp_of(t: float) -> str:
    """:meth:`EventLog.stamp` of ``t`` with no log's state (for a line made nearly never)."""
    tables()
    fraction, whole = math.modf(t)
    second, micro = divmod(round(fraction * 1e6), 1_000_000)
    return _iso_second(second + int(whole)) + MILLI_Z[micro // 1000]


def dropped_line(lines: int) -> str:
    """The text of the notice that ``lines`` lines of the log were dropped."""
    return (
        f"smtpfake: log: {lines} line{'s' * (lines != 1)} dropped "
        "(the log's reader is not keeping up)"
    )


def _iso_second(second: int) -> str:
    """``2026-01-05T10:00:00.``: the part of an ISO 8601 UTC stamp that a whole second fixes."""
    if 0 <= second < 2**34:
        # what datetime's strftime gives (it formats the same fields with time.strftime), without
        # importing datetime at the first session (3.7M instructions of the first greeting); the
        # years 1970-2514, four digits each
        return time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
    import datetime  # where used: see above

    stamp = datetime.datetime.fromtimestamp(second, tz=datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.")


class LineSource(Protocol):
    """What makes lines for an :class:`EventLog` lazily (a :class:`LoggingJournal`)."""

    def drain(self) -> tuple[str, bool]:
        """(the lines made since the last drain, each ending in a newline, not yet escaped;
        whether the source still has sessions to follow)."""
        ...


class EventLog:
    """Writes events as text or JSON lines to a stream; safe to call from any thread.

    Lines are gathered in order and written in batches: by a timer in the running event loop that
    made the first waiting line, ``delay`` seconds later (FLUSH_DELAY); at once when FLUSH_SIZE
    characters are waiting; at once for a line made in a thread with no running loop while no
    running loop's timer is due (everything waiting goes first); and by :meth:`flush`, which the
    owner calls when the loop stops (``smtpfake serve`` does, and before it reports an error),
    and which also runs at the interpreter's exit. One lock orders both the gathering and the
    writing, so lines from several threads reach the stream in the order they were made.

    A :class:`LineSource` (a logging journal) makes its lines when a batch is written: each
    batch first takes what its sources made (before any line written after it), and the timer
    comes back every ``delay`` seconds while a source follows an open session.

    A stream with a file descriptor (stdout, a file, a pipe) is written by a thread of the log's
    own (:class:`LogWriter`): a batch is handed over, never written by the thread that made it,
    and at most :data:`log_writer.BOUND` characters wait; past that a batch is dropped, its lines
    counted (:attr:`dropped`), and a line says so once the reader caught up. Other streams (an
    ``io.StringIO``) are written by the thread that writes the batch.

    A stream that cannot be written (OSError: the reader of a pipe went away, a full disk) is a
    failure of the log: kept in :attr:`failure`, given to ``on_failure`` when set (else raised to
    the caller of the write, or with a thread of the log's own of the next :meth:`flush`), and
    every later line is dropped. ``on_failure`` runs in the thread that wrote (with the log's
    lock held when that is not the log's own): it must not write to this log."""

    def __init__(
        self,
        stream: TextIO,
        fmt: LogFormat = "text",
        *,
        delay: float = FLUSH_DELAY,
        on_failure: Callable[[OSError], None] | None = None,
    ) -> None:
        if fmt not in LOG_FORMATS:
            raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}")
        if not 0 <= delay < float("inf"):
            raise ValueError(f"delay must be a finite number of seconds >= 0, got {delay!r}")
        self.stream = stream
        self.format = fmt
        self.delay = delay
        self.on_failure = on_failure
        self.failure: OSError | None = None
        self._lock = threading.Lock()
        self._pending: list[str] = []  # lines, each with its newline, escaped
        self._size = 0  # characters in _pending
        # the sources that may have lines, in the order they came (a dict: an ordered set)
        self._sources: dict[LineSource, None] = {}
        #: the loop whose timer writes what is pending; a line made while it no longer runs (it
        #: stopped before the timer fired) is written at once, with the rest
        self.armed: asyncio.AbstractEventLoop | None = None
        #: (the last stamp's second as a float, its stamp up to the milliseconds, its number
        #: and a dot when a ts within it is written to 100 ns, else ""): one tuple, so a thread
        #: never pairs one with another's; at first a second no time is within
        self.second: tuple[float, str, str] = (1e300, "", "")
        #: (a second as in :attr:`second`, from, to, a millisecond's "120Z"): the times within
        #: ``from <= t - second < to`` have that millisecond (log_lines.MILLI_SPAN: a span
        #: within a recent stamp's millisecond); one tuple, as :attr:`second`; at first none
        self.window: tuple[float, float, float, str] = (1e300, 1.0, 0.0, "")
        self._heads: dict[int, str] = {}  # a few recent seconds -> their stamps' heads
        self._json: Callable[[object], str] | None = None
        self._string: Callable[[str], str] = str
        self._told = False  # a failure in the log's thread was raised to a caller (no on_failure)
        self._writer: LogWriter | None = None
        try:
            stream.fileno()
        except (AttributeError, OSError, ValueError):  # io.StringIO and the like: written here
            pass
        else:
            stream.flush()  # what was printed to it before: its buffer is not used from now on
            self._writer = LogWriter(stream, self._dropped_notice, self._failed)
        _LOGS.add(self)  # what still waits when the interpreter exits is written then

    def stamp(self, t: float) -> str:
        """``2026-01-05T10:00:00.120Z``: ``t`` (seconds since the epoch) in UTC to the
        millisecond, as ``datetime.fromtimestamp(t).isoformat(timespec="milliseconds")`` makes
        it (rounded to the microsecond, half to even, then truncated). :attr:`second` holds the
        last stamp's second and :attr:`window` a span of its millisecond: a time within that span
        costs two comparisons, one within the second a few float operations and a look-up."""
        base, head, _ = self.second
        at, low, high, milli = self.window
        if at == base and low <= t - base < high:
            return head + milli
        span = MILLI_SPAN.get(((t - base) * 1e6 + EVEN - EVEN) // 1000.0)  # log_lines.milli_of
        if span is None:
            return self._stamp_anew(t)
        self.window = (base, span[1], span[2], span[0])
        return head + span[0]

    def ts(self, t: float) -> str:
        """:func:`ts_text`, without a float format for a time in the last stamp's second."""
        base, _, dotted = self.second
        if dotted:
            # exact: t - base (within a second of each other) and its product with 1e7 (t's
            # fraction has at most 22 bits here); rounded half to even as f"{t:.7f}" rounds
            tenths = (t - base) * 1e7 + EVEN - EVEN
            if 0.0 <= tenths < 1e7:
                return dotted + "%07d" % tenths  # noqa: UP031  # a third of the format spec's cost
        return ts_text(t)

    def _stamp_anew(self, t: float) -> str:
        """:meth:`stamp` of a time in another second than the last stamp's (which it becomes,
        if not before 1970), as datetime.fromtimestamp rounds: to the microsecond, half to
        even; a microsecond's carry may make it the next second."""
        tables()  # (the first stamp of the process comes here: every look-up missed)
        fraction, whole = math.modf(t)
        second, micro = divmod(round(fraction * 1e6), 1_000_000)
        second += int(whole)
        head = self._heads.get(second)
        if head is None:
            head = self._heads[second] = _iso_second(second)
            if len(self._heads) > 4:  # the last few: sessions' lines go back and forth across one
                self._heads.pop(min(self._heads), None)  # None: another thread did
        if 0 <= second < 2**34:  # (MILLI_SPAN's spans hold to the year 2514)
            # 10 digits and 7 decimals: 17 significant digits, which give the float back
            dotted = f"{second}." if 10**9 <= second < 10**10 else ""
            self.second = (float(second), head, dotted)
        return head + MILLI_Z[micro // 1000]

    def line(self, event: str, time: float, line: str, **fields: Any) -> str:
        """The log's line for an event, not yet escaped (:meth:`shown`): ``line`` is the human
        form (``STAMP session N LINE``, one line per line of ``line``); ``fields`` are what the
        JSON line carries (its ``text`` defaults to ``line``)."""
        if self.format == "json":
            encode = self._json
            if encode is None:
                import json  # only for JSON lines: the text log starts without it

                encode = self._json = json.JSONEncoder(ensure_ascii=False).encode
                self._string = json.encoder.encode_basestring  # C, as that encoder's
            stamp = self.stamp(time)  # first: it may move :attr:`second` to this time's
            rest = {"event": event, "text": line, **fields}
            out = json_object(rest, self._string)
            if out is None:
                out = encode(rest)
            return f'{{"time": "{stamp}", "ts": {self.ts(time)}, {out[1:]}\n'
        session = fields.get("session")
        who = f"session {session} " if session is not None else ""
        line = visible(line)  # a client's ESC sequence or NUL is shown, never played
        out = f"{self.stamp(time)} {who}{line}\n"
        if "\n" in line:
            # a multi-line reply: each of its lines on a line of its own, prefixed alike, so
            # that every line of the log says when and which session (and greps whole)
            head = out[: len(out) - len(line) - 1]
            out = "".join(f"{head}{part}\n" for part in line.split("\n"))
        return out

    def shown(self, lines: str) -> str:
        """``lines`` (made by :meth:`line`) as the log writes them, one pass over a batch. Text:
        what UTF-8 cannot hold escaped (what a terminal would act on is shown as ``\\xNN``
        already). JSON: each octet that was not UTF-8 as ``\\xNN`` (json_document), never a
        lone surrogate, which strict JSON parsers reject."""
        if self.format == "json":
            return json_document(lines)
        return lines if lines.isascii() else _escaped(lines)

    def event(self, event: str, time: float, line: str, **fields: Any) -> None:
        """Write :meth:`line` (see there)."""
        self.write(self.shown(self.line(event, time, line, **fields)))

    def write(self, text: str) -> None:
        """Queue ``text`` (whole lines, each ending in a newline, escaped) to be written in
        order: after every line the sources made before it."""
        with self._lock:
            self._drain()
            self._pending.append(text)
            self._size += len(text)
            self._schedule()

    def push(self, source: LineSource | None = None) -> None:
        """``source`` has made lines (or follows a session): have them written, by the running
        loop's timer or now. A source that was not yet known (or no longer) passes itself."""
        armed = self.armed
        if source is None and armed is not None and armed.is_running():
            return  # that loop's timer writes them
        with self._lock:
            if source is not None:
                self._sources[source] = None
            self._schedule()

    def flush(self, wait: bool = False) -> bool:
        """Write every waiting line now; with a thread of the log's own, hand them to it, and
        with ``wait`` wait until it has written them, at most until it wrote nothing for
        log_writer.STALL seconds (the reader stopped reading) or LIMIT in all (a wait that
        gave up, with nothing written since, gives up at once). True when nothing handed over
        waits to be written."""
        with self._lock:
            self._drain()
            self._write_pending()
        writer = self._writer
        if writer is None:
            return True
        written = writer.wait() if wait else writer.done
        if self.failure is not None and self.on_failure is None and not self._told:
            self._told = True
            raise self.failure
        return written

    @property
    def dropped(self) -> int:
        """Lines dropped so far because its reader did not keep up."""
        return 0 if self._writer is None else self._writer.dropped

    @property
    def unwritten(self) -> int:
        """Lines handed to the log's thread and not yet written."""
        return 0 if self._writer is None else self._writer.unwritten

    def _dropped_notice(self, lines: int) -> str:
        # (LogWriter's notice) a line of serve's own, as its others: plain text, or a JSON event
        text = dropped_line(lines)
        if self.format != "json":
            return text + "\n"
        t = time.time()  # the wall clock: when the reader caught up
        head = f'{{"time": "{stamp_of(t)}", "ts": {ts_text(t)}, "event": "dropped"'
        return f'{head}, "text": "{text}", "lines": {lines}}}\n'  # (ASCII, nothing to escape)

    def _failed(self, exc: OSError) -> None:
        # the log's thread could not write
        self.failure = exc
        if self.on_failure is not None:
            self.on_failure(exc)

    def _schedule(self) -> None:
        # with self._lock held: arm the running loop's timer, or write now
        if self._size < FLUSH_SIZE:
            armed = self.armed
            if armed is not None and armed.is_running():
                return  # that loop's timer writes these too
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                # a flush() before the timer writes these first: the timer then finds none
                loop.call_later(self.delay, self._tick)
                self.armed = loop
                return
        self._drain()
        self._write_pending()

    def _tick(self) -> None:
        """The timer: write what waits; come back while a source follows an open session."""
        with self._lock:
            self.armed = None
            self._drain()
            self._write_pending()
            if self._sources:
                loop = asyncio.get_running_loop()  # the timer's own
                loop.call_later(self.delay, self._tick)
                self.armed = loop

    def _drain(self) -> None:
        # with self._lock held: the lines the sources made, before anything queued after them
        if not self._sources:
            return
        for source in list(self._sources):
            made, following = source.drain()
            if made:
                made = self.shown(made)
                self._pending.append(made)
                self._size += len(made)
            if not following:
                del self._sources[source]

    def _write_pending(self) -> None:
        # with self._lock held: the write is ordered with the gathering
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._size = 0
        if self._writer is not None:
            self._writer.put(text)  # never waits: the log's thread writes it
            return
        if self.failure is not None:
            return  # the stream is gone: nothing more reaches it
        try:
            self.stream.write(text)
            self.stream.flush()
        except OSError as exc:
            self.failure = exc
            if self.on_failure is None:
                raise
            self.on_failure(exc)


#: every log still in use (weakly: a log that is gone has nothing left to write)
_LOGS: weakref.WeakSet[EventLog] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for log in list(_LOGS):
        log.flush(wait=True)  # a while at most: a pipe nobody reads must not hold the exit up


class LoggingJournal(Journal):
    """A journal that also logs each event (after recording it, so a log line never runs ahead).

    A session appends its entries to the journal's list itself (the direct way in stays on);
    the log reads them when it writes a batch: the journal is a :class:`LineSource` of ``log``.
    ``tag`` (a server on demand's id) follows ``session N`` on each of its text lines as
    ``[tag]``, and is each JSON line's ``server``."""

    def __init__(self, log: EventLog, tag: str | None = None, /, **limits: int) -> None:
        super().__init__(**limits)
        self.log = log
        self.tag = tag
        self._lines = Lines(log, tag)
        # the sessions followed, by id(info) as the journal's own
        self._follow: dict[int, Followed] = {}
        # sessions a clear() let go: read once more, then dropped
        self._let_go: list[Followed] = []
        self._ready: Ready = []  # lines made and not yet drained: (sort key, text)
        self._pushed = False  # the log has this source (push() passed it since the last drain)

    # -- the log's side -----------------------------------------------------------------------

    def drain(self) -> tuple[str, bool]:
        """LineSource: every line made so far, in time order across sessions (each session's in
        its own order)."""
        lock = self._lock  # (acquire/release, not ``with``: see Journal.__init__)
        lock.acquire()
        try:
            if self._let_go:
                for followed in self._let_go:
                    self._take(followed)
                    self._lines.release(self._ready, followed)
                self._let_go.clear()
            take, ready = self._lines.take, self._ready
            for followed in self._follow.values():
                if len(followed.entries) > followed.logged:
                    take(ready, followed)
            made = by_time(ready) if ready else ""
            following = self._pushed = bool(self._follow)
            return made, following
        finally:
            lock.release()

    def _push(self) -> None:
        # after the journal's lock is let go (the log's lock comes first: EventLog._drain)
        if not self._pushed:
            self._pushed = True
            self.log.push(self)
            return
        armed = self.log.armed
        if armed is None or not armed.is_running():  # (EventLog.push inline: nearly always)
            self.log.push()

    def _take(self, followed: Followed) -> None:
        """Make the lines of the entries the session appended since last read (lock held)."""
        self._lines.take(self._ready, followed)

    def _followed(self, info: SessionInfo) -> Followed:
        """The session as followed, its lines made up to now; one of its own, not followed, for
        a session not started here (or before a clear()). Lock held."""
        followed = self._follow.get(id(info))
        if followed is None:
            return self._lines.follow(info, [])
        self._take(followed)
        return followed

    def _dropping_entries(self, info: SessionInfo, transcript: list[Any], count: int) -> None:
        """The entries about to go are logged first: the log reads the same list."""
        followed = self._follow.get(id(info))
        if followed is not None and followed.entries is transcript:
            self._take(followed)
            followed.logged -= count  # what it has logged, once the oldest ``count`` are gone
            followed.dropped += count

    def _event(self, followed: Followed, event: str, time: float, line: str, **fields: Any) -> None:
        self._lines.event(self._ready, followed, event, time, line, fields)

    # -- the observer --------------------------------------------------------------------------

    def started(self, info: SessionInfo) -> None:
        # Journal.started and the log's part under one hold of the lock, with no super() call
        # (a session's events cost the log some 1,500 instructions less each: one lock's round
        # trip and one call fewer). Journal.started's body, as it is there:
        lock = self._lock  # (acquire/release, not ``with``: see Journal.__init__)
        lock.acquire()
        try:
            key = id(info)
            entries: list[Kept] = []
            self._sessions[key] = LiveSession(info, entries)
            self._n["sessions_started"] += 1
            self._sessions_snapshot = None
            while len(self._sessions) > self.limits.sessions:
                self._drop_oldest_session()
            if self._waiting:
                self._cond.notify_all()
            # the log's: the session's list of entries, if the journal still keeps the session
            if key not in self._sessions:
                entries = []
            followed = self._follow[key] = self._lines.follow(info, entries)
            line = f"connect from {info.peer or '?'}"
            fields = {"peer": info.peer} if self._lines.json else {}  # the JSON line's
            self._lines.event(self._ready, followed, "connect", info.started, line, fields)
        finally:
            lock.release()
        armed = self.log.armed  # (_push()'s test, inline: nearly always nothing to do)
        if not self._pushed or armed is None or not armed.is_running():
            self._push()

    @property
    def direct_transcript(self) -> Callable[[SessionInfo], DirectTranscript | None] | None:
        """The journal's direct way in stays on: the log reads the list a session appends to
        when it writes a batch. None for a subclass that does more per entry."""
        return self._direct_room if type(self).transcript is LoggingJournal.transcript else None

    @property
    def quick_transcript(self) -> QuickTranscript | None:
        """The journal's quick path stays on (records.QuickTranscript: the entry's fields, kept
        as a tuple, no TranscriptEntry made), logged from the same fields. None for a subclass
        that does more in :meth:`transcript` (it must see every entry)."""
        if type(self).transcript is not LoggingJournal.transcript:
            return None
        return self._keep_logged

    def _keep_logged(
        self,
        info: SessionInfo,
        time: float,
        side: str,
        text: str,
        rule: str | None,
        rest: tuple[Any, ...] = (),  # a note's (records.QuickTranscript)
    ) -> None:
        self._logged_now(info, (time, side, text, rule, *rest))

    def transcript(self, info: SessionInfo, entry: TranscriptEntry) -> None:
        self._logged_now(info, entry_fields(entry))

    def _logged_now(self, info: SessionInfo, kept: tuple[Any, ...]) -> None:
        """An entry that came through a call, not appended by its session: kept as the journal
        keeps it, and logged whole now (the journal may cut it, or not keep its session). Only
        here does the journal drop a session's oldest entry (past its entries limit), and every
        entry before this one is read first: none is lost when the list shifts."""
        with self._lock:
            followed = self._followed(info)
            number = followed.recorded()  # this entry's
            self._keep(info, kept[0], kept[1], kept[2], kept[3], kept[4:])
            # the journal may have dropped its oldest entry (past its entries limit), or kept
            # none of this session's
            followed.logged = len(followed.entries)  # this one is logged here, as it came
            followed.dropped = number + 1 - followed.logged
            self._lines.entries(self._ready, followed, (kept,), number)
        self._push()

    def _wait(self, info: SessionInfo, later: Later) -> None:
        """Log ``later`` where event_order puts it: before the session's first entry recorded
        from now on stamped at or after its time (at the latest at the session's end)."""
        lock = self._lock  # (acquire/release, not ``with``: see Journal.__init__)
        lock.acquire()
        try:
            followed = self._follow.get(id(info))
            if followed is not None:
                # made with the entry it goes before: whatever writes that writes this
                self._lines.hold(followed, later)
                return
            at, event, line, fields = later  # nothing follows: now
            self._lines.event(self._ready, self._followed(info), event, at, line, fields)
        finally:
            lock.release()
        self._push()

    def violation(self, info: SessionInfo, violation: Violation) -> None:
        super().violation(info, violation)
        fields = {"kind": violation.kind, "detail": violation.detail, "command": violation.command}
        self._wait(info, (violation.time, "violation", f"! {violation}", fields))

    def message(self, info: SessionInfo, message: Message) -> None:
        # Journal.message, then the line held (_wait()'s part) under one hold of the lock (it
        # is reentrant): recorded first, so that a log line never runs ahead of the journal
        lock = self._lock  # (acquire/release, not ``with``: see Journal.__init__)
        lock.acquire()
        try:
            super().message(info, message)
            rcpts = ", ".join(message.rcpt_tos)
            size = len(message.data)
            fields: Fields = {}  # the JSON line's (the text line has them in its text)
            if self._lines.json:
                subject = self._subject(message.data)  # the header block only (body not parsed)
                encode = self._lines.encode
                # json_object's members for these fields, in one template (a message a session)
                fields = (
                    f'"queue_id": {encode(message.queue_id)}, '
                    f'"mail_from": {encode(message.mail_from)}, '
                    f'"rcpt_tos": [{", ".join(map(encode, message.rcpt_tos))}], "size": {size}, '
                    f'"subject": {encode(subject_of(message) if subject is None else subject)}'
                )
            line = (
                f"accepted message {message.queue_id} from <{message.mail_from}> to {rcpts} "
                f"({size} bytes)"
            )
            followed = self._follow.get(id(info))
            if followed is not None:  # nearly always: its line goes where event_order puts it
                self._lines.hold(followed, (message.time, "message", line, fields))
                return
            followed = self._followed(info)
            self._lines.event(self._ready, followed, "message", message.time, line, fields)
        finally:
            lock.release()
        self._push()

    def _subject(self, data: bytes) -> str | None:
        """quick_subject, imported once, at the first JSON message line (not at serve's start)."""
        from smtpfake.quick_subject import quick_subject

        self._subject = quick_subject  # type: ignore[method-assign]
        return quick_subject(data)

    def authenticated(self, info: SessionInfo, user: str) -> None:
        super().authenticated(info, user)
        with self._lock:
            # the observer call carries no time: the wall clock, as the event happens now
            line = f"authenticated as {user!r}"
            self._event(self._followed(info), "auth", time.time(), line, user=user)
        self._push()

    def secured(self, info: SessionInfo, version: str, cipher: str) -> None:
        super().secured(info, version, cipher)
        with self._lock:
            line = f"TLS started: {version} {cipher}"
            followed = self._followed(info)
            self._event(followed, "tls", time.time(), line, version=version, cipher=cipher)
        self._push()

    def ended(self, info: SessionInfo, time: float) -> None:
        # Journal.ended and the log's part under one hold of the lock (see started())
        lock = self._lock  # (acquire/release, not ``with``: see Journal.__init__)
        lock.acquire()
        try:
            super().ended(info, time)  # (the lock is reentrant)
            followed = self._follow.pop(id(info), None)
            if followed is None:  # not started here (or before a clear())
                followed = self._lines.follow(info, [])
            lines = self._lines
            lines.take(self._ready, followed)
            if followed.held:  # (nearly never: the take placed the message's line)
                lines.release(self._ready, followed)
            lines.event(self._ready, followed, "close", time, "closed", {})
        finally:
            lock.release()
        armed = self.log.armed  # (_push()'s test, inline: nearly always nothing to do)
        if not self._pushed or armed is None or not armed.is_running():
            self._push()

    def clear(self) -> None:
        with self._lock:
            super().clear()
            # an open session goes on as a new one of the cleared journal (Session.rejoin):
            # what it recorded before is logged as it was
            self._let_go.extend(self._follow.values())
            self._follow.clear()
        self._push()
