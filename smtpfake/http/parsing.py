"""Whole-message parses for ``GET /api/messages/{id}``, off the event loop SMTP runs in.

The standard library's ``email`` parser holds the GIL for long single steps on a large part (a
30 MiB attachment: regular-expression searches and joins of about 0.1 s each), so a parse in a
worker thread still stalls every SMTP reply of the loop for that long. Messages up to
``IN_THREAD_BYTES`` are parsed in a thread (their longest step is a few milliseconds); larger
ones in a worker process (started on first need, one per API server, closed with it), whose GIL
is its own: the loop pays only for handing the bytes over.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from smtpfake.http.messages import Numbered, detail

#: the largest message (bytes) parsed in a thread of this process
IN_THREAD_BYTES = 1 << 20


def detail_bytes(numbered: Numbered) -> bytes:
    """``messages.detail`` as the JSON answer's bytes (ASCII, indented as every answer)."""
    return json.dumps(detail(numbered), indent=1).encode("ascii") + b"\n"


class Parsing:
    """Where whole-message parses run (see the module docstring)."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def detail(self, numbered: Numbered) -> bytes:
        loop = asyncio.get_running_loop()
        if len(numbered.message.data) <= IN_THREAD_BYTES:
            return await loop.run_in_executor(None, detail_bytes, numbered)
        if self._pool is None:
            # spawn, not fork: this process runs threads (the API's loop, SMTP's)
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        return await loop.run_in_executor(self._pool, detail_bytes, numbered)

    def close(self) -> None:
        """Stop the worker process, if one was started (a parse under way is abandoned)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
