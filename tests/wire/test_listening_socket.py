"""The listening socket for an address (the default 127.0.0.1, ``::``) is made by the server
(server._bound: uvloop's create_server would import the idna codec at start) and set up as the
loop's create_server sets up its own: these hold either way, on both loops."""

from __future__ import annotations

import smtplib
import socket

import pytest

from smtpfake.server import Server

from .conftest import LOOPS


def _quit_first(port: int, host: str = "127.0.0.1") -> None:
    """A session the server closes first (its end then waits in TIME_WAIT on the port)."""
    with smtplib.SMTP(host, port, timeout=5) as client:
        client.ehlo("c.test")
    # smtplib's QUIT: the server closes after 221, before the client does


@pytest.mark.parametrize("loop", LOOPS)
def test_a_stopped_servers_port_is_listened_on_again_at_once(loop: str) -> None:
    """SO_REUSEADDR, as the loop sets it: the server's end of a closed session, in TIME_WAIT,
    does not keep the next server off its port (a fixed port in a suite's fixture)."""
    with Server(loop=loop) as first:
        port = first.port
        _quit_first(port)
    with Server(port=port, loop=loop) as again:
        _quit_first(again.port)
        assert again.port == port and len(again.sessions) == 1


def _ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6(), reason="no IPv6 on this host")
@pytest.mark.parametrize("loop", LOOPS)
def test_the_ipv6_wildcard_listens_on_ipv6_only(loop: str) -> None:
    """IPV6_V6ONLY, as the loop sets it: ``::`` takes IPv6 clients, not IPv4 ones (``0.0.0.0``
    and ``::`` are two servers, as with the loop's own socket)."""
    with Server(host="::", loop=loop) as server:
        _quit_first(server.port, "::1")
        with pytest.raises(ConnectionRefusedError):  # nothing on the IPv4 side of the port
            socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
        assert len(server.sessions) == 1


@pytest.mark.parametrize("loop", LOOPS)
def test_a_busy_address_is_told_in_the_loops_words(loop: str) -> None:
    """A bind that fails leaves it to create_server, whose error names the address."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match=f"127.0.0.1.*{port}"):
            Server(port=port, loop=loop).start()
