"""When a violation or an accepted message may be shown next to its session's transcript.

The engine reports a violation, or an accepted message, when it judges it; entries it records
after that can be stamped earlier (lines of the same read still waiting to be read, a reply held
behind them). A face that shows a session's events in one sequence (``serve``'s log, the event
stream) holds each such event back until the session's first transcript entry stamped at or after
the event's time, and shows it just before that entry; at the latest when the session ends. The
transcript is in time order, so the sequence is too, and every face that asks here puts an event
in the same place (tests/wire/test_wire_arrival.py checks the stream against the log).

This module is that one rule: :class:`Waiting` keeps what waits, per session (the event stream:
it publishes what a session recorded before it holds an event); :func:`place` finds the places
for a face that holds an event with the number of entries recorded by then, and reads those
later (serve's log, which makes its lines a batch at a time).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from smtpfake.engine.records import SessionInfo

T = TypeVar("T")


class Waiting(dict[int, tuple[SessionInfo, list[tuple[float, T]]]], Generic[T]):
    """What each session holds back: ``id(info)`` -> (info, [(time, item), ...]) in the order
    held. A dict, so that ``if waiting:`` (nothing waits, nearly always) costs a hot path no
    Python call. Items leave in the order they came: one stamped later holds back those after it
    (a session's violations stay in the order they were judged)."""

    def hold(self, info: SessionInfo, time: float, item: T) -> None:
        """Hold ``item`` (stamped ``time``, clock seconds) until :meth:`due` lets it go."""
        found = self.get(id(info))
        if found is None or found[0] is not info:
            # keyed by id, as the journal keys sessions (use() restarts their numbers); the info
            # is kept with its items, so its id stays its own while they wait
            found = self[id(info)] = (info, [])
        found[1].append((time, item))

    def due(self, info: SessionInfo, time: float | None) -> list[T]:
        """The items of ``info``'s session that go just before its entry stamped ``time``,
        taken out (None: the session ended, all of them)."""
        found = self.get(id(info))
        if found is None or found[0] is not info:
            return []
        held = found[1]
        count = len(held)
        if time is not None:
            count = 0
            while count < len(held) and held[count][0] <= time:
                count += 1
        if count == len(held):
            del self[id(info)]
        out = [item for _, item in held[:count]]
        del held[:count]
        return out

    def everything(self) -> list[tuple[SessionInfo, T]]:
        """Every item still held with its session, session by session, taken out (the journal
        is cleared: the sessions it ends go on in the fresh one, with other infos)."""
        out = [(info, item) for info, held in self.values() for _, item in held]
        self.clear()
        return out


#: an item held by number (:func:`place`): (time, entries the session had recorded when it
#: was held, the item)
Held = tuple[float, int, T]


def place(
    held: list[Held[T]], new: Sequence[tuple[Any, ...]], first: int
) -> list[tuple[int, list[T]]]:
    """Where the items of ``held`` (one session's, in the order held) go among ``new``: that
    session's entries (each its time first) from its entry number ``first`` on. Pairs (i,
    items): the items go just before ``new[i]``, in this order; they are taken out of
    ``held``. An item goes before the first entry stamped at or after its time that the
    session recorded after it was held; those after it wait behind it."""
    out: list[tuple[int, list[T]]] = []
    i, end = 0, len(new)
    while held:
        at, number, _ = held[0]
        if number - first > i:  # entries recorded before it was held come before it
            i = number - first
        while i < end and new[i][0] < at:
            i += 1
        if i >= end:
            break
        time, number = new[i][0], first + i
        due = [held.pop(0)[2]]  # the first waits for no other
        while held and held[0][0] <= time and held[0][1] <= number:
            due.append(held.pop(0)[2])
        out.append((i, due))
    return out
