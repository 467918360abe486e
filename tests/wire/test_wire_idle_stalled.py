"""Idle timers while a pipelined group's replies are stuck in a full socket (the client reads
nothing), on a real loopback socket and each loop (fresh10 F1). A group longer than the wire
carries out in one turn of the loop (protocol.BATCHES_PER_TURN) goes on reply by reply as the
socket takes them; meanwhile the server waits on the client's reading, not on itself:

- the scenario's ``idle_timeout`` ends the connection without waiting on the client (README,
  The record, "Replies the client never got whole"): its 421 not delivered, nothing written;
- the server's own limit (no ``idle_timeout``) is restarted by the group's lines and the stall,
  not left running from the reply before them (README, the idle_timeout row)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from smtpfake.server import Server
from smtpfake.wire import protocol

from ..support import SHARED_GRACE, scenario
from ..support.waits import ended_sessions, wait_until
from .conftest import LOOPS
from .test_wire_close_edges import (
    BIG,
    BIG_REPLY,
    in_time_order,
    read_to_eof,
    server_octets,
    small_client,
)


def said_ehlo(sock: socket.socket) -> None:
    """Read the greeting, say EHLO and read its whole reply (a bounded loop)."""
    sock.recv(100)
    sock.sendall(b"EHLO c.test\r\n")
    ehlo = b""
    for _ in range(1000):
        if ehlo.endswith(b"250 HELP\r\n"):
            return
        ehlo += sock.recv(4096)
    raise AssertionError(f"no whole EHLO reply: {ehlo!r}")


#: NOOPs in one write: more than the wire carries out in one turn of the loop
GROUP = protocol.BATCHES_PER_TURN * 3


def test_the_scenario_s_idle_timeout_ends_a_group_the_client_leaves_unread(
    fresh: Server, server_ends: list[int]
) -> None:
    fresh.use(scenario(BIG, idle_timeout=0.5))
    with small_client(fresh) as sock:
        greeting = sock.recv(100)
        sock.sendall(b"NOOP\r\n" * GROUP)

        def timer_said() -> bool:
            (live,) = fresh.sessions
            return any(e.text.startswith("421 ") for e in live.transcript)

        # the client reads nothing meanwhile (before the fix: the server's own 300 s ran)
        wait_until(timer_said, 10.0, "the idle timeout's 421 while the client reads nothing")
        received = read_to_eof(sock)
    (session,) = ended_sessions(fresh, 1)
    assert len(received) < len(BIG_REPLY) * GROUP
    assert server_octets(session) == len(greeting) + len(received)
    server = [e for e in session.transcript if e.side == "server"]
    (at,) = [i for i, e in enumerate(server) if e.text.startswith("421 ")]
    last = server[at : at + 2]  # (the lines never read are recorded after: the drain)
    assert (last[0].text, last[0].delivered, last[0].written, last[0].rule) == (
        "421 4.4.2 smtpfake.test Error: timeout exceeded",
        False,
        0,
        "server.idle",
    )
    assert (last[1].text, last[1].note) == ("(connection closed)", True)
    assert in_time_order(session)


@pytest.fixture(params=LOOPS)
def own_limit(request: pytest.FixtureRequest, server_ends: list[int]) -> Iterator[Server]:
    """A server whose own idle limit is 1 s (no idle_timeout in the scenario)."""
    with Server(
        scenario(BIG), loop=request.param, idle_timeout=1.0, grace_period=SHARED_GRACE
    ) as server:
        yield server


def test_the_server_s_own_limit_counts_from_the_group_not_the_reply_before(
    own_limit: Server,
) -> None:
    with small_client(own_limit) as sock:
        said_ehlo(sock)
        time.sleep(0.6)  # (the limit, left running from the EHLO's reply, would end 0.4 s on)
        sock.sendall(b"NOOP\r\n" * GROUP)

        def closed() -> bool:
            (live,) = own_limit.sessions
            return any(e.text.startswith("(connection closed") for e in live.transcript)

        wait_until(closed, 10.0, "the server's own limit while the client reads nothing")
        read_to_eof(sock)
    (session,) = ended_sessions(own_limit, 1)
    last_line = max(e.time for e in session.transcript if e.side == "client" and not e.note)
    (close,) = [e for e in session.transcript if e.text.startswith("(connection closed")]
    assert (close.text, close.note) == ("(connection closed: idle timeout)", True)
    # a lower bound only (a timer never rings early; the loop's poll is a millisecond)
    assert close.time - last_line >= 1.0 - 0.002


#: pipelined RSETs, each answered after DELAY: the group's replies take 1.5 s to go out
PACED_GROUP, DELAY = 15, 0.1


def test_the_server_s_own_limit_leaves_a_group_whose_replies_keep_coming(
    own_limit: Server,
) -> None:
    # fresh18 F1: with only the server's own 1 s limit, nothing restarted it while a
    # pipelined group's replies went out, reply after reply (there: 60,000 RSETs, the
    # server's own work on them over 1 s; here each paced by a delay), and it cut the
    # session as idle mid-group; each reply written restarts it (the idle_timeout row)
    own_limit.use(scenario({"on": "rset", "delay": DELAY}))
    with small_client(own_limit) as sock:
        said_ehlo(sock)
        sock.sendall(b"RSET\r\n" * PACED_GROUP + b"QUIT\r\n")
        got = read_to_eof(sock)
    assert got == b"250 2.0.0 Ok\r\n" * PACED_GROUP + b"221 2.0.0 Bye\r\n"
    (session,) = ended_sessions(own_limit, 1)
    server = [e.text for e in session.transcript if e.side == "server"]
    assert server[-2:] == ["221 2.0.0 Bye", "(connection closed)"]  # (not: idle timeout)


def test_the_scenario_s_idle_timeout_leaves_a_client_that_reads_slowly(
    fresh: Server, server_ends: list[int]
) -> None:
    """A small window behind a big group: the client reads all along, the socket taking a little
    at a time, and the transport empties only seconds later. Each time the socket took some, the
    timer started over (README, the idle_timeout row: it runs while the socket takes nothing
    more); before, it ran from when the socket filled and cut the client (fresh18 F5)."""
    fresh.use(scenario(BIG, idle_timeout=0.5))
    count = 60  # 3 MB of replies, read 8 KiB every 2 ms or so: about 1 MB/s, some 3 s
    with small_client(fresh) as sock:
        greeting = sock.recv(100)
        sock.sendall(b"NOOP\r\n" * count + b"QUIT\r\n")
        time.sleep(0.3)  # the socket fills, the timer runs; then the client reads all along
        got = bytearray()
        for _ in range(100_000):
            data = sock.recv(8192)
            if not data:
                break
            got += data
            time.sleep(0.002)
        received = bytes(got)
    (session,) = ended_sessions(fresh, 1)
    assert received.count(BIG_REPLY) == count
    assert received.endswith(b"221 2.0.0 Bye\r\n")
    assert server_octets(session) == len(greeting) + len(received)
    texts = [e.text for e in session.transcript]
    assert not [t for t in texts if t.startswith("421 ")]
    assert texts[-2:] in (
        ["(connection closed)", "(client closed the connection)"],
        ["(client closed the connection)", "(connection closed)"],
    )


@pytest.mark.parametrize(
    "pacing",
    [{"drip": {"bytes": 1, "interval": 0.1}}, {"fragment": {"bytes": 2, "interval": 0.2}}],
    ids=["drip", "fragment"],
)
def test_the_server_s_own_limit_leaves_a_reply_it_paces_itself(
    own_limit: Server, pacing: dict[str, object]
) -> None:
    # fresh21 F2: the server's own 1 s limit cut a reply the server dripped over 1.3-1.4 s,
    # mid-line, as the client's idle timeout; each piece written restarts it (its bound is
    # the server's silence: a delay or hang longer than it, which writes nothing, still ends)
    own_limit.use(scenario({"on": "rset", **pacing}))
    with small_client(own_limit) as sock:
        said_ehlo(sock)
        sock.sendall(b"RSET\r\n")
        got = b""
        for _ in range(100):  # (one piece a read, about; bounded)
            got += sock.recv(100)
            if got.endswith(b"\r\n") or not got:
                break
        sock.sendall(b"QUIT\r\n")
        got += read_to_eof(sock)
    assert got == b"250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n"
    (session,) = ended_sessions(own_limit, 1)
    server = [e.text for e in session.transcript if e.side == "server"]
    assert server[-3:] == ["250 2.0.0 Ok", "221 2.0.0 Bye", "(connection closed)"]
