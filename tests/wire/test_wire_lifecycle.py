"""Server start/stop: stop() is prompt whatever the clients are doing (Python 3.12+ waits for
every connection in Server.wait_closed(), so a leaked transport would hang it)."""

from __future__ import annotations

import contextlib
import logging
import smtplib
import socket
import time
from collections.abc import Iterator

import pytest

from smtpfake.server import Server

from ..support import TIMEOUT, scenario
from ..support.raw import Raw
from ..support.waits import wait_until

# The promise is 2 s; a clean stop takes milliseconds, and a leaked transport costs the full
# 2 s wait in Server._close, so 1 s tells the two apart with margin.
STOP_BUDGET = 1.0


@pytest.fixture
def own_server(caplog: pytest.LogCaptureFixture) -> Iterator[Server]:
    """A server of the test's own, so stopping it does not disturb the shared one."""
    caplog.set_level(logging.WARNING)
    server = Server("default").start()
    try:
        yield server
    finally:
        server.stop()
    assert server.errors == []
    # nothing went wrong in the loop thread either (never-retrieved task errors, leaked tasks)
    noisy = [r for r in caplog.records if r.name.startswith("asyncio")]
    assert noisy == [], [r.getMessage() for r in noisy]


def timed_stop(server: Server) -> float:
    start = time.monotonic()
    server.stop()
    return time.monotonic() - start


def closed_by_server(conn: Raw) -> bool:
    try:
        return conn.rest() is not None
    except OSError:
        return True


def test_stop_with_idle_clients_and_one_mid_greeting(own_server: Server) -> None:
    idle = [Raw(own_server) for _ in range(3)]
    for conn in idle:
        assert conn.code() == 220
        conn.command("EHLO idle.test")
    own_server.use(scenario({"on": "connect", "delay": 30}))
    greeting = Raw(own_server)  # its greeting is 30 s away
    wait_until(lambda: len(own_server.sessions) == 4, 2.0, "the fourth session")
    try:
        assert timed_stop(own_server) < STOP_BUDGET
        for conn in [*idle, greeting]:
            assert closed_by_server(conn)
    finally:
        for conn in [*idle, greeting]:
            conn.close()


def test_stop_with_a_client_that_never_reads(own_server: Server) -> None:
    # The server's writes back up (drain() waits) while the client keeps sending.
    stuck = Raw(own_server)
    stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sock.settimeout(0.2)
    with contextlib.suppress(OSError):  # the send buffer fills up too: that is the point
        for _ in range(2000):
            stuck.sock.sendall(b"HELP\r\n" * 100)
    try:
        assert timed_stop(own_server) < STOP_BUDGET
    finally:
        stuck.close()


def test_stop_mid_data_and_mid_delay(own_server: Server) -> None:
    own_server.use(scenario({"on": "noop", "delay": 30}))
    data = Raw(own_server)
    data.reply()
    data.command("HELO a.test")
    data.command("MAIL FROM:<a@x.test>")
    data.command("RCPT TO:<b@x.test>")
    data.command("DATA")
    data.send(b"Subject: half\r\n")
    waiting = Raw(own_server)
    waiting.reply()
    waiting.send(b"NOOP\r\n")  # its reply is 30 s away
    try:
        assert timed_stop(own_server) < STOP_BUDGET
        assert own_server.messages == ()
    finally:
        data.close()
        waiting.close()


def test_stop_right_after_clients_vanish_mid_greeting(own_server: Server) -> None:
    # Clients that connect and reset at once, while the server is writing its greeting.
    own_server.use(scenario({"on": "connect", "delay": 0.01}))
    for _ in range(10):
        sock = socket.create_connection((own_server.host, own_server.port), timeout=TIMEOUT)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # RST
    assert timed_stop(own_server) < STOP_BUDGET


def test_stop_closes_the_listening_socket(own_server: Server) -> None:
    host, port = own_server.host, own_server.port
    assert timed_stop(own_server) < STOP_BUDGET
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=TIMEOUT).close()


def test_stop_is_idempotent_and_start_twice_fails(own_server: Server) -> None:
    with pytest.raises(RuntimeError):
        own_server.start()
    own_server.stop()
    own_server.stop()
    Server("default").stop()  # never started: nothing to do


def test_context_manager_serves_on_a_free_port() -> None:
    with Server("default") as server:
        assert server.port != 0
        with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
            client.sendmail("a@x.test", ["b@x.test"], "Subject: cm\r\n\r\nx\r\n")
        assert len(server.messages) == 1
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=TIMEOUT).close()


def test_two_servers_side_by_side() -> None:
    with Server("421-at-greeting") as refusing, Server("default") as accepting:
        assert refusing.port != accepting.port
        with pytest.raises(smtplib.SMTPConnectError):
            smtplib.SMTP(refusing.host, refusing.port, timeout=TIMEOUT)
        with smtplib.SMTP(accepting.host, accepting.port, timeout=TIMEOUT) as client:
            assert client.noop()[0] == 250
        assert accepting.messages == () and len(refusing.sessions) == 1


def test_start_on_a_busy_port_raises() -> None:
    with Server("default") as first:
        second = Server("default", port=first.port)
        with pytest.raises(OSError):
            second.start()


def test_a_failed_start_leaves_nothing_to_stop_and_can_be_retried() -> None:
    with Server("default") as first:
        second = Server("default", port=first.port)
        with pytest.raises(OSError):
            second.start()
        second.port = 0
        with second:  # not "server already started"
            assert second.port not in (0, first.port)
            conn = Raw(second)
            assert conn.code() == 220
            conn.close()
        third = Server("default", port=first.port)
        with pytest.raises(OSError):
            third.start()
        third.stop()  # a no-op, not "Event loop is closed"


def test_many_start_stop_cycles_are_fast() -> None:
    start = time.monotonic()
    for _ in range(10):
        with Server("default") as server:
            conn = Raw(server)
            assert conn.code() == 220
            conn.close()
    assert time.monotonic() - start < 5.0


def test_idle_timeout_closes_and_is_recorded_as_the_servers_doing() -> None:
    with Server("default", idle_timeout=0.2) as server:
        conn = Raw(server)
        try:
            conn.reply()
            conn.command("EHLO client.test")
            start = time.monotonic()
            assert conn.rest() == b""  # silent close, as aiosmtpd does
            assert 0.15 <= time.monotonic() - start < 2.0
        finally:
            conn.close()
        (session,) = wait_until(
            lambda: [s for s in server.sessions if s.ended is not None], 2.0, "the session end"
        )
        closes = [e.text for e in session.transcript if e.side == "server"]
        assert closes[-1] == "(connection closed: idle timeout)"
        assert session.violations == ()  # the server hung up, not the client
        assert server.errors == []


def test_idle_timer_restarts_on_each_command() -> None:
    with Server("default", idle_timeout=0.2) as server:
        conn = Raw(server)
        try:
            conn.reply()
            for _ in range(3):  # 0.3 s in all, never 0.2 s idle
                time.sleep(0.1)
                assert conn.command("NOOP") == [b"250 2.0.0 Ok\r\n"]
        finally:
            conn.close()
