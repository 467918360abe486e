"""Live session events for Server-Sent Events, and the message ids the API hands out.

:class:`EventHub` fans events out to subscribers (bounded queues, one per SSE client) in the API's
event loop; journal writers on any thread hand them over through one queue, in order.
:class:`Publishing` is a journal mixin: every observer call is recorded first (by the journal it
is mixed into), then published, so a client that reacts to an event always finds it recorded.

Publishing must not cost the SMTP server its speed (``smtpfake serve --api-port``, the sidecar,
runs it on every session): with no subscriber nothing is made per event (no dict, no Subject
parsed) and the journal's quick and direct transcript paths stay on; with one, an event holds its
raw fields and is made into JSON once, by the first stream that sends it (the Subject is parsed
then, off the session's path).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from smtpfake.engine.records import (
    DirectTranscript,
    Message,
    QuickTranscript,
    SessionInfo,
    TranscriptEntry,
    Violation,
)
from smtpfake.event_order import Waiting
from smtpfake.journal import Journal
from smtpfake.logging_observer import LoggingJournal
from smtpfake.serialize import VIOLATION_REFERENCES
from smtpfake.visible import json_text

#: events a slow subscriber may fall behind by before it is dropped (its stream ends)
QUEUE_SIZE = 10_000
#: seconds between looks at what sessions on the journal's direct path appended, while someone
#: listens (only sessions that began before the first subscriber came are on it then)
DIRECT_POLL = 0.05

#: an event's fields after ``id``, ``event`` and ``server``, from its raw ones (Event.raw)
Fields = Callable[..., dict[str, Any]]


class Event:
    """One event as subscribers get it: ``id`` (given by the hub, for SSE's ``id:``), ``kind``
    (SSE's ``event:``), ``server`` (the id of the server it came from, ``"main"`` for the
    sidecar's own) and its other fields, kept raw (``fields(*raw)`` makes them) until a stream
    sends it: :meth:`data` and :meth:`sse` are made once, whoever asks first."""

    __slots__ = ("_fields", "_raw", "_sse", "id", "kind", "server")

    def __init__(self, kind: str, server: str, fields: Fields, *raw: Any) -> None:
        self.id = 0
        self.kind = kind
        self.server = server
        self._fields = fields
        self._raw = raw
        self._sse: bytes | None = None

    @classmethod
    def of(cls, event: dict[str, Any]) -> Event:
        """An event given whole (the API's own: ``scenario``, ``reset``, ``server``, ...):
        ``{"event": KIND, "server": ID, **fields}``."""
        rest = {k: v for k, v in event.items() if k not in ("event", "server")}
        return cls(event["event"], event["server"], dict, rest)

    def data(self) -> dict[str, Any]:
        """The JSON object: ``{"id", "event", "server", "session", "time", ...}`` (openapi.yaml's
        Event)."""
        head = {"id": self.id, "event": self.kind, "server": self.server}
        return {**head, **self._fields(*self._raw)}

    def sse(self) -> bytes:
        """The Server-Sent Events block: ``id:``, ``event:``, ``data:`` (one line of ASCII JSON:
        no raw LF can split it), then an empty line."""
        if self._sse is None:
            data = json.dumps(self.data(), ensure_ascii=True)
            self._sse = f"id: {self.id}\nevent: {self.kind}\ndata: {data}\n\n".encode()
        return self._sse


class EventHub:
    """Publishes events to every subscriber; safe to publish from any thread.

    Events reach subscribers in the order :meth:`publish` was called (one FIFO for all threads),
    delivered by the hub's loop, in batches of what came in since it last looked.
    :attr:`listening` (someone subscribed) and :attr:`wanted` (someone subscribed or waits in
    :meth:`until`) let a publisher skip making events nobody would get."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._subscribers: set[asyncio.Queue[Event | None]] = set()
        self._ids = itertools.count(1)
        self._changed: asyncio.Event | None = None
        self._waiting = 0  # coroutines in until()
        # events published and not yet delivered; a deque's append and popleft are atomic
        self._pending: deque[Event] = deque()
        self._draining = False  # a _drain is scheduled in the loop
        self._polling = False  # a _poll is scheduled in the loop
        # the journals that publish here (to look at their direct paths while someone listens)
        self._journals: weakref.WeakSet[Publishing] = weakref.WeakSet()
        self.listening = False
        self.wanted = False
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver in ``loop`` (call from its thread, before the first subscriber)."""
        self._loop = loop
        self._thread = threading.get_ident()
        self._changed = asyncio.Event()

    def attach(self, journal: Publishing) -> None:
        """``journal`` publishes here (Publishing does this itself)."""
        self._journals.add(journal)

    def publish(self, event: Event | dict[str, Any]) -> None:
        """Hand ``event`` over for delivery (a dict: Event.of)."""
        loop = self._loop
        if loop is None or self.closed:
            return  # nobody can be listening before the API runs, or after it stopped
        self._pending.append(event if isinstance(event, Event) else Event.of(event))
        if self._draining:
            return  # the drain already scheduled takes this one too
        self._draining = True
        if threading.get_ident() == self._thread:
            loop.call_soon(self._drain)
            return
        # RuntimeError: the API's loop closed (after its stop) between the check and the call;
        # with no loop, nobody is listening, and a session must not fail for it
        with contextlib.suppress(RuntimeError):
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        # cleared first: an event published from now on schedules another drain, or is taken
        # by this one (it was appended before a publisher could see the flag down)
        self._draining = False
        pending = self._pending
        delivered = False
        while pending:
            self._deliver(pending.popleft())
            delivered = True
        self._update()  # a reader dropped for falling behind no longer listens
        if delivered and self._waiting:
            self._wake()

    def wake(self) -> None:
        """Have the waits in :meth:`until` look again though no event came (a message recorded
        whose event waits for its place in the transcript); safe from any thread."""
        loop = self._loop
        if loop is None or self.closed or not self._waiting:
            return
        # RuntimeError: the loop closed meanwhile (after the API stopped): nobody waits
        with contextlib.suppress(RuntimeError):
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def _deliver(self, event: Event) -> None:
        event.id = next(self._ids)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # a reader this far behind has stopped reading: end its stream, keep the rest
                self._subscribers.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)

    def _update(self) -> None:
        self.listening = bool(self._subscribers)
        self.wanted = self.listening or self._waiting > 0

    def subscribe(self) -> asyncio.Queue[Event | None]:
        """A queue of the events from now on; ``None`` in it means the stream was dropped
        (call in the hub's loop)."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_SIZE)
        first = not self._subscribers
        self._subscribers.add(queue)
        self._update()
        # what sessions on a direct path appended before now is nobody's; what they append from
        # now on is looked at every DIRECT_POLL seconds (and before their next event)
        if first and any([journal.listen() for journal in list(self._journals)]):
            self._start_polling()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event | None]) -> None:
        self._subscribers.discard(queue)
        self._update()

    def _start_polling(self) -> None:
        if not self._polling and self._loop is not None:
            self._polling = True
            self._loop.call_later(DIRECT_POLL, self._poll)

    def _poll(self) -> None:
        self._polling = False
        if not self.listening or self.closed:
            return
        if any([journal.publish_direct() for journal in list(self._journals)]):
            self._start_polling()

    def close(self) -> None:
        """End every stream and wake every wait (shutdown)."""
        self.closed = True
        if self._changed is not None:
            self._changed.set()
        for queue in list(self._subscribers):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)
        self._subscribers.clear()
        self._update()

    async def until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait in the loop until ``predicate()`` holds, re-checked after every batch of events;
        False when ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        self._waiting += 1
        self._update()
        try:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._changed is None or self.closed:
                    return False
                changed = self._changed
                # at most a second between checks: a journal cleared without an event still
                # counts
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), min(remaining, 1.0))
            return True
        finally:
            self._waiting -= 1
            self._update()


