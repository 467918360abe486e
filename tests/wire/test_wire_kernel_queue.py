"""The slow-reader check counts the kernel's send queue (8588fb4, fresh20 F1): on loopback that
queue grows to megabytes and a socket is writable again only once a third of it went, so the
transport's buffer can stay the same for seconds while the client reads all along. The timer of
a client that does not read its replies starts over when what it has not taken went down: the
transport's buffers and the kernel's send queue (protocol._kernel_unsent, Linux's SIOCOUTQ).

- the reading itself, on a real loopback socket under each loop's own transport: what a peer
  that does not read left queued, falling as it reads;
- the wire's use of it, the kernel's queue read through that seam: it falls, the transport's
  buffer the same, and the idle timer starts over; it stays, and the timer ends the session."""

from __future__ import annotations

import asyncio
import socket
import sys
import termios
from collections.abc import Callable
from typing import cast

import pytest

from smtpfake.engine.session import IDLE_TIMER
from smtpfake.server import Server
from smtpfake.wire import loops, protocol

from ..support import scenario
from ..support.waits import ended_sessions, wait_until
from .conftest import LOOPS
from .queues import SMALL, queued
from .test_wire_close_edges import BIG, small_client

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the kernel's send queue is read on Linux only"
)

#: what the loop writes to a peer that does not read: more than the peer's receive buffer
#: takes (SMALL, doubled), less than the writer's send buffer (SENDER, doubled), so all of it
#: is in the two kernels and the transport holds none
WRITTEN, SENDER = 48 * 1024, 1 << 16


async def _queue_readings(reader: socket.socket, writer: socket.socket) -> list[int]:
    """The writer's transport sends WRITTEN octets to ``reader``, which reads nothing, then all
    it holds at each step: the kernel's queue as protocol._kernel_unsent reads it each time it
    settled (with the octets in the reader's kernel and those read, it makes WRITTEN)."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=writer)
    readings: list[int] = []
    read = 0
    try:
        transport.write(b"x" * WRITTEN)
        for _ in range(WRITTEN // 1024 + 2):  # (each step reads at least one octet)
            for _ in range(500):  # until the queues settle (ACKs and window updates): <= 5 s
                unsent = protocol._kernel_unsent(transport)
                # (a moment before it settles: octets the reader's kernel holds and has not
                # acknowledged yet are in both, for SIOCOUTQ; octets on their way in neither)
                if unsent + queued(reader, termios.FIONREAD) + read == WRITTEN:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError(f"the queue read {unsent}, {read} read, of {WRITTEN}")
            assert transport.get_write_buffer_size() == 0  # (the kernels hold all of it)
            readings.append(unsent)
            if read == WRITTEN:
                return readings
            # what the reader's kernel holds (one read: on loopback the window update it sends
            # has the writer's kernel send more at once, which a second read would take too)
            read += len(reader.recv(1 << 16))
        raise AssertionError(f"{read} read of {WRITTEN}")
    finally:
        transport.abort()


@linux_only
@pytest.mark.parametrize("loop", LOOPS)
def test_the_kernel_queue_reading_is_what_a_peer_that_does_not_read_left(loop: str) -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL)  # (the peer's: inherited)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        writer = socket.socket()
        writer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SENDER)
        writer.connect(listener.getsockname())
        reader, _ = listener.accept()
    with reader:
        reader.setblocking(False)
        readings = loops.run(_queue_readings(reader, writer), loop)
    # the peer left most of it queued in the writer's kernel (its own holds SMALL's double at
    # most); each time it read, the queue went down, to nothing once it read all
    assert readings[0] >= WRITTEN - 4 * SMALL
    assert readings == sorted(readings, reverse=True)
    assert len(set(readings)) >= 3
    assert readings[-1] == 0


# -- the wire: the idle timer of a client that does not read its replies ---------------------------

IDLE = 0.3
#: NOOPs in one write: BIG's replies fill the small socket (the server_ends fixture) many times
COUNT = 8
#: what the client has not taken when the socket fills, and how much less at each fall
START, STEP = 1_000_000, 5_000


#: Wire._ring
Ring = Callable[[protocol.Wire, str], None]


class KernelQueue:
    """protocol._kernel_unsent as the test tells: what the client has not taken (the transport's
    buffer and this queue: Wire._waiting) is START when the socket fills and STEP less at each
    of the idle timer's first ``falls`` ends (readings in Wire._ring), the same otherwise. It
    notes the transport's buffer at each end and what the end did: start the timer over, or not
    (it ended the session)."""

    def __init__(self, falls: int) -> None:
        self.falls = falls
        self.fell = 0
        self.at_end = False
        self.buffers: list[int] = []  # the transport's, at each end of the timer
        self.found: list[bool] = []  # at each end: the client took some (the timer starts over)

    def __call__(self, transport: asyncio.BaseTransport | None) -> int:
        assert transport is not None
        # (uvloop's transports implement asyncio.Transport without subclassing it)
        buffer = cast(asyncio.Transport, transport).get_write_buffer_size()
        if self.at_end:
            self.buffers.append(buffer)
            self.fell = min(len(self.buffers), self.falls)
        return START - STEP * self.fell - buffer

    def watch(self, ring: Ring) -> Ring:
        """Wire._ring, telling the queue it is read at an end of the idle timer (a ring that reads
        none is an early one: the deadline moved on) and noting whether the timer runs again."""

        def at_an_end(wire: protocol.Wire, name: str) -> None:
            ends = len(self.buffers)
            self.at_end = name == IDLE_TIMER
            try:
                ring(wire, name)
            finally:
                self.at_end = False
            if len(self.buffers) > ends:
                self.found.append(IDLE_TIMER in wire._timers)

        return at_an_end


@pytest.mark.parametrize("falls", [0, 1, 3])
def test_the_idle_timer_starts_over_while_the_kernel_queue_falls(
    fresh: Server,
    server_ends: list[int],
    monkeypatch: pytest.MonkeyPatch,
    falls: int,
) -> None:
    """The client reads nothing: the transport's buffer stays the same (once the socket took
    what it could after it filled). The kernel's queue, read through the seam, falls ``falls``
    times (a client reading slowly), then stays (it stopped). Each time the timer ends after a
    fall it starts over; at the first end with nothing taken the session is timed out (its
    421), not before. Before 8588fb4 the queue was never read: each session was cut at the
    first end at which the transport's buffer had not gone down."""
    kernel = KernelQueue(falls)
    monkeypatch.setattr(protocol, "_kernel_unsent", kernel)
    monkeypatch.setattr(protocol.Wire, "_ring", kernel.watch(protocol.Wire._ring))
    fresh.use(scenario(BIG, idle_timeout=IDLE))
    with small_client(fresh) as sock:
        assert sock.recv(100).startswith(b"220 ")
        sock.sendall(b"NOOP\r\n" * COUNT)

        def timer_said() -> bool:
            (live,) = fresh.sessions
            return any(e.text.startswith("421 ") for e in live.transcript)

        wait_until(timer_said, 10.0 + falls * IDLE, "the idle timeout's 421")
        (session,) = ended_sessions(fresh, 1, timeout=5.0)
    # the timer started over at each end after a fall, and ended the session at the next one
    assert kernel.found == [True] * falls + [False]
    # the queue was read at each end, and it alone fell: the transport's buffer the same
    assert len(kernel.buffers) == falls + 1
    assert set(kernel.buffers) == {kernel.buffers[0]} and kernel.buffers[0] > 0, kernel.buffers
    (timeout,) = [e for e in session.transcript if e.text.startswith("421 ")]
    assert (timeout.rule, timeout.delivered) == ("server.idle", False)
