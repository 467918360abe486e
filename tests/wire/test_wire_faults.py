"""Rule actions on the wire: 421 always closes; disconnect, reset and delay behave exactly."""

from __future__ import annotations

import select
import smtplib
import socket
import time
from collections.abc import Callable

import pytest

from smtpfake.server import Server

from ..support import TIMEOUT, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds, wait_until

TRANSACTION = [
    ("helo", "HELO client.test"),
    ("ehlo", "EHLO client.test"),
    ("mail", "MAIL FROM:<a@x.test>"),
    ("rcpt", "RCPT TO:<b@x.test>"),
    ("data", "DATA"),
    ("end_of_data", "Subject: x\r\n\r\nbody\r\n."),
    ("noop", "NOOP"),
    ("rset", "RSET"),
    ("vrfy", "VRFY b"),
    ("unknown", "FROB"),
    ("quit", "QUIT"),
]


def run_until(conn: Raw, stage: str) -> list[bytes]:
    """Walk a full transaction up to ``stage``; return the reply to that stage's command."""
    assert conn.code() == 220
    for name, command in TRANSACTION:
        if name == stage:
            return conn.command(command)
        if name == "helo":
            continue
        if name in ("noop", "rset", "vrfy", "unknown", "quit"):
            continue
        conn.command(command)
    raise AssertionError(stage)


@pytest.mark.parametrize("stage", [name for name, _ in TRANSACTION])
def test_a_421_on_any_stage_closes(server: Server, raw: Callable[[], Raw], stage: str) -> None:
    server.use(scenario({"on": stage, "reply": "421 4.3.0 Closing, rule says so"}))
    conn = raw()
    reply = run_until(conn, stage)
    assert reply == [b"421 4.3.0 Closing, rule says so\r\n"]
    assert conn.eof()
    (session,) = ended_sessions(server, 1)
    assert session.reply_codes[-1] == 421
    assert session.transcript[-1].text == "(connection closed)"
    assert kinds(session) == []
    # a 421 up to and on end_of_data refuses the message; after it, the message was accepted
    delivered = [n for n, _ in TRANSACTION].index(stage) > 5
    assert len(server.messages) == (1 if delivered else 0)


def test_a_421_even_when_the_rule_says_close_false(server: Server, raw: Callable[[], Raw]) -> None:
    server.use(scenario({"on": "noop", "reply": "421 4.3.0 bye", "close": False}))
    conn = raw()
    conn.reply()
    assert conn.command("NOOP") == [b"421 4.3.0 bye\r\n"]
    assert conn.eof()


def test_a_multiline_421_closes_after_the_last_line(server: Server, raw: Callable[[], Raw]) -> None:
    server.use(
        scenario({"on": "ehlo", "reply": {"code": 421, "text": ["first", "second", "third"]}})
    )
    conn = raw()
    conn.reply()
    conn.send(b"EHLO client.test\r\n")
    assert conn.rest() == b"421-first\r\n421-second\r\n421 third\r\n"


def test_a_421_at_greeting_after_a_delay(server: Server, raw: Callable[[], Raw]) -> None:
    server.use(scenario({"on": "connect", "delay": 0.05, "reply": "421 later"}))
    assert raw().rest() == b"421 later\r\n"


def test_times_counts_across_connections(server: Server, raw: Callable[[], Raw]) -> None:
    server.use(scenario({"on": "connect", "times": 2, "reply": "421 busy"}))
    codes = []
    for _ in range(3):
        conn = raw()
        codes.append(conn.code())
        conn.close()
    assert codes == [421, 421, 220]


def test_smtplib_sees_421_on_data(server: Server) -> None:
    server.use(scenario({"on": "data", "reply": "421 4.3.0 no data today"}))
    client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
    with pytest.raises(smtplib.SMTPDataError) as info:
        client.sendmail("a@x.test", ["b@x.test"], "Subject: x\r\n\r\nbody\r\n")
    assert info.value.smtp_code == 421
    client.close()
    assert server.messages == ()


def test_disconnect_closes_without_a_reply(server: Server, raw: Callable[[], Raw]) -> None:
    server.use(scenario({"on": "mail", "disconnect": True}))
    conn = raw()
    conn.reply()
    conn.command("HELO client.test")
    conn.send(b"MAIL FROM:<a@x.test>\r\n")
    assert conn.rest() == b""
    (session,) = ended_sessions(server, 1)
    assert session.reply_codes == (220, 250)
    assert session.transcript[-1].text == "(connection closed)"
    assert kinds(session) == []


