"""One log line per session event, so a CI log shows what the client did.

``LoggingJournal`` is a :class:`Journal` that also writes each event it records: connect, every
command and reply, violations, accepted messages, AUTH success, the TLS handshake, close.
``smtpfake serve`` puts it in place of the server's journal before serving. Text for people by
default; JSON lines (``--log-format json``) for log collectors.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Literal, TextIO

from smtpfake.engine.records import Message, SessionInfo, TranscriptEntry, Violation
from smtpfake.journal import Journal, subject_of

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")


def _iso(t: float) -> str:
    # datetime and json are imported where used: `smtpfake serve` starts before the first event
    import datetime

    stamp = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventLog:
    """Writes events as text or JSON lines to a stream; safe to call from any thread."""

    def __init__(self, stream: TextIO, fmt: LogFormat = "text") -> None:
        if fmt not in LOG_FORMATS:
            raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}")
        self.stream = stream
        self.format = fmt
        self._lock = threading.Lock()

    def event(self, event: str, time: float, line: str, **fields: Any) -> None:
        """``line`` is the human form; ``fields`` are what the JSON line carries (its ``text``
        defaults to ``line``)."""
        if self.format == "json":
            import json

            record = {"time": _iso(time), "ts": time, "event": event, "text": line, **fields}
            out = json.dumps(record, ensure_ascii=False)
        else:
            session = fields.get("session")
            who = f"session {session} " if session is not None else ""
            out = f"{_iso(time)} {who}{line}"
        # a client's invalid UTF-8 arrives as lone surrogates: show it escaped, never fail on it
        out = out.encode("utf-8", "backslashreplace").decode("utf-8")
        with self._lock:
            self.stream.write(out + "\n")
            self.stream.flush()


class LoggingJournal(Journal):
    """A journal that also logs each event (after recording it, so a log line never runs ahead)."""

    def __init__(self, log: EventLog, **limits: int) -> None:
        super().__init__(**limits)
        self.log = log

    def started(self, info: SessionInfo) -> None:
        super().started(info)
        self.log.event(
            "connect",
            info.started,
            f"connect from {info.peer or '?'}",
            session=info.index,
            peer=info.peer,
        )

    def transcript(self, info: SessionInfo, entry: TranscriptEntry) -> None:
        super().transcript(info, entry)
        event = "command" if entry.side == "client" else "reply"
        tag = f"   [{entry.rule}]" if entry.rule else ""
        arrow = "C:" if entry.side == "client" else "S:"
        self.log.event(
            event,
            entry.time,
            f"{arrow} {entry.text}{tag}",
            session=info.index,
            side=entry.side,
            rule=entry.rule,
            text=entry.text,
        )

    def violation(self, info: SessionInfo, violation: Violation) -> None:
        super().violation(info, violation)
        self.log.event(
            "violation",
            violation.time,
            f"! {violation}",
            session=info.index,
            kind=violation.kind,
            detail=violation.detail,
            command=violation.command,
        )

    def message(self, info: SessionInfo, message: Message) -> None:
        super().message(info, message)
        rcpts = ", ".join(message.rcpt_tos)
        self.log.event(
            "message",
            message.time,
            f"accepted message {message.queue_id} from <{message.mail_from}> to {rcpts} "
            f"({len(message.data)} bytes)",
            session=info.index,
            queue_id=message.queue_id,
            mail_from=message.mail_from,
            rcpt_tos=list(message.rcpt_tos),
            size=len(message.data),
            subject=subject_of(message),  # the header block only: the body is not parsed
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
        self.log.event("close", time, "closed", session=info.index)
