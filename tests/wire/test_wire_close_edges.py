"""The record's last edges at a close, on a real loopback socket and on each event loop (issue 7):
a BDAT chunk the client's close or reset cuts short ends at that close, before its entry (as a
message cut short in DATA does); what the server's own close cuts short (message text at an idle
421, a chunk at close_after's 421, a command line at bare_lf's 521) is recorded before the
server's last reply, unfinished, and the replies the record calls delivered are the octets the
client received, in order."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from smtpfake.journal import SessionRecord
from smtpfake.server import Server

from ..support import SHARED_GRACE, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds
from .queues import SMALL, read_exactly, wait_blocked

CHUNKING = {"extensions_add": ["CHUNKING"]}


def ready(conn: Raw) -> None:
    """Greeting, EHLO, MAIL and RCPT, each answered before the next."""
    assert conn.code() == 220
    assert conn.command("EHLO client.test")[-1].startswith(b"250 ")
    assert conn.command_code("MAIL FROM:<a@x.test>") == 250
    assert conn.command_code("RCPT TO:<b@x.test>") == 250


def delivered(session: SessionRecord) -> bytes:
    """The octets the record says reached the client: its delivered replies, as sent."""
    return b"".join(
        b"".join(line.encode() + b"\r\n" for line in e.lines)
        for e in session.transcript
        if e.side == "server" and not e.note and e.delivered
    )


def tail(session: SessionRecord, count: int) -> list[tuple[str, bool, bool]]:
    return [(e.text, e.delivered, e.note) for e in session.transcript[-count:]]


def in_time_order(session: SessionRecord) -> bool:
    times = [e.time for e in session.transcript]
    return times == sorted(times)


# -- the client's close cuts a chunk short -------------------------------------------------------


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_chunk_the_clients_close_cuts_short_ends_at_the_close(fresh: Server, how: str) -> None:
    fresh.use(scenario(**CHUNKING))
    conn = Raw(fresh)
    ready(conn)
    conn.send(b"BDAT 10\r\n01234")
    time.sleep(0.1)  # the five octets are read: the close comes on its own
    if how == "reset":
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    else:
        conn.sock.shutdown(socket.SHUT_WR)
        assert conn.rest() == b""  # no reply: the chunk never ended
    conn.close()
    (session,) = ended_sessions(fresh, 1)
    closed = "(client closed the connection)" if how == "close" else "(client reset the connection)"
    assert tail(session, 3) == [
        ("BDAT 10", True, False),
        ("(chunk data, 5 of 10 octets, unfinished)", True, True),
        (closed, True, True),
    ]
    chunk, close = session.transcript[-2:]
    assert chunk.time == close.time  # the chunk ended at the close that cut it
    assert close.event
    assert {v.kind: v.time for v in session.violations} == {
        "chunk-short": close.time,
        "no-quit": close.time,
    }
    assert in_time_order(session)
    assert fresh.messages == ()


# -- the server's close cuts something short -----------------------------------------------------


def test_message_text_the_idle_421_cuts_ends_before_it(fresh: Server) -> None:
    fresh.use(scenario(idle_timeout=0.3))
    conn = Raw(fresh)
    ready(conn)
    assert conn.command("DATA")[0].startswith(b"354 ")
    conn.send(b"Subject: x\r\n\r\npart")  # the line "part" never gets its CRLF
    (idle,) = conn.reply()  # after 0.3 s of silence
    assert idle == b"421 4.4.2 smtpfake.test Error: timeout exceeded\r\n"
    conn.sock.shutdown(socket.SHUT_WR)
    received = conn.rest()
    conn.close()
    assert received == b""  # nothing after the 421
    (session,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2)
    assert tail(session, 4) == [
        ("(message data, 18 bytes, unfinished)", True, True),
        ("421 4.4.2 smtpfake.test Error: timeout exceeded", True, False),
        ("(connection closed)", True, True),
        ("(client closed the connection)", True, True),
    ]
    assert delivered(session).endswith(b"354 End data with <CR><LF>.<CR><LF>\r\n" + idle)
    assert kinds(session) == []  # the server ended it: no no-quit, nothing judged
    assert in_time_order(session)
    assert fresh.messages == ()


def test_a_chunk_close_after_cuts_ends_before_its_421(fresh: Server) -> None:
    fresh.use(scenario(close_after=0.5, **CHUNKING))
    conn = Raw(fresh)
    ready(conn)
    conn.send(b"BDAT 100 LAST\r\nabc")
    (closing,) = conn.reply()
    assert closing.startswith(b"421 4.3.2 ")
    conn.send(b"def")  # after the 421: the rest of the chunk, counted apart
    conn.sock.shutdown(socket.SHUT_WR)
    assert conn.rest() == b""
    conn.close()
    (session,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2)
    assert tail(session, 5) == [
        ("(chunk data, 3 of 100 octets, unfinished)", True, True),
        (closing.decode().rstrip("\r\n"), True, False),
        ("(connection closed)", True, True),
        # the client streamed on (it reads no reply before the chunk's end): never a line
        ("(chunk data after the close, 3 of 97 octets, unfinished)", True, True),
        ("(client closed the connection)", True, True),
    ]
    assert delivered(session).endswith(b"250 2.1.5 Ok\r\n" + closing)
    assert kinds(session) == []
    assert in_time_order(session)
    assert fresh.messages == ()


def test_a_line_the_bare_lf_521_cuts_is_recorded_before_it(fresh: Server) -> None:
    fresh.use(scenario(bare_lf="disconnect"))
    conn = Raw(fresh)
    assert conn.code() == 220
    assert conn.command("EHLO client.test")[-1].startswith(b"250 ")
    conn.send(b"NOOP\nRSE")  # one write: a bare LF, and a line begun behind it
    received = conn.rest()
    conn.close()
    assert received.startswith(b"521 ") and received.count(b"\r\n") == 1
    (session,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2)
    texts = [e.text for e in session.transcript]
    at = texts.index("NOOP")
    assert tail(session, len(texts) - at)[:4] == [
        ("NOOP", True, False),
        ("RSE", False, False),  # its last octet came before the 521 went: recorded first
        (received.decode().rstrip("\r\n"), True, False),
        ("(connection closed)", True, True),
    ]
    assert delivered(session).endswith(received)
    assert kinds(session) == ["bare-lf"]  # the cut line is not judged
    assert in_time_order(session)


# -- the client half-closes while replies wait on its reading --------------------------------------
#
# Small socket buffers (the server end's SO_SNDBUF, the client's SO_RCVBUF) make the replies of a
# few pipelined NOOPs fill them. While the client does not read, everything the server handed to
# the socket is in the two kernels' queues (SIOCOUTQ on the server's end, FIONREAD on the
# client's): measured without reading, as tests/wire/test_wire_backpressure.py does.

BIG = {"on": "noop", "reply": {"code": 250, "text": ["x" * 500] * 100}}  # 51,200 octets
#: BIG's reply as sent (a reply this long is kept shortened in the record: compared by count)
BIG_REPLY = (b"250-2.0.0 " + b"x" * 500 + b"\r\n") * 99 + b"250 2.0.0 " + b"x" * 500 + b"\r\n"


def read_to_eof(sock: socket.socket) -> bytes:
    """Every octet until the server's EOF (a read timing out fails the test)."""
    got = bytearray()
    for _ in range(100_000):
        data = sock.recv(1 << 16)
        if not data:
            return bytes(got)
        got += data
    raise AssertionError("the server kept sending")


