"""The log's own thread, so that the event loop never waits on the log's reader.

A pipe nobody reads (``smtpfake serve | (sleep 1000)``, ``Popen(stdout=PIPE)`` never read) fills
at 64 KiB, and a write to it then blocks until someone reads: in the event loop, that would hold
up every session and the HTTP API. So the log (logging_observer.EventLog) hands each batch of lines
to a :class:`LogWriter`, which costs a lock and a queue's put, and a thread of its own writes it to
the stream's file descriptor. What waits to be written is bounded (:data:`BOUND`): a batch that
does not fit is dropped and its lines counted, and once the reader has caught up (everything
handed over before is written) a notice says how many were lost, where they are missing;
until then every batch is dropped, so that the log has one gap, not many.
"""

from __future__ import annotations

import os
import select
import stat
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

#: characters (octets, for the ASCII the log mostly is) handed over and not yet written, at most:
#: some 3,000 messages' text lines (1.4 KiB a message), on top of the pipe's own 64 KiB
BOUND = 4 * 1024 * 1024
#: octets a system call writes at most: a Linux pipe's capacity, so a reader that reads shows as
#: progress while a large batch is written
CHUNK = 64 * 1024
#: :meth:`LogWriter.wait` gives up after this many seconds in which nothing was written (the
#: reader stopped reading) ...
STALL = 1.0
#: ... or after this many in all (a reader that reads, but too slowly to wait for)
LIMIT = 5.0


