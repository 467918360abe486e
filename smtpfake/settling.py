"""Settling a read: wait, bounded, until the sessions open at the moment of the read have ended,
so a read right after a client's ``close()`` sees that session whole (its ``no-quit``, its close).

The same rule for every reader: the fixture and the remote client (``control.ControlHelpers``)
and the in-process :class:`~smtpfake.server.Server` (its ``violations``, ``counts`` and
``settle()``). A session still open after the wait is reported as it stands, and a read does
not wait for it again until something more of it is recorded (:class:`Stalled`); ``settle()``
itself waits for every open session.
"""

from __future__ import annotations

import functools
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from smtpfake.wait_cancel import cancellable

if TYPE_CHECKING:
    from smtpfake.journal import Journal, SessionRecord

T = TypeVar("T")

#: seconds a read waits for the sessions open at that moment to end
SETTLE_TIMEOUT = 2.0

#: one connection: its index restarts after use(), so with its start time and peer
Key = tuple[int, float, str]


def key(s: SessionRecord) -> Key:
    return (s.index, s.started, s.peer)


class SettleInLoopWarning(UserWarning):
    """A read made in a thread that runs an event loop (an async test) saw a session open, and
    its client closed it right after, sending nothing in between: the read could not wait for
    that close (the wait would hold up the loop that makes it), so it missed it. Told at the
    read's line, once the close is recorded: at a later read, ``settle()``/``asettle()``, or
    the test's end. ``await ....asettle()`` before reading."""


