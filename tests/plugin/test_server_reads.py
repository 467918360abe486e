"""The in-process ``Server`` reads as the fixture does: ``violations`` (a tuple) and ``counts``
settle first, ``settle()`` waits for every open session; ``sessions`` is the journal as it
stands, so a session in its grace period after the server's 221 has ``ended`` None until the
client closes or the grace period ends (``settle()`` is the wait for it)."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator

import pytest

from smtpfake.control import SmtpFake
from smtpfake.hooks import Hooks
from smtpfake.server import Server
from smtpfake.settling import SETTLE_TIMEOUT


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server("default", grace_period=0.2) as running:
        yield running


@pytest.fixture
def fresh(server: Server) -> Server:
    server.reset()
    server.settle_timeout = SETTLE_TIMEOUT
    return server


def test_no_quit_is_seen_by_the_servers_violations_100_of_100_times(fresh: Server) -> None:
    seen = []
    for _ in range(100):
        fresh.reset()
        client = smtplib.SMTP(fresh.host, fresh.port, timeout=5)
        client.ehlo()
        client.close()  # no QUIT: the server may not have read the close yet
        seen.append(tuple(v.kind for v in fresh.violations))
    assert seen == [("no-quit",)] * 100


def test_violations_is_a_tuple_as_the_fixtures_is(fresh: Server) -> None:
    with smtplib.SMTP(fresh.host, fresh.port, timeout=5) as client:
        client.ehlo()
    assert fresh.violations == ()
    assert type(fresh.violations) is type(SmtpFake(fresh).violations) is tuple


def test_counts_settle(fresh: Server) -> None:
    client = smtplib.SMTP(fresh.host, fresh.port, timeout=5)
    client.ehlo()
    client.close()
    counts = fresh.counts
    assert (counts.sessions_started, counts.sessions_ended) == (1, 1)


def test_settle_waits_out_the_grace_period_after_the_221(fresh: Server) -> None:
    """The client read its 221 and keeps the socket open: the session is open through the
    server's grace period; settle() returns once it has ended, the socket still open."""
    with socket.create_connection(fresh.address, timeout=5) as sock:
        sock.recv(1000)  # the greeting
        sock.sendall(b"EHLO client.example.test\r\n")
        reply = b""
        while b"250 " not in reply:
            reply += sock.recv(1000)
        sock.sendall(b"QUIT\r\n")
        assert sock.recv(1000).startswith(b"221 ")
        assert fresh.settle(timeout=5) is True
        (session,) = fresh.sessions
        assert session.ended is not None
        assert fresh.violations == ()


def test_a_session_left_open_is_reported_as_it_stands(fresh: Server) -> None:
    with socket.create_connection(fresh.address, timeout=5) as sock:
        sock.recv(100)  # the greeting: the session has started
        fresh.settle_timeout = 0.05
        assert fresh.settle() is False
        assert fresh.violations == ()  # as it stands: nothing wrong yet
        (session,) = fresh.sessions
        assert session.ended is None
    assert fresh.settle(timeout=5) is True
    assert [v.kind for v in fresh.violations] == ["no-quit"]


def test_a_read_in_the_servers_own_loop_does_not_wait(fresh: Server) -> None:
    """A handler's hook runs in the server's loop: a settling read there would hold up the
    session it waits for; it reads as it stands (the hook sees its own session open)."""
    seen: list[tuple[bool, tuple[str, ...]]] = []

    class Looking:
        async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
            open_now = fresh.settle(timeout=30)  # a wait would outlast the client's 5 s
            seen.append((open_now, tuple(v.kind for v in fresh.violations)))
            return "250 2.1.5 OK"

    fresh.hooks = Hooks(Looking(), fresh)
    try:
        with smtplib.SMTP(fresh.host, fresh.port, timeout=5) as client:
            client.ehlo()
            client.mail("a@example.test")
            assert client.rcpt("b@example.test")[0] == 250
    finally:
        fresh.hooks = None
    assert seen == [(False, ())]
