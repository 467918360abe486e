"""Ending a wait whose await was cancelled: the awaitable waits (``await_for_*``, ``asettle``)
run a blocking wait in a worker thread (:func:`smtpfake.settling.off_loop`), and a thread cannot
be stopped from outside. So the wrapper gives the thread a :class:`threading.Event`, set when
the await is cancelled, and every wait a worker thread can be in waits in slices of at most
:data:`SLICE` seconds and checks it (:func:`slice_of`, :func:`check`, :func:`pause`), ending with
:class:`WaitCancelled`, which nobody awaits. A wait outside such a thread (the blocking forms)
has no event: it waits as before.

A new wait run through ``off_loop`` honours it so: block only ``slice_of(seconds)`` at a time
and call :func:`check` after each slice (as ``Journal.wait`` does: a wait built on it honours it
already), or :func:`pause` where it would ``time.sleep``; let :class:`WaitCancelled` through.

A leaf: imports nothing of smtpfake, so the journal's own wait can honour it too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: the longest a wait in a cancellable worker thread blocks before looking at its event: a
#: cancelled await's thread ends this long after at most (plus one look at what it waits for)
SLICE = 0.02


class WaitCancelled(Exception):
    """The await of this worker thread's wait was cancelled: the wait ends. Raised in the
    worker thread only; the cancelled await has gone on already, so nobody sees it."""


_local = threading.local()


def cancellable(function: Callable[[], T], cancelled: threading.Event) -> Callable[[], T]:
    """``function`` to run in a worker thread, its waits ending once ``cancelled`` is set."""

    def run() -> T:
        _local.cancelled = cancelled
        try:
            return function()
        finally:
            _local.cancelled = None  # the pool's thread runs other work next

    return run


def _event() -> threading.Event | None:
    found: threading.Event | None = getattr(_local, "cancelled", None)
    return found


def slice_of(seconds: float, most: float = SLICE) -> float:
    """How long a wait may block in one go: ``seconds``, or ``most`` at most in a cancellable
    worker thread (then :func:`check` after each slice)."""
    return seconds if _event() is None else min(seconds, most)


def check() -> None:
    """:class:`WaitCancelled` if this thread's wait was cancelled."""
    event = _event()
    if event is not None and event.is_set():
        raise WaitCancelled("smtpfake: the await of this wait was cancelled")


def pause(seconds: float) -> None:
    """``time.sleep(seconds)``, ending at once (:class:`WaitCancelled`) if this thread's wait
    is cancelled meanwhile."""
    event = _event()
    if event is None:
        time.sleep(seconds)
    elif event.wait(seconds):
        check()