def test_disconnect_at_greeting(server: Server, raw: Callable[[], Raw]) -> None:
    server.use(scenario({"on": "connect", "disconnect": True}))
    assert raw().rest() == b""
    assert ended_sessions(server, 1)[0].reply_codes == ()


def test_reset_gives_the_client_econnreset(server: Server, raw: Callable[[], Raw]) -> None:
    server.use(scenario({"on": "rcpt", "reset": True}))
    conn = raw()
    conn.reply()
    conn.command("HELO client.test")
    conn.command("MAIL FROM:<a@x.test>")
    conn.send(b"RCPT TO:<b@x.test>\r\n")
    with pytest.raises(ConnectionResetError):
        conn.sock.recv(1024)
    (session,) = ended_sessions(server, 1)
    assert session.transcript[-1].text == "(connection reset)"
    assert kinds(session) == []


def test_smtplib_sees_a_reset_as_disconnect(server: Server) -> None:
    server.use(scenario({"on": "mail", "reset": True}))
    client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
    with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionResetError)):
        client.sendmail("a@x.test", ["b@x.test"], "Subject: x\r\n\r\nbody\r\n")
    client.close()


def test_close_after_the_reply(server: Server, raw: Callable[[], Raw]) -> None:
    server.use(scenario({"on": "helo", "close": True}))
    conn = raw()
    conn.reply()
    conn.send(b"HELO client.test\r\n")
    assert conn.rest() == b"250 smtpfake.test\r\n"


def timed_greeting(server: Server) -> tuple[Raw, float]:
    start = time.monotonic()
    conn = Raw(server)
    assert conn.code() == 220
    return conn, time.monotonic() - start


def test_delay_delays_only_its_session(server: Server) -> None:
    server.use(scenario({"on": "connect", "connection": 1, "delay": 0.2}))
    start = time.monotonic()
    slow = Raw(server)  # connection 1: its greeting waits 0.2 s
    try:
        wait_until(lambda: server.sessions, 1.0, "the first session to start")
        fast, fast_time = timed_greeting(server)  # connection 2, concurrent, not delayed
        try:
            # the fast greeting came while the slow one was still being held back
            assert select.select([slow.sock], [], [], 0)[0] == []
            assert slow.code() == 220
            slow_time = time.monotonic() - start
            assert fast_time < 0.15, fast_time
            assert slow_time >= 0.18, slow_time
        finally:
            fast.close()
    finally:
        slow.close()


def test_delay_before_a_reply(server: Server, raw: Callable[[], Raw]) -> None:
    server.use(scenario({"on": "noop", "nth": 1, "delay": 0.2}))
    conn = raw()
    conn.reply()
    start = time.monotonic()
    assert conn.command("NOOP") == [b"250 2.0.0 Ok\r\n"]
    assert time.monotonic() - start >= 0.18
    start = time.monotonic()
    assert conn.command("NOOP") == [b"250 2.0.0 Ok\r\n"]
    assert time.monotonic() - start < 0.15


def test_delayed_reply_does_not_stall_another_session(server: Server) -> None:
    server.use(scenario({"on": "noop", "connection": 1, "delay": 0.3}))
    slow = Raw(server)
    fast = Raw(server)
    try:
        assert slow.code() == 220 and fast.code() == 220
        start = time.monotonic()
        slow.send(b"NOOP\r\n")
        assert fast.command("NOOP") == [b"250 2.0.0 Ok\r\n"]
        assert time.monotonic() - start < 0.2
        assert slow.reply() == [b"250 2.0.0 Ok\r\n"]
        assert time.monotonic() - start >= 0.28
    finally:
        slow.close()
        fast.close()


def test_reset_at_greeting_is_rst_not_fin(server: Server) -> None:
    # The kernel reports a RST as ECONNRESET (on loopback it can beat connect() itself); a FIN
    # would give b"" from recv.
    server.use(scenario({"on": "connect", "reset": True}))
    for _ in range(3):
        with pytest.raises(ConnectionResetError):
            sock = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
            with sock:
                for _ in range(10):
                    if sock.recv(1024) == b"":
                        break
    sessions = ended_sessions(server, 3)
    assert [s.transcript[-1].text for s in sessions] == ["(connection reset)"] * 3