def small_client(server: Server) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL)
    sock.settimeout(5)
    sock.connect((server.host, server.port))
    return sock


def server_octets(session: SessionRecord) -> int:
    """What the record says reached the socket: its delivered replies as sent (BIG's by its
    size: the record keeps so long a reply shortened) and the octets written of the others."""
    total = 0
    for e in session.transcript:
        if e.side != "server" or e.note:
            continue
        if not e.delivered:
            total += e.written or 0
        elif e.text.startswith("250-2.0.0 x"):
            total += len(BIG_REPLY)
        else:
            total += sum(len(line.encode()) + 2 for line in e.lines)
    return total


@pytest.mark.parametrize("fell_behind", [False, True], ids=["group-write", "one-by-one"])
def test_a_half_close_while_the_socket_is_full_gets_every_reply(
    fresh: Server, server_ends: list[int], fell_behind: bool
) -> None:
    """120 pipelined NOOPs (6 MB of replies) fill the socket; the client half-closes and reads:
    only its reading held the replies up, so its EOF is no giving up (a client that closes both
    ways with replies unread resets; it sends no FIN): every reply is answered, recorded
    delivered once the socket took it, and received; then the server closes.

    ``group-write``: the first group's replies leave in one write that meets the full socket,
    the next reply waits to be written (the state CI once hit by chance: the client got 64
    replies, then the close); ``one-by-one``: the client fell behind before, each reply is
    written alone and the EOF finds one partly in the transport."""
    fresh.use(scenario(BIG))
    with small_client(fresh) as sock:
        greeting = sock.recv(100)
        assert greeting.startswith(b"220 ") and greeting.endswith(b"\r\n")
        (server_end,) = server_ends
        before = 0
        if fell_behind:
            sock.sendall(b"NOOP\r\n" * 20)
            wait_blocked(sock, server_end)  # (the socket met full: from now on one by one)
            assert read_exactly(sock, 20 * len(BIG_REPLY)) == BIG_REPLY * 20
            before = 20
        sock.sendall(b"NOOP\r\n" * 120)
        queued = wait_blocked(sock, server_end)
        assert queued < 120 * len(BIG_REPLY)  # they filled: the test bites
        sock.shutdown(socket.SHUT_WR)
        received = read_to_eof(sock)
    assert received == BIG_REPLY * 120
    (session,) = ended_sessions(fresh, 1)
    replies = [e for e in session.transcript if e.side == "server" and not e.note]
    assert len(replies) == 1 + before + 120 and all(e.delivered for e in replies)
    assert server_octets(session) == len(greeting) + (before + 120) * len(BIG_REPLY)
    closed = [e for e in session.transcript if e.event]
    assert [e.text for e in closed] == ["(client closed the connection)"]
    assert replies[-1].time > closed[0].time  # the last replies were taken after the EOF
    assert session.transcript[-1] is replies[-1]  # (the server's close after it is no entry)
    # it read every reply, then had closed without QUIT, as any half-close without it
    assert kinds(session) == ["pipelining-without-extension", "no-quit"]
    assert in_time_order(session)


