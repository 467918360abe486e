"""Settling a read: wait, bounded, until the sessions open at the moment of the read have ended,
so a read right after a client's ``close()`` sees that session whole (its ``no-quit``, its close).

The same rule for every reader: the fixture and the remote client (``control.ControlHelpers``)
and the in-process :class:`~smtpfake.server.Server` (its ``violations``, ``counts`` and
``settle()``). A session still open after the wait is reported as it stands, and a read does
not wait for it again until something more of it is recorded (:class:`Stalled`); ``settle()``
itself waits for every open session.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smtpfake.journal import Journal, SessionRecord

#: seconds a read waits for the sessions open at that moment to end
SETTLE_TIMEOUT = 2.0

#: one connection: its index restarts after use(), so with its start time and peer
Key = tuple[int, float, str]


def key(s: SessionRecord) -> Key:
    return (s.index, s.started, s.peer)


class SettleInLoopWarning(UserWarning):
    """A settling read made in a thread that runs an event loop (an async test) found sessions
    open: it cannot wait for them (the wait would hold up that loop, which closes the test's own
    asyncio clients), so it read them as they stand. ``await ....asettle()`` first."""


def in_running_loop() -> bool:
    """Whether this thread runs an asyncio event loop (an async test, a server's own loop). Not
    importing asyncio when nothing has: then no loop runs."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


_PACKAGE = str(Path(__file__).parent)


def _stacklevel() -> int:
    """warnings.warn's stacklevel for the first frame outside smtpfake: the test's own line."""
    import inspect  # only when warning (the plugin loads this module in every pytest run)

    here = inspect.currentframe()
    frame = here.f_back if here is not None else None
    if frame is None:  # an interpreter without frames: the caller's line
        return 2
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level


def _progress(s: SessionRecord) -> int:
    """How much the journal has recorded of ``s``: it grows with every entry, kept or dropped."""
    return len(s.transcript) + s.dropped_entries


class Stalled:
    """Sessions a settle ran out waiting for, each with its :func:`_progress` then: a read does
    not wait for one again until something more is recorded of it (the test's own connection,
    open around its reads, costs one ``settle_timeout``, not one per read). Holds only sessions
    open at the last settle."""

    def __init__(self) -> None:
        self._seen: dict[Key, int] = {}

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
        sessions it would have waited for are taken as stalled, with one warning for them.
        True when no session is open."""
        waiting = self.waiting_for(sessions, every=every)
        if waiting:
            self.ran_out(sessions, waiting)
            indexes = ", ".join(str(k[0]) for k in sorted(waiting))
            warnings.warn(
                SettleInLoopWarning(
                    f"smtpfake: session(s) {indexes} still open, read as they stand: a read in "
                    "a running event loop cannot wait for them (the wait would block the loop "
                    "that closes your asyncio client); `await smtpfake.asettle()` first"
                ),
                stacklevel=_stacklevel(),
            )
        return not any(s.ended is None for s in sessions)

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
        return not still


def wait_ended(journal: Journal, keys: set[Key], limit: float) -> set[Key]:
    """Wait at most ``limit`` seconds until the sessions ``keys`` name have ended in ``journal``;
    those still open then. Woken by the journal at every session's end: no polling."""

    def ended(j: Journal) -> bool:
        return not (keys & {key(s) for s in j.sessions() if s.ended is None})

    if journal.wait(ended, limit):
        return set()
    return keys & {key(s) for s in journal.sessions() if s.ended is None}