# -- each event's fields from its raw ones (Event.data) -------------------------------------------


def _session_fields(session: int, when: float) -> dict[str, Any]:
    return {"session": session, "time": when}


def _connected_fields(session: int, when: float, peer: str) -> dict[str, Any]:
    return {"session": session, "time": when, "peer": peer}


def _entry_fields(
    session: int,
    when: float,
    side: str,
    text: str,
    rule: str | None,
    note: bool = False,
    delivered: bool = True,
    written: int | None = None,
    endings: tuple[str, ...] = (),
) -> dict[str, Any]:
    text = json_text(text)  # what a client sent (or a reply quoting it), as JSON can carry it
    if side == "client":
        out = {"session": session, "time": when, "text": text}
    else:
        code = int(text[:3]) if text[:3].isdigit() else None
        out = {"session": session, "time": when, "text": text, "code": code, "rule": rule}
    if not delivered:  # as the API's entry: a reply not delivered whole, an unfinished line
        out["delivered"] = False
        out["written"] = written
    if note:  # the engine's note (TranscriptEntry.note), not a line or a reply
        out["note"] = True
    if endings:  # a reply whose line endings were not all CRLF, as the API's entry
        out["endings"] = list(endings)
    return out


def _auth_fields(session: int, when: float, user: str) -> dict[str, Any]:
    return {"session": session, "time": when, "user": json_text(user)}


