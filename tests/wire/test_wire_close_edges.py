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
    conn.send(b"def")  # after the 421: no chunk of this transaction, a line begun
    conn.sock.shutdown(socket.SHUT_WR)
    assert conn.rest() == b""
    conn.close()
    (session,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2)
    assert tail(session, 5) == [
        ("(chunk data, 3 of 100 octets, unfinished)", True, True),
        (closing.decode().rstrip("\r\n"), True, False),
        ("(connection closed)", True, True),
        ("def", False, False),  # cut short by the client's own close: no line ending
        ("(client closed the connection)", True, True),
    ]
    assert delivered(session).endswith(b"250 2.1.5 Ok\r\n" + closing)
    assert kinds(session) == []  # §3.8: the command after an unasked 421 is forgiven
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

BIG = {"on": "noop", "reply": {"code": 250, "text": ["x" * 500] * 100}}  # 51,200 octets


def read_to_eof(sock: socket.socket) -> bytes:
    """Every octet until the server's EOF (a read timing out fails the test)."""
    got = bytearray()
    for _ in range(100_000):
        data = sock.recv(1 << 16)
        if not data:
            return bytes(got)
        got += data
    raise AssertionError("the server kept sending")


def test_a_half_close_behind_unread_replies_gets_them_and_the_close(fresh: Server) -> None:
    """80 pipelined NOOPs whose replies (4 MB) fill the socket's buffers, then SHUT_WR, then the
    client reads: the server closes once what it wrote is taken (it once waited for ever: the
    replaced batch's cancelled wait cancelled the close's wait with it), and the replies the
    record calls delivered are exactly the octets the client got."""
    fresh.use(scenario(BIG))
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((fresh.host, fresh.port))
        sock.settimeout(5)
        sock.sendall(b"NOOP\r\n" * 80)
        time.sleep(0.2)  # the server has written what the buffers take, and waits
        sock.shutdown(socket.SHUT_WR)
        received = read_to_eof(sock)
    (session,) = ended_sessions(fresh, 1)
    replies = [e for e in session.transcript if e.side == "server" and not e.note]
    answered = [e.delivered for e in replies[1:]]  # (after the greeting)
    assert 0 < answered.count(True) < 80 and answered.index(False) == answered.count(True)
    # (a reply this long is kept shortened in the record: compared by count)
    reply = b"250-2.0.0 " + b"x" * 500 + b"\r\n"
    reply = reply * 99 + reply.replace(b"-", b" ", 1)
    greeting = replies[0].text.encode() + b"\r\n"
    assert received == greeting + reply * answered.count(True)
    assert [(e.delivered, e.written) for e in replies[answered.count(True) + 1 :]] == [(False, 0)]
    close = session.transcript[-1]
    assert close.text == "(client closed the connection)" and close.event
    assert in_time_order(session)
