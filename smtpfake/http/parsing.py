"""Whole-message parses for ``GET /api/messages/{id}``, off the event loop SMTP runs in.

The standard library's ``email`` parser holds the GIL for long single steps on a large part (a
30 MiB attachment: regular-expression searches and joins of about 0.1 s each), so a parse in a
worker thread still stalls every SMTP reply of the loop for that long. Messages up to
``IN_THREAD_BYTES`` are parsed in a thread (their longest step is a few milliseconds); larger
ones by a worker process (:mod:`smtpfake.http.parse_worker`, started on first need, one per API
server, ended with it), whose GIL is its own: the loop only writes the bytes to its stdin, paced
like every long answer. A plain subprocess, not multiprocessing, which would re-import the
embedding program's ``__main__`` in the child.
"""

from __future__ import annotations

import asyncio
import json
import sys

from smtpfake.http.messages import Numbered, detail_bytes
from smtpfake.http.pacing import Pacer, slices

#: the largest message (bytes) parsed in a thread of this process
IN_THREAD_BYTES = 1 << 20
#: seconds the worker is given to exit when the API closes
EXIT_WAIT = 1.0


class ParseError(RuntimeError):
    """The worker process failed (a bug in the parse, or the worker died); a 500, reported."""


class Parsing:
    """Where whole-message parses run (see the module docstring)."""

    def __init__(self) -> None:
        self._worker: asyncio.subprocess.Process | None = None
        self._lock: asyncio.Lock | None = None

    async def detail(self, numbered: Numbered) -> bytes:
        """The JSON answer of ``GET /api/messages/{id}`` for ``numbered``."""
        if len(numbered.message.data) <= IN_THREAD_BYTES:
            return await asyncio.get_running_loop().run_in_executor(None, detail_bytes, numbered)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one parse at a time: the worker answers in order
            worker = self._worker
            if worker is None or worker.returncode is not None:
                worker = self._worker = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "smtpfake.http.parse_worker",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
            try:
                return await self._ask(worker, numbered)
            except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
                self._forget(worker)
                raise ParseError(f"the message parser process failed: {exc!r}") from exc
            except asyncio.CancelledError:
                self._forget(worker)  # midway through a question: its answers are out of step
                raise

    def _forget(self, worker: asyncio.subprocess.Process) -> None:
        self._worker = None
        if worker.returncode is None:
            worker.kill()

    @staticmethod
    async def _ask(worker: asyncio.subprocess.Process, numbered: Numbered) -> bytes:
        assert worker.stdin is not None and worker.stdout is not None
        message = numbered.message
        head = {
            "id": numbered.id,
            "mail_from": message.mail_from,
            "rcpt_tos": list(message.rcpt_tos),
            "mail_options": list(message.mail_options),
            "rcpt_options": [list(options) for options in message.rcpt_options],
            "session": message.session,
            "time": message.time,
            "queue_id": message.queue_id,
            "size": len(message.data),
        }
        worker.stdin.write(json.dumps(head).encode("ascii") + b"\n")
        pacer = Pacer()
        for part in slices(message.data):
            worker.stdin.write(part)
            await worker.stdin.drain()
            await pacer.tick()
        answer = json.loads(await worker.stdout.readline())
        body = await worker.stdout.readexactly(int(answer["size"]))
        if not answer["ok"]:
            raise ParseError(body.decode("utf-8", "replace"))
        return body

    async def aclose(self) -> None:
        """End the worker process, if one was started (a parse under way is abandoned)."""
        worker, self._worker = self._worker, None
        if worker is None or worker.returncode is not None:
            return
        assert worker.stdin is not None
        worker.stdin.close()
        try:
            await asyncio.wait_for(worker.wait(), EXIT_WAIT)
        except asyncio.TimeoutError:
            worker.kill()
            await worker.wait()
