"""A reply's time is never later than the client could have read it (fresh13 F2): the server
reads its clock before the write, not after (a server thread descheduled between the two made
``Retry.delay`` less than the client waited). Made deterministic by a clock that is a witness:
read while the client's socket holds unread octets, it jumps a minute ahead (a reading taken
after the write, however soon, reads late), and the client reads each reply only once the
server recorded it. Every way a whole reply goes out: alone (the fast path), a pipelined
group's one write, after a delay (a task), before a close; and a reply longer than the socket
buffers, whose end the transport holds until the client reads (stamped at the last reading that
saw it held).
"""

from __future__ import annotations

import os
import re
import select
import socket
import threading

import pytest

from smtpfake.journal import SessionRecord
from smtpfake.queries import retries
from smtpfake.server import Server

from ..support import SHARED_GRACE, TIMEOUT, scenario
from ..support.waits import ended_sessions, wait_until
from .conftest import LOOPS
from .queues import SMALL

START = 1_800_000_000.0
LATE = 60.0


class Witness:
    """A clock that jumps ``LATE`` seconds each time it is read while the client's socket has
    octets the client has not read: what the server stamps while the client could already read
    its reply is a minute late."""

    def __init__(self) -> None:
        self.client: socket.socket | None = None
        self._now = START
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            client = self.client
            watched = client is not None and client.fileno() >= 0
            if watched and select.select([client], [], [], 0)[0]:
                self._now += LATE
            return self._now

    def connect(self, server: Server) -> socket.socket:
        """A client socket, watched from before it connects (the greeting is written at once)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT)
        self.client = sock
        sock.connect(server.address)
        return sock


def _replies(server: Server) -> int:
    sessions = server.sessions
    return sum(e.side == "server" and e.text[:3].isdigit() for e in sessions[-1].transcript)


def _read(server: Server, sock: socket.socket, count: int, replies: int = 1) -> None:
    """Read ``replies`` replies, only once the server recorded ``count`` in all (in the session
    open now): until then they wait, unread, in the client's socket."""
    wait_until(lambda: server.sessions and _replies(server) >= count, TIMEOUT, f"{count} replies")
    data = b""
    for _ in range(100):
        if len(re.findall(rb"^[0-9]{3} .*\r\n", data, re.M)) >= replies:
            return
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    raise AssertionError(data)


def _reply_times(record: SessionRecord) -> list[tuple[str, float]]:
    return [(e.text[:3], e.time) for e in record.transcript if e.side == "server"]


@pytest.mark.parametrize("loop", LOOPS)
def test_a_421_greeting_is_stamped_before_the_client_had_it(loop: str) -> None:
    witness = Witness()
    with Server(
        "421-at-greeting-once", loop=loop, clock=witness, grace_period=SHARED_GRACE
    ) as server:
        first = witness.connect(server)
        _read(server, first, 1)
        first.close()
        second = witness.connect(server)
        _read(server, second, 1)
        second.sendall(b"QUIT\r\n")
        _read(server, second, 2)
        second.close()
        failed, retry = ended_sessions(server, 2, TIMEOUT)
    assert _reply_times(failed)[0] == ("421", failed.started)  # the clock had not jumped yet
    [got] = retries([failed, retry])
    assert got.delay == retry.started - failed.started
    assert _reply_times(retry)[0] == ("220", retry.started)


@pytest.mark.parametrize("loop", LOOPS)
def test_every_way_a_whole_reply_goes_out_is_stamped_before_the_write(loop: str) -> None:
    witness = Witness()
    delayed = scenario({"on": "noop", "delay": 0.01})
    with Server(delayed, loop=loop, clock=witness, grace_period=SHARED_GRACE) as server:
        sock = witness.connect(server)
        _read(server, sock, 1)  # the greeting: alone, the fast path
        sock.sendall(b"EHLO client.test\r\n")
        _read(server, sock, 2)
        sock.sendall(b"RSET\r\nRSET\r\n")  # one read: the replies leave in one write
        _read(server, sock, 4, 2)
        sock.sendall(b"NOOP\r\n")  # after a pause: written by a task
        _read(server, sock, 5)
        sock.sendall(b"QUIT\r\n")  # the 221, then the close
        _read(server, sock, 6)
        sock.close()
        [record] = ended_sessions(server, 1, TIMEOUT)
    # the client read each reply only after the server recorded it: a reading after the write
    # would be a minute late; the close, stamped after the 221 was written, is
    assert _reply_times(record)[:6] == [
        ("220", START),
        ("250", START),
        ("250", START),
        ("250", START),
        ("250", START),
        ("221", START),
    ]
    assert record.ended is not None and record.ended > START


MARK = b"250 end-of-the-long-reply\r\n"
#: a reply some 48 kB long: what the small socket buffers hold is a fraction of it
LONG = scenario(
    {
        "on": "noop",
        "reply": {
            "code": 250,
            "enhanced": "none",
            "text": ["x" * 480] * 99 + [MARK[4:-2].decode()],
        },
    }
)


class TailWitness(Witness):
    """Jumps while the client's socket holds the long reply's last line, unread."""

    def now(self) -> float:
        with self._lock:
            client = self.client
            if client is not None and client.fileno() >= 0:
                # a peek that never waits: the client's socket has a timeout, so its own recv
                # waits when the client's read took the octets between a select and the peek
                # (the server's loop then stood still: seen under load). A duplicate without a
                # timeout says "nothing" at once instead.
                with socket.socket(fileno=os.dup(client.fileno())) as peek:
                    peek.setblocking(False)
                    try:
                        held = peek.recv(1 << 17, socket.MSG_PEEK)
                    except BlockingIOError:
                        held = b""
                if held.endswith(MARK):
                    self._now += LATE
            return self._now


@pytest.mark.parametrize("loop", LOOPS)
def test_a_reply_the_socket_took_later_is_stamped_before_the_client_had_its_end(
    loop: str, server_ends: list[int]
) -> None:
    """A reply longer than the socket buffers: the transport holds its last octets until the
    client reads; it is stamped at the last reading at which the server saw them still held."""
    witness = TailWitness()
    with Server(LONG, loop=loop, clock=witness, grace_period=SHARED_GRACE) as server:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL)
        sock.settimeout(TIMEOUT)
        witness.client = sock
        sock.connect(server.address)
        _read(server, sock, 1)
        sock.sendall(b"EHLO client.test\r\n")
        _read(server, sock, 2)
        sock.sendall(b"NOOP\r\n")
        size = sum(len(line) + 6 for line in ["x" * 480] * 99) + len(MARK)
        left = size - len(MARK)  # all but the last line: it waits, unread, once it came
        for _ in range(10_000):
            if not left:
                break
            chunk = sock.recv(min(left, 1 << 16))
            assert chunk
            left -= len(chunk)
        assert left == 0
        wait_until(lambda: _replies(server) >= 3, TIMEOUT, "the long reply recorded")
        assert sock.recv(len(MARK), socket.MSG_PEEK) == MARK
        times = _reply_times(server.sessions[-1])
        sock.close()
    assert times[2] == ("250", START)
