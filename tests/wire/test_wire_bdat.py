"""CHUNKING / BDAT (RFC 3030) on a real loopback socket. Neither smtplib nor aiosmtplib speaks
BDAT (checked: neither has the command), so the client is a raw socket that writes each chunk in
several writes, pipelined the way a CHUNKING client does."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds

CHUNKING = {"extensions_add": ["CHUNKING"]}


def transaction(conn: Raw) -> None:
    assert conn.code() == 220
    assert b"250-CHUNKING\r\n" in conn.command_bytes("EHLO client.test").replace(b" ", b"-")
    assert conn.command_code("MAIL FROM:<a@x.test>") == 250
    assert conn.command_code("RCPT TO:<b@x.test>") == 250


def test_a_message_in_pipelined_chunks_is_delivered_octet_for_octet(
    server: Server, raw: Callable[[], Raw]
) -> None:
    server.use(scenario(**CHUNKING))
    body = b"Subject: chunks\r\n\r\n.dot stays\r\n.\r\nbinary \x00\xff\r\n" * 40
    half = len(body) // 2
    with raw() as conn:
        transaction(conn)
        # both chunks in one go, each split across writes: the server frames by count
        conn.send(b"BDAT %d\r\n" % half + body[:7])
        conn.send(body[7:half] + b"BDAT %d LAST\r\n" % (len(body) - half))
        conn.send(body[half:])
        assert conn.reply() == [b"250 2.0.0 Ok: %d octets received\r\n" % half]
        (last,) = conn.reply()
        assert last.startswith(b"250 2.0.0 Ok: queued as ")
        assert conn.command_code("QUIT") == 221
    (record,) = ended_sessions(server, 1)
    assert kinds(record) == []
    (message,) = server.journal.messages()
    assert message.data == body
    assert message.queue_id in last.decode()


def test_built_in_bdat_reset_mid_chunk_resets_then_delivers_on_retry(
    server: Server, raw: Callable[[], Raw]
) -> None:
    server.use("bdat-reset-mid-chunk", params={"after": 100})
    body = b"x" * 300
    with raw() as conn:
        transaction(conn)
        # the reset may already be in when the write happens
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.send(b"BDAT 300 LAST\r\n" + body)
        assert conn.rest() == b""  # no reply, then the reset (or EOF once it is read)
    with raw() as conn:
        transaction(conn)
        conn.send(b"BDAT 300 LAST\r\n" + body)
        assert conn.reply()[0].startswith(b"250 2.0.0 Ok: queued as ")
        conn.command("QUIT")
    first, second = ended_sessions(server, 2)
    assert "(chunk data, 100 of 300 octets so far)" in [e.text for e in first.transcript]
    assert "(connection reset)" in [e.text for e in first.transcript]
    assert kinds(first) == []
    assert [m.session for m in server.journal.messages()] == [second.index]


def test_a_short_chunk_then_eof_is_told_and_nothing_delivered(
    server: Server, raw: Callable[[], Raw]
) -> None:
    server.use(scenario(**CHUNKING))
    with raw() as conn:
        transaction(conn)
        conn.send(b"BDAT 1000 LAST\r\nonly forty octets of the thousand declared.")
        conn.sock.shutdown(socket.SHUT_WR)
        assert conn.rest() == b""
    (record,) = ended_sessions(server, 1)
    assert "chunk-short" in kinds(record)
    assert server.journal.messages() == ()


def test_bdat_without_chunking_and_data_after_bdat_are_refused_in_step(
    server: Server, raw: Callable[[], Raw]
) -> None:
    with raw() as conn:  # default: CHUNKING is not advertised
        assert conn.code() == 220
        conn.command("EHLO client.test")
        conn.send(b"BDAT 6 LAST\r\nRSET\r\n")
        assert conn.reply() == [b"502 5.5.1 Error: BDAT without CHUNKING\r\n"]
        assert conn.command_code("NOOP") == 250  # the RSET in the chunk was not a command
    server.use(scenario(**CHUNKING))
    with raw() as conn:
        transaction(conn)
        conn.send(b"BDAT 2\r\nab")
        assert conn.code() == 250
        assert conn.command(b"DATA") == [b"503 5.5.1 Error: DATA after BDAT in one transaction\r\n"]
        conn.command("QUIT")
    first, second = ended_sessions(server, 2)
    assert "bdat-without-chunking" in kinds(first)
    assert "bdat-and-data" in kinds(second)
