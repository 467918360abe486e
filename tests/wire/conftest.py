"""Fixtures of the wire tests: a server on each event loop (asyncio's, uvloop's when installed)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from smtpfake.wire import protocol

from ..support.looped import LOOPS, fresh, looped
from .queues import SMALL

__all__ = ["LOOPS", "fresh", "looped"]


@pytest.fixture
def server_ends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The file descriptors of the server's ends of the connections made from now on, each
    with a small send buffer (queues.SMALL, set as the connection is made)."""
    ends: list[int] = []
    real = protocol.Wire.connection_made

    def made(wire: protocol.Wire, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL)
        ends.append(sock.fileno())
        real(wire, transport)

    monkeypatch.setattr(protocol.Wire, "connection_made", made)
    return ends
