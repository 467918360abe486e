"""A Server-Sent Events subscriber for tests: a thread reading ``GET .../events`` into a list."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable
from typing import Any

Got = list[dict[str, Any]]


class Stream:
    """A subscriber to ``url`` in a thread, subscribed when made (the stream said hello): each
    event's JSON into :attr:`got`, until ``stop(got)`` holds, the stream ends, or ``timeout``
    seconds pass without a byte."""

    def __init__(self, url: str, stop: Callable[[Got], bool], timeout: float) -> None:
        self.got: Got = []
        self.timeout = timeout
        self._stop = stop
        self._ready = threading.Event()
        self._changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self.thread.start()
        assert self._ready.wait(timeout), "the stream never said hello"

    def _read(self, url: str) -> None:
        with urllib.request.urlopen(url, timeout=self.timeout) as resp:
            assert resp.headers["Content-Type"] == "text/event-stream"
            kind = ""
            for raw in resp:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[len("event: ") :]
                elif line.startswith("data: ") and kind == "hello":
                    self._ready.set()  # subscribed: what happens from now on is ours
                elif line.startswith("data: "):
                    with self._changed:
                        self.got.append(json.loads(line[len("data: ") :]))
                        self._changed.notify_all()
                    if self._stop(self.got):
                        return

    def wait_for(self, predicate: Callable[[Got], bool]) -> bool:
        """Whether ``predicate(got)`` held within the timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.got), self.timeout)

    def join(self) -> Got:
        """The events, once the reader stopped (it must, within the timeout)."""
        self.thread.join(self.timeout)
        assert not self.thread.is_alive(), f"the stream did not end: {self.got[-3:]}"
        return self.got
