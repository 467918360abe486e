"""Live session events for Server-Sent Events, and the message ids the API hands out.

:class:`EventHub` fans events out to subscribers (bounded queues, one per SSE client) in the API's
event loop; journal writers on another thread hand events over with ``call_soon_threadsafe``.
:class:`Publishing` is a journal mixin: every observer call is recorded first (by the journal it
is mixed into), then published, so a client that reacts to an event always finds it recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from smtpfake.engine.records import Message, SessionInfo, TranscriptEntry, Violation
from smtpfake.journal import Journal
from smtpfake.logging_observer import LoggingJournal
from smtpfake.serialize import VIOLATION_REFERENCES, json_text

Event = dict[str, Any]

#: events a slow subscriber may fall behind by before it is dropped (its stream ends)
QUEUE_SIZE = 10_000


class EventHub:
    """Publishes events (JSON objects) to every subscriber; safe to publish from any thread.

    Each event gets ``id`` (increasing from 1, for SSE's ``id:``) and ``server`` (the id of the
    server it came from, ``"main"`` for the sidecar's own)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._subscribers: set[asyncio.Queue[Event | None]] = set()
        self._ids = itertools.count(1)
        self._changed: asyncio.Event | None = None
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver in ``loop`` (call from its thread, before the first subscriber)."""
        self._loop = loop
        self._thread = threading.get_ident()
        self._changed = asyncio.Event()

    def publish(self, event: Event) -> None:
        loop = self._loop
        if loop is None:
            return  # nobody can be listening before the API runs
        if threading.get_ident() == self._thread:
            self._deliver(event)
            return
        # RuntimeError: the API's loop closed (after its stop) between the check and the call;
        # with no loop, nobody is listening, and a session must not fail for it
        with contextlib.suppress(RuntimeError):
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._deliver, event)

    def _deliver(self, event: Event) -> None:
        event = {"id": next(self._ids), **event}
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # a reader this far behind has stopped reading: end its stream, keep the rest
                self._subscribers.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def subscribe(self) -> asyncio.Queue[Event | None]:
        """A queue of the events from now on; ``None`` in it means the stream was dropped."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event | None]) -> None:
        self._subscribers.discard(queue)

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

    async def until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait in the loop until ``predicate()`` holds, re-checked after every event; False
        when ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._changed is None or self.closed:
                return False
            changed = self._changed
            # at most a second between checks: a journal cleared without an event still counts
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 1.0))
        return True


class Publishing(Journal):
    """Journal mixin: records each observer call, then publishes it to ``hub`` as ``server``.

    Also numbers accepted messages (``message_id``) so the API can name them: ids grow from 1 for
    the life of the journal and are never reused, even across ``clear()``."""

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

    def clear(self) -> None:
        with self._lock:
            super().clear()
            self.deleted.clear()

    def _publish(self, event: str, info: SessionInfo, when: float, **fields: Any) -> None:
        for key, value in fields.items():  # what a client sent, as JSON can carry it
            if isinstance(value, str):
                fields[key] = json_text(value)
            elif isinstance(value, list):
                fields[key] = [json_text(v) for v in value]
        self.hub.publish(
            {
                "event": event,
                "server": self.server_id,
                "session": info.index,
                "time": when,
                **fields,
            }
        )

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

    def started(self, info: SessionInfo) -> None:
        super().started(info)
        self._publish("connected", info, info.started, peer=info.peer)

    def transcript(self, info: SessionInfo, entry: TranscriptEntry) -> None:
        super().transcript(info, entry)
        if entry.side == "client":
            self._publish("command", info, entry.time, text=entry.text)
        else:
            code = int(entry.text[:3]) if entry.text[:3].isdigit() else None
            self._publish("reply", info, entry.time, text=entry.text, code=code, rule=entry.rule)

    def violation(self, info: SessionInfo, violation: Violation) -> None:
        super().violation(info, violation)
        self._publish(
            "violation",
            info,
            violation.time,
            kind=violation.kind,
            detail=violation.detail,
            command=violation.command,
            rfc=VIOLATION_REFERENCES.get(violation.kind),
        )

    def message(self, info: SessionInfo, message: Message) -> None:
        number = next(self._numbers)  # journal writers are the server loop alone
        key = id(message)
        self._ids[key] = (number, weakref.ref(message, functools.partial(self._forget, key)))
        super().message(info, message)
        self._publish(
            "message",
            info,
            message.time,
            message_id=number,
            queue_id=message.queue_id,
            mail_from=message.mail_from,
            rcpt_tos=list(message.rcpt_tos),
            subject=message.subject,
            size=len(message.data),
        )

    def authenticated(self, info: SessionInfo, user: str) -> None:
        super().authenticated(info, user)
        self._publish("auth", info, time.time(), user=user)

    def secured(self, info: SessionInfo, version: str, cipher: str) -> None:
        super().secured(info, version, cipher)
        self._publish("tls", info, time.time(), version=version, cipher=cipher)

    def ended(self, info: SessionInfo, time: float) -> None:
        super().ended(info, time)
        self._publish("closed", info, time)


class EventJournal(Publishing, Journal):
    """A journal that publishes its events (servers on demand)."""


class LoggingEventJournal(Publishing, LoggingJournal):
    """A journal that logs and publishes its events (``smtpfake serve``'s own server)."""
