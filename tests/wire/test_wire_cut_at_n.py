"""``cut_body: {after_bytes: N}`` on DATA cuts once N octets of message text have come, not at
the end of the line that holds octet N (fresh10 F7): a client that sent 150 octets of a line
without its end gets the server's close (FIN; RST with how: reset) with no more sent."""

from __future__ import annotations

import socket

import pytest

from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions


@pytest.mark.parametrize("how", ["close", "reset"])
def test_the_close_comes_at_octet_n_inside_a_line(fresh: Server, how: str) -> None:
    fresh.use(scenario({"on": "data", "cut_body": {"after_bytes": 100, "how": how}}))
    conn = Raw(fresh)
    assert conn.reply()[0].startswith(b"220")
    for command in (b"EHLO c.test", b"MAIL FROM:<a@x.test>", b"RCPT TO:<b@x.test>", b"DATA"):
        conn.send(command + b"\r\n")
        conn.reply()
    conn.send(b"x" * 150)  # one line's start, no line end: nothing more until the close
    try:
        assert conn.sock.recv(100) == b""  # the FIN (a reset reads as b"" too, Raw-style)
    except ConnectionResetError:
        assert how == "reset"
    if how == "close":
        conn.send(b"y" * 50 + b"\r\n.\r\n")
        conn.sock.shutdown(socket.SHUT_WR)
    conn.sock.close()
    (record,) = ended_sessions(fresh, 1)
    after = [e.text for e in record.transcript if e.side == "client" and not e.event]
    after = after[after.index("DATA") + 1 :]
    assert after[0] == "(message data, 100 bytes so far)"
    if how == "close":
        assert after[1:] == ["(message text after the close)", "x" * 50 + "y" * 50, "."]
    assert record.messages == ()
    assert record.violations == ()
