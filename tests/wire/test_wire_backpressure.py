"""A client that stops reading its replies, on a real loopback socket and each loop: the session
neither stalls nor records as delivered a reply the socket never took (README "The record").

Small socket buffers (the server's send buffer, the client's receive buffer) make a few
thousand pipelined NOOPs fill them. While the client does not read, everything the server handed
to the socket is in the two kernels' queues, measured without reading (Linux's SIOCOUTQ on the
server's end, FIONREAD on the client's): the record's delivered octets must be exactly that.
"""

from __future__ import annotations

import socket
import sys
import termios
import time

import pytest

from smtpfake.journal_limits import JournalLimits
from smtpfake.server import Server

from ..support.waits import ended_sessions
from .queues import SMALL, queued, read_exactly, wait_blocked
from .test_loops import HAVE_UVLOOP

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="queue sizes by Linux ioctls")

LOOPS = ["asyncio"] + (["uvloop"] if HAVE_UVLOOP else [])
OK = b"250 2.0.0 Ok\r\n"
#: NOOPs a round: their replies (14 octets each) are several times what both small buffers hold
ROUND = 3000


@pytest.mark.parametrize("loop", LOOPS)
def test_a_client_that_stops_reading_gets_every_reply_and_the_record_is_the_wire(
    loop: str, server_ends: list[int]
) -> None:
    with Server(loop=loop, journal_limits=JournalLimits(entries=100_000)) as server:
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL)
        client.settimeout(5)
        client.connect((server.host, server.port))
        assert client.recv(100).startswith(b"220")
        client.sendall(b"EHLO c.test\r\n")
        assert read_exactly(client, 1).startswith(b"250")
        time.sleep(0.05)
        assert queued(client, termios.FIONREAD) == 0  # (the whole EHLO reply was read)
        (server_end,) = server_ends

        # The first round: the buffers fill, the server waits; then every reply comes.
        client.sendall(b"NOOP\r\n" * ROUND)
        assert wait_blocked(client, server_end) < ROUND * len(OK)  # they filled: the test bites
        first = read_exactly(client, ROUND * len(OK))
        assert first == OK * ROUND

        # The second: again unread; then the client closes (a reset: octets unread).
        client.sendall(b"NOOP\r\n" * ROUND)
        handed = wait_blocked(client, server_end)
        assert handed < ROUND * len(OK)
        client.close()

        (session,) = ended_sessions(server, 1, timeout=5)
        oks = [e for e in session.transcript if not e.note and e.text == OK[:-2].decode()]
        delivered = [e for e in oks if e.delivered]
        written = sum(e.written or 0 for e in oks if not e.delivered)
        # every octet the record calls written is one the socket took, and no more
        assert len(delivered) * len(OK) + written == len(first) + handed
        assert [e.delivered for e in oks] == [True] * len(delivered) + [False] * (
            len(oks) - len(delivered)
        )
        assert server.errors == []
