"""Fixtures of the wire tests: a server on each event loop (asyncio's, uvloop's when installed)."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
from collections.abc import Iterator

import pytest

from smtpfake.server import Server
from smtpfake.wire import protocol

from ..support import SHARED_GRACE
from .queues import SMALL

LOOPS = ["asyncio"] + (["uvloop"] if importlib.util.find_spec("uvloop") is not None else [])


@pytest.fixture(scope="module", params=LOOPS)
def looped(request: pytest.FixtureRequest) -> Iterator[Server]:
    """One server per module and loop (tests parametrized by the loop through it)."""
    with Server("default", loop=request.param, grace_period=SHARED_GRACE) as server:
        yield server


@pytest.fixture
def fresh(looped: Server) -> Iterator[Server]:
    """The looped server back to ``default`` with an empty journal; no error left after."""
    looped.use("default")
    looped.reset()
    yield looped
    assert looped.errors == []


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
