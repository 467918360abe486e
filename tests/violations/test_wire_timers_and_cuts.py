"""On a real socket: the asynchronous 421 (idle and close_after timers) and the message body cut
part-way (cut_body, the reset-mid-data built-in). Times are small (0.2 s)."""

from __future__ import annotations

import asyncio
import dataclasses
import smtplib
import time
from collections.abc import Callable

import aiosmtplib
import pytest

from smtpfake.scenario import resolve
from smtpfake.server import Server

from ..support import TIMEOUT, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds

IDLE_421 = b"421 4.4.2 smtpfake.test Error: timeout exceeded\r\n"
CLOSING_421 = b"421 4.3.2 smtpfake.test Service not available, closing transmission channel\r\n"
BIG = b"Subject: big\r\n\r\n" + (b"x" * 98 + b"\r\n") * 1000  # 100 KB


# -- the idle 421 --------------------------------------------------------------------------------


def test_idle_timeout_sends_421_then_closes(server: Server, raw: Callable[..., Raw]) -> None:
    server.use(scenario(idle_timeout=0.2))
    conn = raw()
    conn.reply_bytes()
    conn.command_bytes("EHLO client.test")
    start = time.monotonic()
    assert conn.rest() == IDLE_421  # then EOF
    assert 0.15 <= time.monotonic() - start < 2.0
    (session,) = ended_sessions(server, 1)
    assert session.replies[-2:] == (IDLE_421.decode().rstrip(), "(connection closed)")
    assert session.transcript[-1].rule == "server.idle"
    assert session.violations == ()  # the server hung up


def test_the_idle_timer_restarts_on_every_line(server: Server, raw: Callable[..., Raw]) -> None:
    server.use(scenario(idle_timeout=0.2))
    conn = raw()
    conn.reply_bytes()
    conn.command_bytes("EHLO client.test")
    conn.command_bytes("MAIL FROM:<a@x.test>")
    conn.command_bytes("RCPT TO:<b@x.test>")
    conn.command_bytes("DATA")
    for _ in range(4):  # 0.4 s in all, never 0.2 s silent: message data counts
        time.sleep(0.1)
        conn.send(b"line\r\n")
    conn.send(b".\r\n")
    assert conn.reply_bytes()[:3] == b"250"
    assert conn.rest() == IDLE_421
    assert len(server.messages) == 1


def test_the_idle_timer_stops_while_the_server_takes_its_time(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use(scenario({"on": "noop", "delay": 0.4}, idle_timeout=0.2))
    conn = raw()
    conn.reply_bytes()
    assert conn.command_bytes("NOOP") == b"250 2.0.0 Ok\r\n"  # not a 421 at 0.2 s
    start = time.monotonic()
    assert conn.rest() == IDLE_421  # counted from the reply
    assert time.monotonic() - start >= 0.15


def test_a_hang_is_not_cut_short_by_the_scenarios_idle_timeout(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use(scenario({"on": "noop", "hang": 0.4}, idle_timeout=0.1))
    conn = raw()
    conn.reply_bytes()
    start = time.monotonic()
    conn.send(b"NOOP\r\n")
    assert conn.rest() == b""  # the hang's silent close, no 421 in the middle of it
    assert time.monotonic() - start >= 0.35


def test_the_servers_own_idle_timeout_still_bounds_a_hang() -> None:
    with Server(scenario({"on": "noop", "hang": 30}), idle_timeout=0.2) as server:
        conn = Raw(server)
        try:
            conn.reply_bytes()
            start = time.monotonic()
            conn.send(b"NOOP\r\n")
            assert conn.rest() == b""
            assert 0.15 <= time.monotonic() - start < 2.0
        finally:
            conn.close()
        (session,) = ended_sessions(server, 1)
        assert session.violations == ()
        assert server.errors == []


def test_an_idle_421_in_the_middle_of_the_data_delivers_nothing(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use(scenario(idle_timeout=0.2))
    conn = raw()
    conn.reply_bytes()
    conn.command_bytes("EHLO client.test")
    conn.command_bytes("MAIL FROM:<a@x.test>")
    conn.command_bytes("RCPT TO:<b@x.test>")
    conn.command_bytes("DATA")
    conn.send(b"Subject: stalled\r\n")
    assert conn.rest() == IDLE_421
    (session,) = ended_sessions(server, 1)
    assert session.messages == () and server.messages == ()
    assert "(message data, 18 bytes, unfinished)" in session.commands


def test_smtplib_after_an_idle_421(server: Server) -> None:
    scenario_ = resolve("421-idle-timeout")
    server.use(
        dataclasses.replace(
            scenario_, server=dataclasses.replace(scenario_.server, idle_timeout=0.2)
        )
    )
    client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
    try:
        client.ehlo()
        time.sleep(0.4)  # a pooled connection left idle
        # The 421 is read as the reply to MAIL, or the send finds the connection gone.
        with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPServerDisconnected)):
            client.sendmail("a@x.test", ["b@x.test"], b"Subject: late\r\n\r\nhi\r\n")
    finally:
        client.close()
    (session,) = ended_sessions(server, 1)
    assert session.reply_codes[-1] == 421
    assert server.messages == ()


# -- a 421 at a set time into the session ----------------------------------------------------------


def test_close_after_interrupts_a_busy_client(server: Server, raw: Callable[..., Raw]) -> None:
    server.use(scenario(close_after=0.3))
    conn = raw()
    start = time.monotonic()
    conn.reply_bytes()
    replies = []
    for _ in range(50):  # busy all along: a NOOP every 0.05 s
        reply = conn.command_bytes("NOOP")
        replies.append(reply)
        if reply.startswith(b"421"):
            break
        time.sleep(0.05)
    assert replies[-1] == CLOSING_421
    assert 0.25 <= time.monotonic() - start < 2.0
    assert set(replies[:-1]) == {b"250 2.0.0 Ok\r\n"}
    assert conn.rest() == b""
    (session,) = ended_sessions(server, 1)
    assert [e for e in session.transcript if e.side == "server"][-1].rule == "server.close_after"
    assert session.violations == ()


@pytest.mark.asyncio
async def test_aiosmtplib_on_a_connection_the_server_closed_meanwhile(server: Server) -> None:
    server.use(scenario(close_after=0.2))
    client = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=TIMEOUT)
    await client.connect()
    try:
        await client.ehlo()
        await asyncio.sleep(0.4)  # the 421 arrives unasked meanwhile
        with pytest.raises((aiosmtplib.SMTPResponseException, aiosmtplib.SMTPServerDisconnected)):
            await client.sendmail("a@x.test", ["b@x.test"], b"Subject: x\r\n\r\nhi\r\n")
    finally:
        client.close()
    (session,) = await asyncio.to_thread(ended_sessions, server, 1)
    assert session.replies[-2:] == (CLOSING_421.decode().rstrip(), "(connection closed)")
    assert server.messages == ()


