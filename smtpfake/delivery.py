"""Delivery back ends: what happens to a message smtpfake accepted, besides the journal.

A back end is an aiosmtpd handler — anything with aiosmtpd's ``async handle_DATA(server, session,
envelope)`` — used through aiosmtpd's public API: aiosmtpd's own ``Mailbox`` (write each message
to a Maildir), smtpfake's ``Relay`` (``proxy:HOST:PORT``: aiosmtpd's ``Proxy`` relay, with a
timeout and its failures reported; see smtpfake.relay), or a handler of your own. The reply the
client got was already decided by the scenario; delivery follows it, as a real MTA's queue does.
An exception in the handler is a server error (``Server.errors``: it fails the test that caused it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from smtpfake.engine.records import (
    Message,
    Observer,
    Outcome,
    SessionInfo,
    TranscriptEntry,
    Violation,
    declares_smtputf8,
)

if TYPE_CHECKING:
    from aiosmtpd.smtp import Envelope

# aiosmtpd (and the email, smtplib and attrs it imports) is loaded only when a back end is
# named or a message is delivered: a server without delivery starts without it (issue 11).


class Handler(Protocol):
    """aiosmtpd's handler interface, the part a back end needs."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str: ...


def named(spec: str) -> Handler:
    """A back end by name: ``maildir:PATH`` (aiosmtpd's Mailbox) or ``proxy:HOST:PORT``
    (smtpfake.relay's Relay). Raises ValueError for anything else, and for a Maildir that cannot
    be made or used (one line naming it, for the faces to show as a usage error)."""
    kind, _, rest = spec.partition(":")
    if kind == "maildir" and rest:
        return _maildir(Path(rest))
    if kind == "proxy":
        host, _, port = rest.rpartition(":")
        if host and port.isdigit():
            from smtpfake.relay import Relay

            return Relay(host.strip("[]"), int(port))
    raise ValueError(f"delivery must be maildir:PATH or proxy:HOST:PORT, got {spec!r}")


def _maildir(path: Path) -> Handler:
    """aiosmtpd's Mailbox writing to the Maildir PATH. Python's Maildir makes ``tmp``, ``new``
    and ``cur`` only when it makes PATH itself, so an existing empty folder (``mkdir mail``
    first) would fail every delivery: they are made here too."""
    from aiosmtpd.handlers import Mailbox

    try:
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(20, "not a directory")
        if path.is_dir():
            for part in ("tmp", "new", "cur"):
                (path / part).mkdir(mode=0o700, exist_ok=True)
        handler: Handler = Mailbox(path)
    except OSError as exc:
        raise ValueError(f"cannot use the Maildir {str(path)!r}: {exc.strerror or exc}") from None
    return handler


def envelope(message: Message) -> Envelope:
    """The message as aiosmtpd's Envelope: ``mail_options`` MAIL's parameters, ``rcpt_options``
    every recipient's RCPT parameters in one list, in order (aiosmtpd's shape; which recipient
    had which is in ``Message.rcpt_options``), both as the client wrote them (aiosmtpd's own
    server upper-cases them); ``smtp_utf8``: MAIL had SMTPUTF8 (RFC 6531 §3.4)."""
    from aiosmtpd.smtp import Envelope

    env = Envelope()
    env.mail_from = message.mail_from
    env.rcpt_tos = list(message.rcpt_tos)
    env.mail_options = list(message.mail_options)
    env.rcpt_options = [option for options in message.rcpt_options for option in options]
    env.smtp_utf8 = declares_smtputf8(message.mail_options)
    env.content = message.data
    env.original_content = message.data
    return env


class Delivering:
    """An Observer that passes everything on to ``inner`` (the journal) and hands each accepted
    message to ``deliver``."""

    def __init__(self, inner: Observer, deliver: Callable[[SessionInfo, Message], None]) -> None:
        self._inner = inner
        self._deliver = deliver

    def started(self, info: SessionInfo) -> None:
        self._inner.started(info)

    def transcript(self, info: SessionInfo, entry: TranscriptEntry) -> None:
        self._inner.transcript(info, entry)

    def violation(self, info: SessionInfo, violation: Violation) -> None:
        self._inner.violation(info, violation)

    def message(self, info: SessionInfo, message: Message) -> None:
        self._inner.message(info, message)
        self._deliver(info, message)

    def authenticated(self, info: SessionInfo, user: str) -> None:
        self._inner.authenticated(info, user)

    def secured(self, info: SessionInfo, version: str, cipher: str) -> None:
        self._inner.secured(info, version, cipher)

    def outcome(self, info: SessionInfo, outcome: Outcome) -> None:
        self._inner.outcome(info, outcome)

    def ended(self, info: SessionInfo, time: float) -> None:
        self._inner.ended(info, time)


async def deliver(handler: Handler, info: SessionInfo, message: Message) -> str:
    """Hand one message to the back end, in a thread of its own (a relay is a blocking smtplib;
    the server's loop must not wait on it). Returns the handler's status; raises what it raised.

    A daemon thread, not the loop's executor: a back end stuck past the stop's wait (a relay
    that never answers, a user's handler that hangs) is given up by the stop (reported as an
    error) and does not hold the process at exit, as an executor's thread did (joined at exit)."""
    import threading

    from aiosmtpd.smtp import Session as AiosmtpdSession

    async def call() -> str:
        session = AiosmtpdSession(asyncio.get_running_loop())
        host, _, port = info.peer.rpartition(":")
        peer: Any = (host.strip("[]"), int(port)) if port.isdigit() else info.peer
        session.peer = peer
        return await handler.handle_DATA(None, session, envelope(message))

    loop = asyncio.get_running_loop()
    done: asyncio.Future[str] = loop.create_future()

    def settle(status: str | None, error: BaseException | None) -> None:
        if done.cancelled():
            return  # given up by the stop, which said so
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(str(status))

    def work() -> None:
        try:
            status, error = asyncio.run(call()), None
        except BaseException as exc:  # handed to the loop, reported there as a server error
            status, error = None, exc
        # a closed loop raises RuntimeError: the stop gave this delivery up and reported it
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, status, error)

    threading.Thread(target=work, name=f"smtpfake-deliver-{message.queue_id}", daemon=True).start()
    return await done