def _tls_fields(session: int, when: float, version: str, cipher: str) -> dict[str, Any]:
    return {"session": session, "time": when, "version": version, "cipher": cipher}


def _violation_fields(session: int, violation: Violation) -> dict[str, Any]:
    return {
        "session": session,
        "time": violation.time,
        "kind": violation.kind,
        "detail": json_text(violation.detail),
        "command": json_text(violation.command),
        "rfc": VIOLATION_REFERENCES.get(violation.kind),
    }


def _message_fields(session: int, number: int, message: Message) -> dict[str, Any]:
    return {
        "session": session,
        "time": message.time,
        "message_id": number,
        "queue_id": message.queue_id,
        "mail_from": json_text(message.mail_from),
        "rcpt_tos": [json_text(r) for r in message.rcpt_tos],
        "subject": json_text(message.subject),  # the header block parsed here, by the stream
        "size": len(message.data),
    }


#: the transcript way in of the journal Publishing is mixed into, by that journal's transcript():
#: (its quick way in, by name, and whether its direct way in may be offered). A journal not here
#: does more per entry in a way Publishing does not know: every entry goes through transcript().
_BASE_WAYS: dict[Callable[..., None], tuple[str, bool]] = {
    Journal.transcript: ("_keep", True),
    LoggingJournal.transcript: ("_keep_logged", False),  # its log sees every entry
}


