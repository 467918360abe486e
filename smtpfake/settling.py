"""Settling a read: wait, bounded, until the sessions open at the moment of the read have ended,
so a read right after a client's ``close()`` sees that session whole (its ``no-quit``, its close).

The same rule for every reader: the fixture and the remote client (``control.ControlHelpers``)
and the in-process :class:`~smtpfake.server.Server` (its ``violations``, ``counts`` and
``settle()``). A session still open after the wait is reported as it stands, and a read does
not wait for it again until something more of it is recorded (:class:`Stalled`); ``settle()``
itself waits for every open session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smtpfake.journal import Journal, SessionRecord

#: seconds a read waits for the sessions open at that moment to end
SETTLE_TIMEOUT = 2.0

#: one connection: its index restarts after use(), so with its start time and peer
Key = tuple[int, float, str]


def key(s: SessionRecord) -> Key:
    return (s.index, s.started, s.peer)


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
