"""The engine's only sense of time: an injectable clock, so engine tests never sleep.

The clock governs what rules and settings measure: rule windows (``window``, ``fixed_window``,
``within``: greylisting, rate limits), ``server.retry_after``, and the times in the journal. It
does not govern waiting on the wire: ``delay``, ``hang``, ``drip``, ``abort`` pauses, the idle and
``close_after`` timers and the server's own idle timeout run in real time.

Both clocks here can be moved forward (``advance``), which is how a test or ``POST /api/clock``
makes 300 seconds of greylisting pass in no time. Time never goes back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


@runtime_checkable
class AdvanceableClock(Clock, Protocol):
    """A clock that can be moved forward by hand (what ``Server.advance`` needs)."""

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0); returns the new now(). ValueError if negative."""
        ...


class _Offset:
    """Seconds added by advance(). Reading it from another thread is safe (one float); callers
    that advance from several threads serialise their calls (Server.advance does)."""

    def __init__(self) -> None:
        self._offset = 0.0

    def add(self, seconds: float) -> None:
        __tracebackhide__ = True  # advance(-1) is the caller's mistake: pytest shows its line
        if not seconds >= 0:  # also refuses NaN
            raise ValueError(f"a clock only moves forward: advance({seconds!r})")
        self._offset += seconds


class SystemClock(_Offset):
    """Real time, plus whatever advance() has added (so a running server can skip ahead)."""

    def __init__(self) -> None:
        super().__init__()
        # now(): time.time itself until advance() is first called (a session reads the clock
        # some twenty times; a Python call each would cost more than the reading)
        self.now: Callable[[], float] = time.time

    def _advanced(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        __tracebackhide__ = True
        self.add(seconds)
        self.now = self._advanced  # after the offset grew: a reading never goes back
        return self.now()


class ManualClock(_Offset):
    """A clock that stands still until advance() moves it (``serve --clock manual``, tests)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        super().__init__()
        self._start = start

    def now(self) -> float:
        return self._start + self._offset

    def advance(self, seconds: float) -> float:
        __tracebackhide__ = True
        self.add(seconds)
        return self.now()


#: the name engine tests have always used
FakeClock = ManualClock
