"""One log line per session event, so a CI log shows what the client did.

``LoggingJournal`` is a :class:`Journal` that also writes each event it records: connect, every
command and reply, violations, accepted messages, AUTH success, the TLS handshake, close.
``smtpfake serve`` puts it in place of the server's journal before serving. Text for people by
default; JSON lines (``--log-format json``) for log collectors.

The log must not cost the server its speed: :class:`EventLog` gathers lines and writes them in
batches (see its docstring for when), stamps them from a per-second cache, and the journal keeps
its quick path for transcript entries (fields in, a tuple kept, no entry object made).
"""

from __future__ import annotations

import asyncio
import atexit
import math
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Literal, TextIO

from smtpfake.engine.records import (
    Message,
    QuickTranscript,
    SessionInfo,
    TranscriptEntry,
    Violation,
    not_delivered,
)
from smtpfake.event_order import Waiting
from smtpfake.journal import Journal, subject_of
from smtpfake.visible import json_document, visible

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

#: seconds a line waits at most before it is written, while the event loop that made it runs
FLUSH_DELAY = 0.05
#: characters gathered that are written at once, without waiting for the timer (64 KiB of ASCII)
FLUSH_SIZE = 64 * 1024


def _escaped(text: str) -> str:
    """``text`` with what UTF-8 cannot hold escaped (a lone surrogate that visible() left, as
    ``\\udXXX``): the text log never fails to write."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _iso_second(second: int) -> str:
    """``2026-01-05T10:00:00.``: the part of an ISO 8601 UTC stamp that a whole second fixes."""
    # datetime is imported where used: `smtpfake serve` starts before the first event
    import datetime

    stamp = datetime.datetime.fromtimestamp(second, tz=datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.")


class EventLog:
    """Writes events as text or JSON lines to a stream; safe to call from any thread.

    Lines are gathered in order and written in batches: by a timer in the running event loop that
    made the first waiting line, ``delay`` seconds later (FLUSH_DELAY); at once when FLUSH_SIZE
    characters are waiting; at once for a line made in a thread with no running loop while no
    running loop's timer is due (everything waiting goes first); and by :meth:`flush`, which the
    owner calls when the loop stops (``smtpfake serve`` does, and before it reports an error),
    and which also runs at the interpreter's exit. One lock orders both the gathering and the
    writing, so lines from several threads reach the stream in the order they were made.

    A stream that cannot be written (OSError: the reader of a pipe went away, a full disk) is a
    failure of the log: kept in :attr:`failure`, given to ``on_failure`` when set (else raised to
    the caller of the write), and every later line is dropped. ``on_failure`` runs with the log's
    lock held, in the thread that wrote: it must not write to this log."""

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
        self._pending: list[str] = []  # lines, each with its newline
        self._size = 0  # characters in _pending
        # the loop whose timer writes what is pending; a line made while it no longer runs (it
        # stopped before the timer fired) is written at once, with the rest
        self._armed: asyncio.AbstractEventLoop | None = None
        # (second, its stamp prefix): one tuple, so a thread never pairs one with another's
        self._second: tuple[int, str] = (-1, "")
        # (low, high, stamp): times strictly between low and high have this stamp
        self._milli: tuple[float, float, str] = (0.0, 0.0, "")
        self._json: Callable[[object], str] | None = None
        _LOGS.add(self)  # what still waits when the interpreter exits is written then

    def stamp(self, t: float) -> str:
        """``2026-01-05T10:00:00.120Z``: ``t`` (seconds since the epoch) in UTC to the
        millisecond, as ``datetime.fromtimestamp(t).isoformat(timespec="milliseconds")`` makes
        it (rounded to the microsecond, then truncated)."""
        low, high, text = self._milli
        if low < t < high:  # within the millisecond of the last stamp: most lines
            return text
        # as datetime.fromtimestamp rounds to the microsecond: the fraction alone, half to even
        fraction, whole = math.modf(t)
        second, micro = divmod(round(fraction * 1e6), 1_000_000)
        second += int(whole)
        cached = self._second
        if cached[0] != second:
            cached = self._second = (second, _iso_second(second))
        milli = micro // 1000
        text = f"{cached[1]}{milli:03d}Z"
        # the times that surely give the same stamp: 2 us inside the millisecond's edges, far
        # from a rounding edge that float arithmetic could put on either side
        start = second + milli / 1000
        self._milli = (start + 2e-6, start + 0.001 - 2e-6, text)
        return text

    def event(self, event: str, time: float, line: str, **fields: Any) -> None:
        """``line`` is the human form; ``fields`` are what the JSON line carries (its ``text``
        defaults to ``line``)."""
        if self.format == "json":
            encode = self._json
            if encode is None:
                import json  # only for JSON lines: the text log starts without it

                encode = self._json = json.JSONEncoder(ensure_ascii=False).encode
            stamp = self.stamp(time)
            out = encode({"time": stamp, "ts": time, "event": event, "text": line, **fields})
            # a client's octet that was not UTF-8 as the HTTP API shows it: "\\xff", never a
            # lone surrogate ("\\udcff"), which strict JSON parsers reject
            self.write(json_document(out) + "\n")
        else:
            self.write(self.text(time, fields.get("session"), line))

    def text(self, time: float, session: int | None, line: str) -> str:
        """The text log's form of ``line``: ``STAMP session N LINE`` (without ``session N``
        for ``None``), a line of its own for each line of a multi-line ``line``, each ending in
        a newline."""
        who = f"session {session} " if session is not None else ""
        line = visible(line)  # a client's ESC sequence or NUL is shown, never played
        out = f"{self.stamp(time)} {who}{line}\n"
        if "\n" in line:
            # a multi-line reply: each of its lines on a line of its own, prefixed alike, so
            # that every line of the log says when and which session (and greps whole)
            head = out[: len(out) - len(line) - 1]
            out = "".join(f"{head}{part}\n" for part in line.split("\n"))
        return out if out.isascii() else _escaped(out)

    def write(self, text: str) -> None:
        """Queue ``text`` (whole lines, each ending in a newline) to be written in order."""
        with self._lock:
            self._pending.append(text)
            self._size += len(text)
            if self._size < FLUSH_SIZE:
                armed = self._armed
                if armed is not None and armed.is_running():
                    return  # that loop's timer writes this line too
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    loop = None
                if loop is not None:
                    # a flush() before the timer writes these first: the timer then finds none
                    loop.call_later(self.delay, self.flush)
                    self._armed = loop
                    return
            self._write_pending()

    def flush(self) -> None:
        """Write every waiting line now."""
        with self._lock:
            self._write_pending()

    def _write_pending(self) -> None:
        # with self._lock held: the write is ordered with the gathering
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._size = 0
        self._armed = None
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
        log.flush()


class LoggingJournal(Journal):
    """A journal that also logs each event (after recording it, so a log line never runs ahead)."""

    def __init__(self, log: EventLog, **limits: int) -> None:
        super().__init__(**limits)
        self.log = log
        # a text log whose event() is EventLog's: a transcript line made without the JSON
        # fields (most lines; a log that tags its lines, as a server on demand's, sees them all)
        self._text = log.format == "text" and type(log).event is EventLog.event
        # a session's violation and message lines not yet written, (time, event, line, fields):
        # each waits for the transcript as event_order says (the event stream does the same)
        self._log_later: Waiting[tuple[float, str, str, dict[str, Any]]] = Waiting()

    def clear(self) -> None:
        # what still waits happened before the reset: written now (the sessions it ends go on
        # in the fresh journal, as new sessions)
        for info, (at, event, line, fields) in self._log_later.everything():
            self.log.event(event, at, line, session=info.index, **fields)
        super().clear()

    def started(self, info: SessionInfo) -> None:
        super().started(info)
        self.log.event(
            "connect",
            info.started,
            f"connect from {info.peer or '?'}",
            session=info.index,
            peer=info.peer,
        )

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
        self._keep(info, time, side, text, rule, rest)
        if self._log_later:
            self._write_due(info, time)
        self._log_entry(info, time, side, text, rule, None, bool(rest))

    def transcript(self, info: SessionInfo, entry: TranscriptEntry) -> None:
        super().transcript(info, entry)
        # a reply the client left before it was written whole says so, as session.format() does
        written = None if entry.delivered else entry.written or 0
        if self._log_later:
            self._write_due(info, entry.time)
        self._log_entry(info, entry.time, entry.side, entry.text, entry.rule, written, entry.note)

    def _log_entry(
        self,
        info: SessionInfo,
        time: float,
        side: str,
        text: str,
        rule: str | None,
        written: int | None = None,
        note: bool = False,
    ) -> None:
        """``written``: None for an entry delivered whole, else the octets of it written.
        ``note``: the engine's note (TranscriptEntry.note), ``C*``/``S*`` and ``"note": true``."""
        client = side == "client"
        arrow = "C: " if client else "S: "
        tag = f"   [{rule}]" if rule else ""
        undelivered: dict[str, Any] = {}
        if written is not None:
            tag += not_delivered(written)
            undelivered = {"delivered": False, "written": written}
        if note:
            arrow = arrow[0] + "* "
            undelivered["note"] = True
        # a multi-line reply (the transcript keeps its lines): each line as it went on the wire
        shown = arrow + text.replace("\n", "\n" + arrow) if "\n" in text else arrow + text
        if self._text:
            self.log.write(self.log.text(time, info.index, shown + tag))
            return
        self.log.event(
            "command" if client else "reply",
            time,
            shown + tag,
            session=info.index,
            side=side,
            rule=rule,
            text=text,
            **undelivered,
        )

    def _write_due(self, info: SessionInfo, time: float | None) -> None:
        """Write the session's waiting lines due before its entry at ``time`` (None: all)."""
        for at, event, line, fields in self._log_later.due(info, time):
            self.log.event(event, at, line, session=info.index, **fields)

    def _after_entries(
        self, info: SessionInfo, time: float, event: str, line: str, **fields: Any
    ) -> None:
        """Log ``line`` where event_order puts it (before the session's first transcript entry
        at or after ``time``)."""
        self._log_later.hold(info, time, (time, event, line, fields))

    def violation(self, info: SessionInfo, violation: Violation) -> None:
        super().violation(info, violation)
        self._after_entries(
            info,
            violation.time,
            "violation",
            f"! {violation}",
            kind=violation.kind,
            detail=violation.detail,
            command=violation.command,
        )

    def message(self, info: SessionInfo, message: Message) -> None:
        super().message(info, message)
        rcpts = ", ".join(message.rcpt_tos)
        # the header block parsed for the Subject costs some 70 us: only the JSON line has it
        subject = {"subject": subject_of(message)} if self.log.format == "json" else {}
        self._after_entries(
            info,
            message.time,
            "message",
            f"accepted message {message.queue_id} from <{message.mail_from}> to {rcpts} "
            f"({len(message.data)} bytes)",
            queue_id=message.queue_id,
            mail_from=message.mail_from,
            rcpt_tos=list(message.rcpt_tos),
            size=len(message.data),
            **subject,  # the header block only: the body is not parsed
        )

    def authenticated(self, info: SessionInfo, user: str) -> None:
        super().authenticated(info, user)
        # the observer call carries no time: the wall clock, as the event happens now
        self.log.event(
            "auth", time.time(), f"authenticated as {user!r}", session=info.index, user=user
        )

    def secured(self, info: SessionInfo, version: str, cipher: str) -> None:
        super().secured(info, version, cipher)
        self.log.event(
            "tls",
            time.time(),
            f"TLS started: {version} {cipher}",
            session=info.index,
            version=version,
            cipher=cipher,
        )

    def ended(self, info: SessionInfo, time: float) -> None:
        super().ended(info, time)
        self._write_due(info, None)
        self.log.event("close", time, "closed", session=info.index)