# -- the body cut ----------------------------------------------------------------------------------


def test_reset_mid_data_smtplib_sees_the_reset_and_nothing_is_recorded(server: Server) -> None:
    server.use("reset-mid-data")
    with (
        pytest.raises((smtplib.SMTPServerDisconnected, ConnectionResetError)),
        smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client,
    ):
        client.sendmail("a@x.test", ["b@x.test"], BIG)
    (session,) = ended_sessions(server, 1)
    assert server.messages == ()
    assert session.transcript[-1].text == "(connection reset)"
    cut = [c for c in session.commands if c.startswith("(message data")]
    assert len(cut) == 1 and cut[0].endswith("bytes so far)")
    assert int(cut[0].split()[2]) < 2048  # about 1 KB in, not the whole message
    assert session.violations == ()
    # A correct client retries the whole transaction; the second connection delivers it once.
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.sendmail("a@x.test", ["b@x.test"], BIG)
    assert [m.data for m in server.messages] == [BIG]


@pytest.mark.asyncio
async def test_reset_mid_data_aiosmtplib(server: Server) -> None:
    server.use("reset-mid-data")
    client = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=TIMEOUT)
    await client.connect()
    try:
        with pytest.raises((aiosmtplib.SMTPServerDisconnected, ConnectionError)):
            await client.sendmail("a@x.test", ["b@x.test"], BIG)
    finally:
        client.close()
    await asyncio.to_thread(ended_sessions, server, 1)
    assert server.messages == ()


def test_cut_body_with_a_close(server: Server, raw: Callable[..., Raw]) -> None:
    server.use(scenario({"on": "data", "cut_body": {"after_bytes": 10, "how": "close"}}))
    conn = raw()
    conn.reply_bytes()
    conn.command_bytes("EHLO client.test")
    conn.command_bytes("MAIL FROM:<a@x.test>")
    conn.command_bytes("RCPT TO:<b@x.test>")
    assert conn.command_bytes("DATA")[:3] == b"354"
    conn.send(b"Subject: twelve\r\n")
    assert conn.rest() == b""  # FIN, no reply
    (session,) = ended_sessions(server, 1)
    assert session.transcript[-1].text == "(connection closed)"
    assert server.messages == ()


def test_abort_after_354_still_fails_the_message(server: Server) -> None:
    server.use(scenario({"on": "data", "abort": 0.1}))
    with (
        pytest.raises((smtplib.SMTPServerDisconnected, ConnectionResetError)),
        smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client,
    ):
        client.sendmail("a@x.test", ["b@x.test"], BIG)
    ended_sessions(server, 1)
    assert server.messages == ()


def test_no_violation_is_blamed_on_the_client_for_the_servers_cut(server: Server) -> None:
    server.use("reset-mid-data")
    with (
        pytest.raises((smtplib.SMTPServerDisconnected, ConnectionResetError)),
        smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client,
    ):
        client.sendmail("a@x.test", ["b@x.test"], BIG)
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == []
