"""A BDAT chunk the server reads after its close, on a real loopback socket and on each event loop
(fresh10 F2): a client pipelines MAIL, RCPT, ``BDAT n LAST`` and its chunk, then QUIT, and RCPT
gets a 421. The chunk's octets (here holding CRLF "." CRLF QUIT a hundred times, as a message's
own text can) are one note, ``(chunk data after the close, n octets)``, never command lines: no
false ``line-too-long`` or ``bad-pipelining``; QUIT is its own line, judged as usual."""

from __future__ import annotations

import socket

import pytest

from smtpfake.server import Server

from ..support import SHARED_GRACE, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds

CHUNK = b"A" * 1000 + b"\r\n.\r\nQUIT\r\n" * 100 + b"A" * 900
GROUP = b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n"
BDAT = b"BDAT 3000 LAST\r\n" + CHUNK + b"QUIT\r\n"


@pytest.mark.parametrize("writes", ["one write", "BDAT after the 421"])
def test_a_chunk_behind_a_bdat_after_a_421_is_one_note(fresh: Server, writes: str) -> None:
    assert len(CHUNK) == 3000
    fresh.use(scenario({"on": "rcpt", "reply": "421 4.7.0 go away"}, extensions_add=["CHUNKING"]))
    conn = Raw(fresh)
    assert conn.code() == 220
    assert conn.command("EHLO client.test")[-1] == b"250 CHUNKING\r\n"
    if writes == "one write":
        conn.send(GROUP + BDAT)
    else:
        conn.send(GROUP)
        assert conn.reply() == [b"250 2.1.0 Ok\r\n"]
        assert conn.reply() == [b"421 4.7.0 go away\r\n"]
        conn.send(BDAT)  # after the 421 was read: all of it after the close
    conn.sock.shutdown(socket.SHUT_WR)
    received = conn.rest()
    conn.close()
    if writes == "one write":
        assert received == b"250 2.1.0 Ok\r\n421 4.7.0 go away\r\n"
    else:
        assert received == b""
    (session,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2)
    client = [(e.text, e.note) for e in session.transcript if e.side == "client" and not e.event]
    assert client[client.index(("RCPT TO:<b@x.test>", False)) + 1 :] == [
        ("BDAT 3000 LAST", False),
        ("(chunk data after the close, 3000 octets)", True),
        ("QUIT", False),
    ]
    assert kinds(session) == ([] if writes == "one write" else ["sent-after-close"])


def test_the_next_chunk_after_a_cut_body_close_is_one_note(fresh: Server) -> None:
    # cut_body closes 5 octets into the first of two chunks; the client streams both
    rule = {"on": "bdat", "nth": 1, "cut_body": {"after_bytes": 5, "how": "close"}}
    fresh.use(scenario(rule, extensions_add=["CHUNKING"]))
    conn = Raw(fresh)
    assert conn.code() == 220
    assert conn.command("EHLO client.test")[-1] == b"250 CHUNKING\r\n"
    assert conn.command_code("MAIL FROM:<a@x.test>") == 250
    assert conn.command_code("RCPT TO:<b@x.test>") == 250
    conn.send(b"BDAT 12\r\n01234")
    assert conn.rest() == b""  # the cut's close: EOF, no reply
    conn.send(b"56789abBDAT 6 LAST\r\ntail\r\nQUIT\r\n")  # in the grace period
    conn.sock.shutdown(socket.SHUT_WR)
    conn.close()
    (session,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2)
    client = [(e.text, e.note) for e in session.transcript if e.side == "client" and not e.event]
    assert client[client.index(("RCPT TO:<b@x.test>", False)) + 1 :] == [
        ("BDAT 12", False),
        ("(chunk data, 5 of 12 octets so far)", True),
        ("(chunk data after the close, 7 octets)", True),
        ("BDAT 6 LAST", False),
        ("(chunk data after the close, 6 octets)", True),
        ("QUIT", False),
    ]
    assert kinds(session) == ["sent-after-close"]
