"""The record is the wire, on a real loopback socket: what the client sends after the server's
last reply is read and judged, the client sees EOF (not a reset), replies are recorded when they
were written and the client's close is in the transcript. The issue's reproductions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiosmtplib

from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds


def test_after_a_421_greeting_the_client_sees_eof_and_what_it_sends_is_recorded(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use("421-at-greeting")
    conn = raw()
    assert conn.code() == 421
    time.sleep(0.2)
    conn.send(b"EHLO client.example.test\r\n")
    assert conn.sock.recv(100) == b""  # EOF: a reset would raise ConnectionResetError
    conn.close()
    (session,) = ended_sessions(server, 1)
    assert session.commands == ("EHLO client.example.test",)
    assert kinds(session) == ["sent-after-close"]
    assert session.transcript[-1].text == "(client closed the connection)"


def test_a_command_after_quit_is_sent_after_close(server: Server, raw: Callable[..., Raw]) -> None:
    conn = raw()
    conn.reply()
    assert conn.command_code("QUIT") == 221
    conn.send(b"NOOP\r\n")
    assert conn.sock.recv(100) == b""
    conn.close()
    (session,) = ended_sessions(server, 1)
    assert session.commands == ("QUIT", "NOOP")
    assert kinds(session) == ["sent-after-close"]


def test_a_client_that_gives_up_on_a_slow_greeting(server: Server, raw: Callable[..., Raw]) -> None:
    server.use(scenario({"on": "connect", "delay": 3}))
    conn = raw(0.5)
    started = time.time()
    try:
        conn.sock.recv(100)
        raise AssertionError("the greeting came early")
    except TimeoutError:
        pass
    conn.close()
    (session,) = ended_sessions(server, 1, timeout=2.0)  # not the 3 s of the delay
    greeting, close = session.transcript
    assert not greeting.delivered and greeting.written == 0
    assert close.text == "(client closed the connection)"
    assert close.time - started < 2.0
    assert kinds(session) == []  # it was waiting for a reply: no no-quit


def test_a_client_that_acts_on_part_of_a_dripped_reply_is_caught(
    server: Server, raw: Callable[..., Raw]
) -> None:
    rule = {"on": "ehlo", "drip": {"bytes": 20, "interval": 0.1}}
    server.use(scenario(rule, extensions_remove=["PIPELINING"]))
    conn = raw()
    conn.reply()
    conn.send(b"EHLO c.test\r\n")
    assert conn.line().startswith(b"250-")  # the first line, not the whole reply
    conn.send(b"MAIL FROM:<a@x.test>\r\n")
    lines = [conn.line() for _ in range(6)]  # the rest of the EHLO reply, then MAIL's
    assert lines[-2:] == [b"250 HELP\r\n", b"250 2.1.0 Ok\r\n"], lines
    conn.command("QUIT")
    conn.close()
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == ["pipelining-without-extension"]


def test_aiosmtplib_pipelines_and_the_record_holds_every_line(server: Server) -> None:
    async def send() -> None:
        async with aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=5) as client:
            await client.sendmail("a@x.test", ["b@x.test", "c@x.test"], "Subject: hi\r\n\r\nhi\r\n")

    asyncio.run(send())
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == []
    assert session.commands[-1] == "QUIT"
    assert session.transcript[-1].text in ("(client closed the connection)", "(connection closed)")
    ehlo = next(e for e in session.transcript if e.text.startswith("250-"))
    assert ehlo.lines[-1] == "250 HELP"


def test_the_reply_time_is_when_it_was_written(server: Server, raw: Callable[..., Raw]) -> None:
    server.use(scenario({"on": "noop", "delay": 0.3}))
    conn = raw()
    conn.reply()
    sent = time.time()
    assert conn.command_code("NOOP") == 250
    conn.command("QUIT")
    (session,) = ended_sessions(server, 1)
    noop = session.transcript[session.commands.index("NOOP") + 2]
    assert noop.text == "250 2.0.0 Ok"
    assert noop.time - sent >= 0.29


def test_the_grace_period_is_a_server_setting() -> None:
    with Server(grace_period=0.2) as server:
        conn = Raw(server)
        try:
            conn.reply()
            conn.command("QUIT")
            assert conn.sock.recv(100) == b""  # the half-close: EOF at once
            conn.send(b"NOOP\r\n")  # still read, for the grace period
            # The client keeps its side open: the server's grace timer ends the session (the
            # default 1 s would not be over within this wait).
            (session,) = ended_sessions(server, 1, timeout=0.9)
            assert session.commands == ("QUIT", "NOOP")
            assert kinds(session) == ["sent-after-close"]
            assert session.transcript[-1].text == "NOOP"  # no client close: it never closed
        finally:
            conn.close()


def test_the_client_sees_a_reset_only_from_a_reset_fault(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use(scenario({"on": "noop", "reset": True}))
    conn = raw()
    conn.reply()
    conn.send(b"NOOP\r\n")
    try:
        data = conn.sock.recv(100)
    except ConnectionResetError:
        data = None
    assert data is None
    conn.close()
