"""The cyclic garbage collector as a server that has its process to itself sets it (``smtpfake
serve``, through loops.run).

A session makes a few hundred short-lived objects, nearly all freed by reference counting (the
engine keeps sessions free of cycles: see Session.__init__). With CPython's default first
threshold (700 allocations) the collector still runs every few sessions, and each full
collection walks everything start-up made (modules, the scenario) and what the journal keeps:
about a tenth of the server's own CPU per session (bench/session_cpu.py). While serving, the
first threshold is raised and start-up's objects are frozen out of the collector's sight
(``gc.freeze``); both are undone when serving ends, so an in-process ``serve`` (the CLI's tests)
leaves the interpreter as it found it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

#: allocations between two young collections while serving (CPython's default: 700); the
#: garbage cycles it lets wait are a bounded number of small objects
YOUNG_THRESHOLD = 10_000


@contextlib.contextmanager
def serving() -> Iterator[None]:
    """The collector set for serving inside the ``with``, as it was after it."""
    before, frozen_before = gc.get_threshold(), gc.get_freeze_count()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if not frozen_before:  # unfreeze() would also thaw what someone else froze
            gc.unfreeze()
