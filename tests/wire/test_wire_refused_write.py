"""A reply whose write the socket refused (fresh10 F11): the client sent its commands and reset
before the server read them, so the server's send() fails (ECONNRESET) and asyncio / uvloop say
so only later, through connection_lost. The record must not say delivered: the socket took none
of it. Made deterministic by holding the server's loop (a user's hook that blocks it) while the
client writes and resets: the server reads the commands only after the RST came.
"""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any

import pytest

from smtpfake.server import Server

from ..support import TIMEOUT, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds, wait_until
from .conftest import LOOPS


class Blocker:
    """``handle_NOOP`` holds the server's whole loop (a blocking wait in a hook) until released."""

    def __init__(self) -> None:
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_NOOP(self, server: Any, session: Any, envelope: Any, arg: str) -> str:
        self.holding.set()
        self.release.wait(TIMEOUT)  # blocking on purpose: no callback of the loop runs meanwhile
        return "250 2.0.0 Ok"


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER (on, 0 s): an RST, not a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _held(server: Server, blocker: Blocker) -> Raw:
    """A connection whose NOOP holds the server's loop (until ``blocker.release``)."""
    holder = Raw(server)
    assert holder.reply()[0].startswith(b"220")
    holder.send(b"NOOP\r\n")
    assert blocker.holding.wait(TIMEOUT)
    return holder


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("tls", [False, True], ids=["plain", "starttls"])
def test_replies_to_commands_sent_before_a_reset_are_not_delivered(loop: str, tls: bool) -> None:
    blocker = Blocker()
    settings: dict[str, Any] = {"tls": True} if tls else {}
    with Server(scenario(**settings), loop=loop, handler=blocker) as server:
        client = Raw(server)
        assert client.reply()[0].startswith(b"220")
        if tls:
            client.send(b"EHLO c.test\r\n")
            client.reply()
            client.send(b"STARTTLS\r\n")
            assert client.reply()[0].startswith(b"220")
            client.tls(server.tls_client_context())
            client.send(b"EHLO c.test\r\n")
            client.reply()
        holder = _held(server, blocker)
        # one write, then the RST: the server reads the lines only once the RST has come
        client.send(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nQUIT\r\n")
        _reset(client.sock)  # (an SSLSocket's close sends no close_notify: the RST alone)
        blocker.release.set()
        assert holder.reply()[0].startswith(b"250")
        holder.send(b"QUIT\r\n")
        holder.reply()
        records = ended_sessions(server, 2, timeout=TIMEOUT)
        (record,) = [r for r in records if any(e.text.startswith("MAIL") for e in r.transcript)]
        start = next(i for i, e in enumerate(record.transcript) if e.text.startswith("MAIL"))
        replies = [e for e in record.transcript[start:] if e.side == "server" and not e.note]
        assert [e.text[:3] for e in replies] == ["250", "250", "221"]
        assert [(e.delivered, e.written) for e in replies] == [(False, 0)] * 3
        notes = [e.text for e in record.transcript if e.text.startswith("(")]
        assert "(client reset the connection)" in notes
        assert "(connection closed)" not in notes  # the server closed nothing: it was reset
        assert "no-quit" not in kinds(record)
        assert server.errors == []


@pytest.mark.parametrize("loop", LOOPS)
def test_a_greeting_to_a_client_that_reset_at_once_is_not_delivered(loop: str) -> None:
    blocker = Blocker()
    with Server(scenario(), loop=loop, handler=blocker) as server:
        holder = _held(server, blocker)
        probe = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
        _reset(probe)  # a health probe: connect, reset
        blocker.release.set()
        assert holder.reply()[0].startswith(b"250")
        holder.send(b"QUIT\r\n")
        holder.reply()
        wait_until(lambda: len(ended_sessions(server, 2, timeout=TIMEOUT)) == 2)
        (record,) = [r for r in server.sessions if not any(e.text == "NOOP" for e in r.transcript)]
        greeting = record.transcript[0]
        assert greeting.text.startswith("220")
        assert greeting.delivered is False and greeting.written == 0
        assert "no-quit" not in kinds(record)
        assert server.errors == []
