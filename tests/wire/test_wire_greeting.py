"""421 at the greeting: the first bytes are a complete 421 reply, then the server closes."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from typing import Any

import aiosmtplib
import pytest

from smtpfake.server import Server

from ..support import TIMEOUT
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds

MESSAGE = "From: a@x.test\r\nTo: b@x.test\r\nSubject: retry\r\n\r\nhello\r\n"


def test_first_bytes_are_a_421_then_eof(server: Server, raw: Callable[[], Raw]) -> None:
    server.use("421-at-greeting")
    conn = raw()
    first = conn.line()
    assert first == b"421 smtpfake.test Service not available, closing transmission channel\r\n"
    assert conn.eof()


def test_every_connection_gets_it(server: Server, raw: Callable[[], Raw]) -> None:
    server.use("421-at-greeting")
    for _ in range(3):
        conn = raw()
        assert conn.code() == 421
        assert conn.eof()
    assert [s.reply_codes for s in ended_sessions(server, 3)] == [(421,)] * 3


def test_recorded_in_sessions(server: Server, raw: Callable[[], Raw]) -> None:
    server.use("421-at-greeting")
    conn = raw()
    conn.reply()
    assert conn.eof()
    (session,) = ended_sessions(server, 1)
    assert session.index == 1
    assert session.replies[0].startswith("421 smtpfake.test Service not available")
    assert session.reply_codes == (421,)
    assert session.commands == ()
    assert "(connection closed)" in [e.text for e in session.transcript]
    # the server hung up, so the client is not to blame for the missing QUIT
    assert kinds(session) == []
    assert server.messages == ()


def test_smtplib_raises_connect_error(server: Server) -> None:
    server.use("421-at-greeting")
    with pytest.raises(smtplib.SMTPConnectError) as info:
        smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
    assert info.value.smtp_code == 421
    assert ended_sessions(server, 1)[0].reply_codes == (421,)


@pytest.mark.asyncio
async def test_aiosmtplib_raises_connect_response_error(server: Server) -> None:
    server.use("421-at-greeting")
    client = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=TIMEOUT)
    with pytest.raises(aiosmtplib.SMTPConnectResponseError) as info:
        await client.connect()
    assert info.value.code == 421
    assert not client.is_connected
    assert ended_sessions(server, 1)[0].reply_codes == (421,)


def test_once_then_served_smtplib(server: Server) -> None:
    server.use("421-at-greeting-once")
    with pytest.raises(smtplib.SMTPConnectError) as info:
        smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
    assert info.value.smtp_code == 421
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        refused = client.sendmail("a@x.test", ["b@x.test"], MESSAGE)
    assert refused == {}
    first, second = ended_sessions(server, 2)
    assert first.reply_codes == (421,)
    assert second.reply_codes[0] == 220
    assert second.reply_codes[-1] == 221
    (message,) = server.messages
    assert message.session == 2
    assert message.mail_from == "a@x.test"
    assert message.rcpt_tos == ("b@x.test",)
    assert message.subject == "retry"


@pytest.mark.asyncio
async def test_once_then_served_aiosmtplib(server: Server) -> None:
    server.use("421-at-greeting-once")
    kwargs: dict[str, Any] = {"hostname": server.host, "port": server.port, "timeout": TIMEOUT}
    with pytest.raises(aiosmtplib.SMTPConnectResponseError):
        await aiosmtplib.send(MESSAGE, sender="a@x.test", recipients=["b@x.test"], **kwargs)
    errors, _ = await aiosmtplib.send(MESSAGE, sender="a@x.test", recipients=["b@x.test"], **kwargs)
    assert errors == {}
    assert len(server.messages) == 1
    assert server.messages[0].session == 2


def test_once_raw_second_connection_greeted(server: Server, raw: Callable[[], Raw]) -> None:
    server.use("421-at-greeting-once")
    first = raw()
    assert first.code() == 421
    assert first.eof()
    second = raw()
    assert second.reply() == [b"220 smtpfake.test ESMTP smtpfake\r\n"]
    assert second.command("NOOP") == [b"250 2.0.0 Ok\r\n"]
    assert second.command("QUIT") == [b"221 2.0.0 Bye\r\n"]
    assert second.eof()