def test_a_dripped_reply_the_clients_eof_cuts_is_written_as_far_as_the_record_says(
    fresh: Server, server_ends: list[int]
) -> None:
    """A reply dripped in pieces larger than the socket takes, the client not reading (it fell
    behind before: each piece is written alone): its EOF while a piece waits in the transport
    gives the reply up (a fault paces it). The record's ``written`` is what the socket had
    taken, and the server's close sends no more (it once flushed the rest of the piece): the
    client receives exactly that."""
    piece = 20_000
    dripped = {**BIG, "on": "rset", "drip": {"bytes": piece, "interval": 0.05}}
    fresh.use(scenario(BIG, dripped))
    with small_client(fresh) as sock:
        greeting = sock.recv(100)
        assert greeting.startswith(b"220 ")
        (server_end,) = server_ends
        sock.sendall(b"NOOP\r\n" * 5)
        wait_blocked(sock, server_end)  # (the socket met full: from now on one by one)
        assert read_exactly(sock, 5 * len(BIG_REPLY)) == BIG_REPLY * 5
        sock.sendall(b"RSET\r\n")
        queued = wait_blocked(sock, server_end)
        assert queued < piece  # the first piece waits in the transport: the test bites
        sock.shutdown(socket.SHUT_WR)
        received = read_to_eof(sock)
    (session,) = ended_sessions(fresh, 1)
    rset = [e for e in session.transcript if e.side == "server" and not e.note][-1]
    assert (rset.delivered, rset.written) == (False, len(received))
    assert BIG_REPLY.startswith(received)
    assert server_octets(session) == len(greeting) + 5 * len(BIG_REPLY) + len(received)
    assert kinds(session) == ["pipelining-without-extension"]  # no no-quit: it left waiting
    assert in_time_order(session)
