"""The client leaves (half-close, reset) or the server stops while a user's handler is still
deciding a reply (fresh10 F10): that reply is recorded as a delayed one is, not delivered with 0
octets written, and the lines pipelined behind it are judged as behind any reply still due."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from typing import Any

import pytest

from smtpfake.server import Server

from ..support import TIMEOUT, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds
from .conftest import LOOPS


class Deciding:
    """``handle_RCPT`` that takes longer than the client waits."""

    def __init__(self) -> None:
        self.asked = threading.Event()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.asked.set()
        await asyncio.sleep(TIMEOUT)  # (cancelled when the connection ends)
        return "250 2.1.5 Decided"


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("how", ["half-close", "reset", "stop"])
def test_a_reply_a_handler_is_deciding_when_the_client_leaves_is_recorded_not_delivered(
    loop: str, how: str
) -> None:
    handler = Deciding()
    server = Server(scenario(), loop=loop, handler=handler)
    server.start()
    try:
        client = Raw(server)
        client.reply()
        client.send(b"EHLO c.test\r\n")
        client.reply()
        # RFC 2920: the group ends with DATA
        client.send(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n")
        assert client.reply()[0].startswith(b"250 2.1.0")
        assert handler.asked.wait(TIMEOUT)
        if how == "half-close":
            client.sock.shutdown(socket.SHUT_WR)
        elif how == "reset":
            client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.sock.close()
        else:
            server.stop()
        (record,) = ended_sessions(server, 1, timeout=TIMEOUT)
    finally:
        if how != "stop":
            server.stop()
        client.sock.close()
    first = next(x for x in record.exchanges() if x.command.text == "RCPT TO:<b@x.test>")
    assert first.reply is not None
    assert (first.reply.text, first.reply.delivered, first.reply.written) == (
        "250 2.1.5 Ok",
        False,
        0,
    )
    assert "bad-sequence" not in kinds(record)
    assert "no-quit" not in kinds(record)
    assert server.errors == []