class Publishing(Journal):
    """Journal mixin: records each observer call, then publishes it to ``hub`` as ``server``.

    Also numbers accepted messages (``message_id``) so the API can name them: ids grow from 1 for
    the life of the journal and are never reused, even across ``clear()``.

    Transcript entries keep the journal's quick paths (records.QuickTranscript and
    DirectTranscript). A session that begins while nobody listens appends its entries to the
    journal's list itself; once someone does, what it appended since is published before its
    next event, and at the latest DIRECT_POLL seconds later (in the order each session made
    them; against other sessions' events, up to that much later).

    While someone listens, a ``violation`` or ``message`` event waits for the transcript as
    serve's log does (smtpfake.event_order: just before the session's first entry stamped at or
    after it, at the latest before ``closed``), so the stream shows one order with the log and
    the journal. A wait for messages looks again at once all the same (EventHub.wake), and
    with nobody listening the ``message`` event goes out at once."""

    def __init__(self, *args: Any, hub: EventHub, server: str = "main", **limits: int) -> None:
        super().__init__(*args, **limits)
        self.hub = hub
        self.server_id = server
        self._numbers = itertools.count(1)
        #: ids of messages removed through the API (DELETE /api/messages[/{id}]) since the last
        #: clear(): hidden from listings and not counted by waits; a clear() by any way (the
        #: API's reset, the embedding code's, use()) ends them with the journal's content
        self.deleted: set[int] = set()
        # id(message) -> (number, a weak reference to it): never the message itself, which
        # would outlive the journal's bounds (30 MiB messages past message_bytes, kept for ever);
        # each entry goes when its message is freed, before its id() can be reused
        self._ids: dict[int, tuple[int, weakref.ref[Message]]] = {}
        # the quick and direct ways in of the journal mixed into (none if a subclass of this
        # one does more per entry: it must see every entry)
        base = super(Publishing, type(self)).transcript
        way = _BASE_WAYS.get(base) if type(self).transcript is Publishing.transcript else None
        self._base_quick: QuickTranscript | None = getattr(self, way[0]) if way else None
        self._may_direct = way is not None and way[1]
        # sessions on the direct path, by id(info) as the journal's: [info, their transcript
        # list, how much of it was published or seen by nobody]; under the journal's lock
        self._appending: dict[int, list[Any]] = {}
        # violation and message events waiting for their place in the transcript (event_order)
        self._later: Waiting[Event] = Waiting()
        hub.attach(self)

    def clear(self) -> None:
        with self._lock:
            # what still waits happened before the reset (its sessions go on in the new journal)
            for _, event in self._later.everything():
                self.hub.publish(event)
            super().clear()
            self.deleted.clear()

    def message_id(self, message: Message) -> int:
        """The number of a message this journal recorded (0 if it never did)."""
        found = self._ids.get(id(message))
        return found[0] if found is not None and found[1]() is message else 0

    def _forget(self, key: int, ref: weakref.ref[Message]) -> None:
        # the weak reference's callback, as the message is freed (in whichever thread let go of
        # it last; no lock, so never a deadlock with a writer that held one)
        found = self._ids.get(key)
        if found is not None and found[1] is ref:
            self._ids.pop(key, None)

    # -- transcript: the quick and direct paths ---------------------------------------------------

    @property
    def quick_transcript(self) -> QuickTranscript | None:
        """The mixed-in journal's quick way in, publishing each entry while someone listens."""
        return self._keep_published if self._base_quick is not None else None

    def _keep_published(
        self,
        info: SessionInfo,
        time: float,
        side: str,
        text: str,
        rule: str | None,
        rest: tuple[Any, ...] = (),  # a note's (records.QuickTranscript)
    ) -> None:
        self._base_quick(info, time, side, text, rule, rest)  # type: ignore[misc]  # when offered
        if self._later:
            self._publish_due(info, time)
        if self.hub.listening:
            kind = "command" if side == "client" else "reply"
            fields = (info.index, time, side, text, rule, bool(rest))
            self.hub.publish(Event(kind, self.server_id, _entry_fields, *fields))

    @property
    def direct_transcript(self) -> Callable[[SessionInfo], DirectTranscript | None] | None:
        """The journal's direct way in (records.DirectTranscript) for a session that begins
        while nobody listens (one that begins while someone does takes the quick way, so each
        entry is published as it comes)."""
        if not self._may_direct or self.hub.listening:
            return None
        return self._direct_published

    def _direct_published(self, info: SessionInfo) -> DirectTranscript | None:
        """As the journal's, and once someone listens None: the session's entries come one by
        one from then on."""
        with self._lock:
            key = id(info)
            appending = self._appending.get(key)
            if appending is not None:
                self._publish_appended(appending)
            if self.hub.listening:
                self._appending.pop(key, None)
                return None
            found = self._direct_room(info)
            if found is None:
                self._appending.pop(key, None)
                return None
            self._appending[key] = [info, found[0], len(found[0])]  # nobody saw these
            return found

    def _publish_appended(self, appending: list[Any]) -> None:
        """Publish what a session appended itself since last looked at (with the lock held)."""
        info, entries, seen = appending
        end = len(entries)  # the session may be appending meanwhile: what is there now
        later = self._later
        listening = self.hub.listening
        if end > seen and (listening or later):
            publish, server, index = self.hub.publish, self.server_id, info.index
            for kept in entries[seen:end]:
                when, side, text, rule = kept[:4]
                if later:
                    self._publish_due(info, when)
                if listening:
                    kind = "command" if side == "client" else "reply"
                    noted = len(kept) > 7 and kept[7]  # TranscriptEntry.note, kept when set
                    fields: tuple[Any, ...] = (index, when, side, text, rule, noted)
                    if len(kept) > 8:  # a reply's endings (TranscriptEntry.endings)
                        fields += (kept[4], kept[5], kept[8])
                    publish(Event(kind, server, _entry_fields, *fields))
        appending[2] = end

    def listen(self) -> bool:
        """Someone started listening: what sessions appended so far is nobody's. Whether any
        session is on the direct path (the hub then looks at them: :meth:`publish_direct`)."""
        with self._lock:
            for appending in self._appending.values():
                appending[2] = len(appending[1])
            return bool(self._appending)

    def publish_direct(self) -> bool:
        """Publish what sessions on the direct path appended since last looked at; whether any
        session is still on it."""
        with self._lock:
            for appending in list(self._appending.values()):
                self._publish_appended(appending)
            return bool(self._appending)

    def _send(
        self,
        info: SessionInfo,
        event: Event | None,
        *,
        at: float | None = None,
        last: bool = False,
    ) -> None:
        """Publish ``event`` (None: nobody wants it) of ``info``'s session, after what the
        session appended itself (the lock orders both against :meth:`publish_direct`). ``at``:
        the time of an event that waits for the transcript (event_order) while someone listens;
        ``last``: the session ended, it appends no more (what waits goes first)."""
        appending = self._appending.get(id(info)) if self._appending else None
        if appending is None:
            self._place(info, event, at, last)
            return
        with self._lock:
            self._publish_appended(appending)
            if last:
                self._appending.pop(id(info), None)
            self._place(info, event, at, last)

    def _place(self, info: SessionInfo, event: Event | None, at: float | None, last: bool) -> None:
        if last and self._later:
            self._publish_due(info, None)
        if event is None:
            return
        if at is not None and self.hub.listening:
            self._later.hold(info, at, event)
            if event.kind == "message":
                self.hub.wake()  # a wait for messages counts it now, not at its event
        else:
            self.hub.publish(event)

    def _publish_due(self, info: SessionInfo, time: float | None) -> None:
        """Publish the session's waiting events due before its entry at ``time`` (None: all)."""
        for event in self._later.due(info, time):
            self.hub.publish(event)

    # -- the observer ------------------------------------------------------------------------------

    def started(self, info: SessionInfo) -> None:
        super().started(info)
        if self.hub.listening:
            self.hub.publish(
                Event(
                    "connected",
                    self.server_id,
                    _connected_fields,
                    info.index,
                    info.started,
                    info.peer,
                )
            )

    def transcript(self, info: SessionInfo, entry: TranscriptEntry) -> None:
        # an entry not delivered whole, an over-long one, or any of a journal with no quick path
        appending = self._appending.get(id(info)) if self._appending else None
        if appending is None:
            super().transcript(info, entry)
            if self._later:
                self._publish_due(info, entry.time)
            if self.hub.listening:
                self.hub.publish(self._entry_event(info, entry))
            return
        # a session on the direct path (only a plain journal's: no log is written under the
        # lock): what it appended first, then this entry, never twice
        with self._lock:
            self._publish_appended(appending)
            super().transcript(info, entry)
            appending[2] = len(appending[1])
            if self._later:
                self._publish_due(info, entry.time)
            if self.hub.listening:
                self.hub.publish(self._entry_event(info, entry))

    def _entry_event(self, info: SessionInfo, entry: TranscriptEntry) -> Event:
        kind = "command" if entry.side == "client" else "reply"
        fields = (info.index, entry.time, entry.side, entry.text, entry.rule, entry.note)
        if entry.endings:  # a reply's line endings, not all CRLF (TranscriptEntry.endings)
            ended = (*fields, entry.delivered, entry.written, entry.endings)
            return Event(kind, self.server_id, _entry_fields, *ended)
        if entry.delivered:
            return Event(kind, self.server_id, _entry_fields, *fields)
        undelivered = (*fields, False, entry.written)
        return Event(kind, self.server_id, _entry_fields, *undelivered)

    def violation(self, info: SessionInfo, violation: Violation) -> None:
        super().violation(info, violation)
        fields = (_violation_fields, info.index, violation)
        event = Event("violation", self.server_id, *fields) if self.hub.listening else None
        self._send(info, event, at=violation.time)

    def message(self, info: SessionInfo, message: Message) -> None:
        number = next(self._numbers)  # journal writers are the server loop alone
        key = id(message)
        self._ids[key] = (number, weakref.ref(message, functools.partial(self._forget, key)))
        super().message(info, message)
        fields = (_message_fields, info.index, number, message)
        # also wanted by a wait for messages (it wakes on the event)
        event = Event("message", self.server_id, *fields) if self.hub.wanted else None
        self._send(info, event, at=message.time)

    def authenticated(self, info: SessionInfo, user: str) -> None:
        super().authenticated(info, user)
        now = time.time()  # the observer call carries no time: it happens now
        fields = (_auth_fields, info.index, now, user)
        self._send(info, Event("auth", self.server_id, *fields) if self.hub.listening else None)

    def secured(self, info: SessionInfo, version: str, cipher: str) -> None:
        super().secured(info, version, cipher)
        fields = (_tls_fields, info.index, time.time(), version, cipher)
        self._send(info, Event("tls", self.server_id, *fields) if self.hub.listening else None)

    def ended(self, info: SessionInfo, time: float) -> None:
        super().ended(info, time)
        fields = (_session_fields, info.index, time)
        # also wanted by a wait for sessions (it wakes on the event)
        event = Event("closed", self.server_id, *fields) if self.hub.wanted else None
        self._send(info, event, last=True)


class EventJournal(Publishing, Journal):
    """A journal that publishes its events (servers on demand)."""


class LoggingEventJournal(Publishing, LoggingJournal):
    """A journal that logs and publishes its events (``smtpfake serve``'s own server)."""
