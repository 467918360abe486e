"""Long answers written piece by piece, giving the event loop back between pieces.

The API shares its event loop with SMTP (``smtpfake serve``), so an answer built in one go (a
listing of 10,000 messages, a 30 MiB download) would hold every SMTP reply until it is done.
:class:`Pacer` yields to the loop whenever ``BUDGET`` seconds of work have passed since the last
yield; :class:`ChunkedAnswer` buffers what is written and sends it in ``CHUNK``-byte writes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

from aiohttp import web

#: the longest stretch (seconds) an answer works before letting SMTP sessions run
BUDGET = 0.004
#: bytes per write of a long answer
CHUNK = 256 * 1024


class Pacer:
    """``await pacer.tick()`` in a loop: a no-op until ``budget`` seconds of work have passed,
    then one turn of the event loop (``asyncio.sleep(0)``: ready callbacks and socket events
    run before this answer goes on)."""

    def __init__(self, budget: float = BUDGET) -> None:
        self.budget = budget
        self._since = time.monotonic()

    async def tick(self) -> None:
        if time.monotonic() - self._since >= self.budget:
            await asyncio.sleep(0)
            self._since = time.monotonic()


def slices(data: bytes, size: int = CHUNK) -> Iterator[memoryview]:
    """``data`` in ``size``-byte views (no copies)."""
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield view[start : start + size]


class ChunkedAnswer:
    """A streamed answer (chunked transfer coding): :meth:`send` text or bytes as made, each
    buffered up to ``CHUNK`` bytes; :meth:`finish` sends the rest. Every send paces itself.

    A client that leaves mid-answer raises ConnectionResetError from :meth:`send`; the callers
    (:meth:`send_all`, ``listings.send``) end quietly then."""

    def __init__(self, request: web.Request, content_type: str, **headers: str) -> None:
        self.request = request
        self.response = web.StreamResponse(
            headers={"Content-Type": content_type, "Cache-Control": "no-store", **headers}
        )
        self.pacer = Pacer()
        #: HEAD (RFC 9110 §9.3.2): the same headers, no body; sends are dropped
        self.head_only = request.method == "HEAD"
        self._parts: list[bytes] = []
        self._size = 0

    async def start(self, length: int | None = None) -> None:
        """Send the status line and headers (``length``: a Content-Length, else chunked)."""
        if length is not None:
            self.response.content_length = length
        elif not self.head_only:
            self.response.enable_chunked_encoding()
        await self.response.prepare(self.request)

    async def send(self, part: str | bytes | memoryview) -> None:
        if self.head_only:
            return
        data = part.encode("ascii") if isinstance(part, str) else bytes(part)
        self._parts.append(data)
        self._size += len(data)
        if self._size >= CHUNK:
            await self._flush()
        await self.pacer.tick()

    async def _flush(self) -> None:
        if self._parts:
            data = b"".join(self._parts)
            self._parts.clear()
            self._size = 0
            await self.response.write(data)

    async def finish(self) -> web.StreamResponse:
        await self._flush()
        await self.response.write_eof()
        return self.response

    async def send_all(self, body: bytes) -> web.StreamResponse:
        """The whole answer: ``body`` with its Content-Length, in ``CHUNK``-byte writes; a
        client that leaves midway ends it quietly."""
        try:
            await self.start(len(body))
            for part in slices(body) if not self.head_only else ():
                await self.send(part)
            return await self.finish()
        except ConnectionResetError:
            return self.response

    def cut(self) -> None:
        """Close the connection now: an answer that cannot be finished must not look whole."""
        self.response.force_close()
        transport = self.request.transport
        if transport is not None:
            transport.abort()