class LogWriter:
    """Writes the text handed to :meth:`put` to ``stream``'s file descriptor, in order, from a
    thread of its own (started at the first put; a daemon: it never holds the process up).

    ``stream``'s encoding and error handler encode the text, as its own write would (its buffer
    is not used: a thread stuck in it would hold its lock, which the interpreter's exit then
    fails to take). ``notice(n)`` makes the line telling that ``n`` lines were dropped. A write
    that fails (OSError: the reader went away, a full disk) is given to ``on_failure``, in this
    thread, and every later line is dropped uncounted (there is no reader to tell)."""

    def __init__(
        self,
        stream: TextIO,
        notice: Callable[[int], str],
        on_failure: Callable[[OSError], None],
        *,
        bound: int | None = None,
    ) -> None:
        self.fd = stream.fileno()
        self.stream = stream
        # A write to a pipe of at most PIPE_BUF octets is all or nothing (POSIX), so pieces that
        # end at a line's end leave the reader whole lines however the writing stops (the
        # process exits with the reader stalled: this thread is a daemon); a larger one can
        # leave part of a line in the pipe.
        self._piece = select.PIPE_BUF if stat.S_ISFIFO(os.fstat(self.fd).st_mode) else CHUNK
        self.notice = notice
        self.on_failure = on_failure
        self.bound = BOUND if bound is None else bound
        self.failure: OSError | None = None
        #: lines dropped so far (a batch that did not fit)
        self.dropped = 0
        self._untold = 0  # of those, the lines no notice has told of yet
        self._waiting = 0  # characters handed over and not yet written
        self._writing = ""  # what the thread writes now
        # it encoded, and how many of those octets are written: its lines written whole are
        # counted only when asked (:attr:`unwritten`), not at each write (some 9k instructions
        # a session of the text log, counting the newlines of every batch)
        self._raw = b""
        self._raw_written = 0
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)  # something was handed over
        self._queue: deque[str | threading.Event] = deque()  # what the thread has to do
        self._idle = False  # the thread waits on _ready
        self._thread: threading.Thread | None = None
        #: (monotonic) when the thread last wrote
        self._moved = time.monotonic()
        self._gave_up_at: float | None = None  # _moved when a wait last gave up

    @property
    def done(self) -> bool:
        """Whether everything handed over is written."""
        return not self._waiting

    @property
    def unwritten(self) -> int:
        """Lines handed over and not yet written (counted when asked: a count per batch would
        cost the server more than the hand-over does)."""
        with self._lock:
            waiting = [self._writing, *(item for item in self._queue if isinstance(item, str))]
            raw, written = self._raw, self._raw_written  # (b"" until the thread encoded it)
        return sum(text.count("\n") for text in waiting) - raw.count(b"\n", 0, written)

    def put(self, text: str) -> None:
        """Have ``text`` (whole lines) written after what was handed over before; dropped (and
        its lines counted) when that would make more than ``bound`` characters wait (unless none
        waits), and from then on until everything kept is written (one gap in the log, told of
        where it is, rather than many). Never waits on the stream."""
        with self._lock:
            if self.failure is not None:
                return
            size = len(text)
            if self._untold or (self._waiting and self._waiting + size > self.bound):
                lines = text.count("\n")
                self.dropped += lines
                self._untold += lines
                return
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="smtpfake-log", daemon=True)
                try:
                    thread.start()
                except RuntimeError:
                    # the interpreter is shutting down (an atexit flush of a log whose first
                    # batch this is: Python 3.12+ starts no thread then): written here, below
                    pass
                else:
                    self._thread = thread
            elif self._idle:
                self._ready.notify()
            if self._thread is not None:
                self._waiting += size
                self._queue.append(text)
                return
        self._write_here(text)

    def wait(self, stall: float = STALL, limit: float = LIMIT) -> bool:
        """Wait until everything handed over is written (True), or give up (False) once nothing
        was written for ``stall`` seconds or after ``limit`` seconds in all. A wait after one
        that gave up, with nothing written since, gives up at once: a reader that stopped costs
        its caller one stall, not one each time."""
        if self._thread is None:
            return True
        if self._gave_up_at is not None and self._gave_up_at == self._moved and self._waiting:
            return False
        marker = threading.Event()
        with self._lock:
            self._queue.append(marker)
            self._ready.notify()
        start = time.monotonic()
        while not marker.wait(min(0.05, stall)):
            now = time.monotonic()
            if now - max(self._moved, start) >= stall or now - start >= limit:
                self._gave_up_at = self._moved
                return False
        self._gave_up_at = None
        return True

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        queue, lock = self._queue, self._lock
        while True:
            with lock:
                while not queue:
                    self._idle = True
                    self._ready.wait()
                self._idle = False
                item = queue.popleft()
                if isinstance(item, threading.Event):
                    item.set()  # a waiter's marker: everything before it is written
                    continue
                self._writing = item
            if self.failure is None:
                self._write(item)
            with self._lock:
                self._waiting -= len(item)
                self._writing = ""
                self._raw, self._raw_written = b"", 0
                if self._untold and not self._waiting and self.failure is None:
                    # caught up: what was dropped is told now, before anything handed over later
                    # (put() keeps dropping until then)
                    told = self.notice(self._untold)
                    self._untold = 0
                    self._waiting += len(told)
                    self._queue.append(told)
            self._moved = time.monotonic()

    def _write_here(self, text: str) -> None:
        """Write ``text`` in the calling thread, never waiting more than :data:`STALL` seconds
        for the reader to make room (a pipe nobody reads must not hold the exit up): pieces of at
        most PIPE_BUF octets, each once select() says the descriptor takes one without waiting."""
        stream = self.stream
        data = memoryview(text.encode(stream.encoding or "utf-8", stream.errors or "strict"))
        while data:
            try:
                if not select.select([], [self.fd], [], STALL)[1]:
                    self.dropped += text.count("\n")  # (roughly: what is left of it)
                    return
                written = os.write(self.fd, data[: select.PIPE_BUF])
            except BlockingIOError:
                continue
            except OSError as exc:
                self.failure = exc
                self.on_failure(exc)
                return
            data = data[written:]

    def _write(self, text: str) -> None:
        stream = self.stream
        raw = text.encode(stream.encoding or "utf-8", stream.errors or "strict")
        self._raw_written = 0  # (before the octets it counts: unwritten reads both unlocked)
        self._raw = raw
        data = memoryview(raw)
        piece = self._piece
        start = 0  # of raw: what is written before data
        while data:
            end = len(data)
            if end > piece:  # up to the last line's end that fits (a longer line in pieces)
                cut = raw.rfind(b"\n", start, start + piece) + 1
                end = cut - start if cut > start else piece
            try:
                written = os.write(self.fd, data[:end])
            except BlockingIOError:
                # the descriptor was made non-blocking (it is shared with the process that
                # started us, which may do so): wait until the reader makes room
                select.select([], [self.fd], [], STALL)
                continue
            except OSError as exc:
                with self._lock:
                    self.failure = exc
                self.on_failure(exc)
                return
            data = data[written:]
            start += written
            self._raw_written = start
            self._moved = time.monotonic()