def running_library() -> str | None:
    """The event loop this thread runs: ``"asyncio"`` (pytest-asyncio, anyio's asyncio
    backend, a server's own loop), ``"trio"`` (anyio's trio backend, pytest-trio), or None.
    Only libraries already imported are asked: when one is not, no loop of it runs, and loading
    the plugin imports neither."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            return "asyncio"
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            # RuntimeError outside trio.run, in its worker threads too
            trio.lowlevel.current_trio_token()
        except RuntimeError:
            pass
        else:
            return "trio"
    return None


class WaitInLoopError(RuntimeError):
    """A blocking wait (``wait_for_messages``, ``wait_for_sessions``) called in a thread that
    runs an event loop (an async test), not met already: it would hold up that loop, so a client
    running on it could not send, and the wait would time out with nothing. Raised at once; the
    awaitable form (``await smtpfake.await_for_messages(...)``) waits with the loop going on.
    ``Server.wait_for_deliveries`` likewise (``await server.await_for_deliveries()``)."""


def refuse_blocking_wait(name: str, done: Callable[[], bool], *, owner: str = "smtpfake") -> None:
    """:class:`WaitInLoopError` if this thread runs an event loop and the wait is not ``done()``
    already (asked only then: a wait already met needs no blocking). ``name``: the blocking
    wait, whose awaitable form is ``a`` + ``name``, as ``asettle`` is ``settle``'s; ``owner``:
    what the test calls it on (the fixture, or a ``Server``)."""
    __tracebackhide__ = True
    library = running_library()
    if library is not None and not done():
        raise WaitInLoopError(
            f"smtpfake: {name}() blocks, and this thread runs the test's {library} event loop: "
            f"a client on that loop could not send while it waited; use "
            f"`await {owner}.a{name}(...)` in an async test"
        )


def in_running_loop() -> bool:
    """Whether this thread runs an event loop (see :func:`running_library`)."""
    return running_library() is not None


async def in_worker_thread(function: Callable[[float | None], bool], timeout: float | None) -> bool:
    """``function(timeout)`` in a worker thread, awaited in the running loop (asyncio's or
    trio's), which goes on meanwhile: what ``asettle()`` does."""
    return await off_loop(lambda: function(timeout))


async def off_loop(function: Callable[[], T]) -> T:
    """``function()`` in a worker thread, awaited in the running loop (asyncio's or trio's),
    which goes on meanwhile: how the awaitable forms of the blocking waits wait. Cancelling the
    await ends the thread's wait too (a thread cannot be stopped from outside, so the waits
    look at an event the cancel sets: see :mod:`smtpfake.wait_cancel`), else the thread would
    wait out its whole timeout, and the loop's shutdown with it."""
    cancelled = threading.Event()
    run = cancellable(function, cancelled)
    try:
        if running_library() == "trio":
            trio = sys.modules["trio"]
            # uncancellable by default: the await would not end before the thread's wait
            done: Any = await trio.to_thread.run_sync(run, **{_trio_abandon(): True})
            return done  # type: ignore[no-any-return]
        import asyncio

        return await asyncio.to_thread(run)
    except BaseException:  # a cancel (asyncio's, trio's); any other end finds the thread done
        cancelled.set()
        raise


@functools.cache
def _trio_abandon() -> str:
    """The name of trio's to_thread.run_sync's flag that lets a cancel move on without the
    thread: ``abandon_on_cancel`` since trio 0.23, ``cancellable`` before (pyproject allows
    trio>=0.22)."""
    import inspect

    trio = sys.modules["trio"]  # asked only in trio's loop
    parameters = inspect.signature(trio.to_thread.run_sync).parameters
    return "abandon_on_cancel" if "abandon_on_cancel" in parameters else "cancellable"


_PACKAGE = str(Path(__file__).parent)


def _caller() -> tuple[str, int]:
    """The file and line of the first frame outside smtpfake: the test's own line."""
    import inspect  # only for a read in a loop (the plugin loads this module in every pytest run)

    frame = inspect.currentframe()
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    return ("?", 0) if frame is None else (frame.f_code.co_filename, frame.f_lineno)


def _progress(s: SessionRecord) -> int:
    """How much the journal has recorded of ``s``: it grows with every entry, kept or dropped."""
    return len(s.transcript) + s.dropped_entries


#: how long the end of a test waits for a session a read in its loop saw open, for its close
TEARDOWN_LOOK = 0.5


@dataclass(frozen=True)
class LoopRead:
    """A read in a running loop that saw a session open: how much of it was recorded then, and
    the read's line."""

    progress: int
    filename: str
    lineno: int


class Stalled:
    """Sessions a settle ran out waiting for, each with its :func:`_progress` then: a read does
    not wait for one again until something more is recorded of it (the test's own connection,
    open around its reads, costs one ``settle_timeout``, not one per read). Holds only sessions
    open at the last settle. And the reads made in a running loop (which cannot wait) that saw
    a session open, until it is known whether they missed its close (:meth:`tell_missed`)."""

    def __init__(self) -> None:
        self._seen: dict[Key, int] = {}
        self._loop_reads: dict[Key, LoopRead] = {}

    def waiting_for(self, sessions: tuple[SessionRecord, ...], *, every: bool) -> set[Key]:
        """The open sessions of ``sessions`` to wait for: all when ``every``, else those not
        stalled since (forgetting those that ended or moved on)."""
        open_now = {key(s): _progress(s) for s in sessions if s.ended is None}
        self._seen = {k: p for k, p in self._seen.items() if open_now.get(k) == p}
        return set(open_now) if every else {k for k in open_now if k not in self._seen}

    def ran_out(self, sessions: tuple[SessionRecord, ...], keys: set[Key]) -> None:
        """A settle waited for ``keys`` in vain: remember those still open, as they stand."""
        self._seen |= {key(s): _progress(s) for s in sessions if key(s) in keys}

    def without_waiting(self, sessions: tuple[SessionRecord, ...], *, every: bool) -> bool:
        """A settle in a thread that runs an event loop: no wait (it would hold up that loop and
        every client of it, so a session its client just closed would never end in time). The
        sessions it would have waited for are taken as stalled, and remembered with this read's
        line: whether the read missed their close is known only once something more of them is
        recorded (:meth:`tell_missed`). True when no session is open."""
        self.tell_missed(sessions)
        waiting = self.waiting_for(sessions, every=every)
        if waiting:
            self.ran_out(sessions, waiting)
            filename, lineno = _caller()
            for s in sessions:
                if key(s) in waiting and key(s) not in self._loop_reads:
                    self._loop_reads[key(s)] = LoopRead(_progress(s), filename, lineno)
        return not any(s.ended is None for s in sessions)

    def loop_reads_open(self, sessions: tuple[SessionRecord, ...]) -> set[Key]:
        """The sessions a read in a loop saw open that are still open, nothing more recorded."""
        progress = {key(s): _progress(s) for s in sessions if s.ended is None}
        return {k for k, read in self._loop_reads.items() if progress.get(k) == read.progress}

    def tell_missed(self, sessions: tuple[SessionRecord, ...]) -> None:
        """Warn of each read that :meth:`missed` a close."""
        warn_missed(self.missed(sessions))

    def missed(self, sessions: tuple[SessionRecord, ...]) -> list[tuple[LoopRead, int]]:
        """Each read in a loop that missed a close, with the session's number: the session it
        saw open has ended since by its client's close, the client sending nothing in between.
        A client that went on (a command, QUIT) was read mid-session on purpose: not missed; a
        session still as it was read stays undecided."""
        found: list[tuple[LoopRead, int]] = []
        now = {key(s): s for s in sessions}
        for k, read in list(self._loop_reads.items()):
            s = now.get(k)
            if s is None:  # reset or dropped: nothing the client did
                del self._loop_reads[k]
                continue
            new = _progress(s) - read.progress
            since = s.transcript[-new:] if new > 0 else ()  # what was recorded after the read
            went_on = new > 0 and any(e.side == "client" and not e.event for e in since)
            if not went_on and s.ended is None:
                continue
            del self._loop_reads[k]
            # ended by the server (a timeout, a reset) rather than the client's close: not missed
            if not went_on and any(e.side == "client" and e.event for e in since):
                found.append((read, s.index))
        return found

    def settle(
        self,
        sessions: Callable[[], tuple[SessionRecord, ...]],
        wait_ended: Callable[[set[Key], float], set[Key]],
        limit: float,
        *,
        every: bool,
    ) -> bool:
        """Wait at most ``limit`` seconds for the open sessions of ``sessions()`` (what the
        journal holds now) to end, by ``wait_ended(keys, limit)`` (those still open then); a
        read's (``every`` False) skips the ones this holds. True when they all ended."""
        waiting = self.waiting_for(sessions(), every=every)
        still = wait_ended(waiting, limit) if waiting else set()
        if still:
            self.ran_out(sessions(), still)
        if self._loop_reads:  # asettle() sees the close an earlier read missed
            self.tell_missed(sessions())
        return not still

    def at_the_end(
        self,
        sessions: Callable[[], tuple[SessionRecord, ...]],
        wait_ended: Callable[[set[Key], float], set[Key]],
    ) -> list[tuple[LoopRead, int]]:
        """At a test's end (outside its loop): wait, at most :data:`TEARDOWN_LOOK` seconds, for
        the sessions a read in its loop saw open and nothing more of; the reads that missed a
        close (told by :func:`warn_missed` once the test's server is reset: a warning made an
        error must not stop that). Forgets the rest (the reset ends them)."""
        if not self._loop_reads:
            return []
        looked_at = self.loop_reads_open(sessions())
        if looked_at:
            wait_ended(looked_at, TEARDOWN_LOOK)
        found = self.missed(sessions())
        self._loop_reads.clear()
        return found


def warn_missed(found: list[tuple[LoopRead, int]]) -> None:
    """A :class:`SettleInLoopWarning` at each read's own line."""
    for read, index in found:
        warnings.warn_explicit(
            SettleInLoopWarning(
                f"smtpfake: this read saw session {index} open, and its client closed it right "
                "after, sending nothing more: a read in a running event loop cannot wait for "
                "that close (the wait would block the loop that makes it), so it missed it; "
                "`await smtpfake.asettle()` before reading"
            ),
            SettleInLoopWarning,
            read.filename,
            read.lineno,
        )


def wait_ended(journal: Journal, keys: set[Key], limit: float) -> set[Key]:
    """Wait at most ``limit`` seconds until the sessions ``keys`` name have ended in ``journal``;
    those still open then. Woken by the journal at every session's end: no polling."""

    def ended(j: Journal) -> bool:
        return not (keys & {key(s) for s in j.sessions() if s.ended is None})

    if journal.wait(ended, limit):
        return set()
    return keys & {key(s) for s in journal.sessions() if s.ended is None}
