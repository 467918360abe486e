"""Lines the server read behind a reply the client gave up on (fresh14 F4), on a real loopback
socket and each event loop: a pipelined ``BDAT 5 LAST`` behind a delayed RCPT reply is acted on
(the message is accepted, as an MTA that read it would queue it), so its reply is in the record,
not delivered, 0 octets written, before the client's close."""

from __future__ import annotations

import socket
import struct

import pytest

from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_last_chunk_behind_a_delayed_rcpt_has_its_reply_recorded(fresh: Server, how: str) -> None:
    fresh.use(scenario({"on": "rcpt", "delay": 5}, extensions_add=["CHUNKING"]))
    conn = Raw(fresh)
    assert conn.code() == 220
    assert conn.command("EHLO client.test")[-1].startswith(b"250 ")
    conn.send(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nBDAT 5 LAST\r\nhello")
    assert conn.reply() == [b"250 2.1.0 Ok\r\n"]  # RCPT's waits 5 s: the client leaves
    if how == "reset":
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    else:
        conn.sock.shutdown(socket.SHUT_WR)
        assert conn.rest() == b""  # nothing more is sent: the server closes
    conn.close()
    (session,) = ended_sessions(fresh, 1)
    (message,) = fresh.messages
    closed = "(client closed the connection)" if how == "close" else "(client reset the connection)"
    assert [(e.text, e.delivered, e.written) for e in session.transcript[-3:]] == [
        ("250 2.1.5 Ok", False, 0),
        (f"250 2.0.0 Ok: queued as {message.queue_id}", False, 0),
        (closed, True, None),
    ]
    end = session.end_of_data(message)
    assert end is not None and end.command.text == "BDAT 5 LAST"
    assert end.reply is not None and not end.reply.delivered
    times = [e.time for e in session.transcript]
    assert times == sorted(times)
