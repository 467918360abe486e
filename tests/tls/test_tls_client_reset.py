"""A client that resets the connection over TLS (SO_LINGER 0: an RST) in the grace period after
the server's close, on a real loopback socket, each event loop, STARTTLS and implicit TLS
(fresh20 F3). Over TLS the server only reads on after its last reply and closes at the grace
period's end, its close's entry held until then; the client's RST came first and the record
ended with the reset alone: nothing said the server had closed or timed the session out. Now it
reads as over plain TCP: the server's close, then the client's reset, in time order."""

from __future__ import annotations

import select
import socket
import ssl
import struct
import time
from collections.abc import Iterator

import pytest

from smtpfake.server import Server

from ..support import SHARED_GRACE, TIMEOUT, scenario
from ..support.looped import LOOPS
from ..support.raw import Raw
from ..support.waits import ended_sessions

MODES = ["starttls", "implicit"]


def _tls(mode: str) -> object:
    return True if mode == "starttls" else {"implicit": True}


def _secured(server: Server, mode: str) -> Raw:
    """A client past the handshake and its EHLO, over ``mode``'s TLS."""
    context = server.tls_client_context()
    conn = Raw(server, implicit=context if mode == "implicit" else None)
    assert conn.code() == 220
    if mode == "starttls":
        conn.command("EHLO client.test")
        assert conn.command_code("STARTTLS") == 220
        conn.tls(context)
    assert conn.command_code("EHLO client.test") == 250
    return conn


def _reset(conn: Raw) -> None:
    """Close with SO_LINGER (on, 0 s): an RST, no close_notify, no FIN."""
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _reset_after(server: Server, last: str, close: str) -> None:
    """The session ended; its record ends with the reply ``last`` (its start), the server's
    ``close``, then the client's reset, in time order, and nothing is judged."""
    (record,) = ended_sessions(server, 1, timeout=SHARED_GRACE + 3.0)
    tail = record.transcript[-3:]
    assert [(e.side, e.text[: len(last)] if i == 0 else e.text) for i, e in enumerate(tail)] == [
        ("server", last),
        ("server", close),
        ("client", "(client reset the connection)"),
    ], record.format()
    assert tail[0].time <= tail[1].time <= tail[2].time
    assert record.violations == ()


@pytest.mark.parametrize("mode", MODES)
def test_a_reset_after_the_221_over_tls_keeps_the_servers_close(fresh: Server, mode: str) -> None:
    fresh.use(scenario(tls=_tls(mode)))
    conn = _secured(fresh, mode)
    try:
        assert conn.command("QUIT") == [b"221 2.0.0 Bye\r\n"]
    finally:
        _reset(conn)  # at once: well inside the grace period
    _reset_after(fresh, "221 2.0.0 Bye", "(connection closed)")


@pytest.mark.parametrize("mode", MODES)
def test_a_close_with_the_idle_421_unread_over_tls_keeps_the_servers_close(
    fresh: Server, mode: str
) -> None:
    fresh.use(scenario(tls=_tls(mode), idle_timeout=0.2))
    conn = _secured(fresh, mode)
    try:
        # the 421 arrives, unasked; closing with it unread makes the kernel send an RST
        readable, _, _ = select.select([conn.sock], [], [], TIMEOUT)
        assert readable, "no idle 421"
        assert isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending() == 0
    finally:
        conn.close()
    _reset_after(fresh, "421 4.4.2 ", "(connection closed)")


@pytest.fixture(params=LOOPS)
def timing_out(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A server whose own idle limit is 0.2 s, with a grace period long enough that the client's
    reset comes well inside it."""
    with Server("default", loop=request.param, idle_timeout=0.2, grace_period=30.0) as server:
        yield server
        assert server.errors == []


@pytest.mark.parametrize("mode", MODES)
def test_a_reset_after_the_servers_own_idle_close_over_tls_keeps_it(
    timing_out: Server, mode: str
) -> None:
    # the server closes silently (aiosmtpd's way), so the client cannot see it: it waits past it
    timing_out.use(scenario(tls=_tls(mode)))
    conn = _secured(timing_out, mode)
    try:
        time.sleep(1.0)  # the limit rings 0.2 s on; the grace period runs 30 s
    finally:
        _reset(conn)
    _reset_after(timing_out, "250-", "(connection closed: idle timeout)")
