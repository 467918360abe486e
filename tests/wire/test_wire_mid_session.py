"""421-mid-session: greeted, EHLO and MAIL accepted, the first RCPT gets 421, then the close."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import aiosmtplib
import pytest

from smtpfake.server import Server

from ..support import TIMEOUT
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds

MESSAGE = "From: a@x.test\r\nTo: b@x.test\r\nSubject: mid\r\n\r\nhello\r\n"
RCPT_421 = b"421 4.3.2 Service shutting down, closing transmission channel\r\n"


def test_exact_exchange(server: Server, raw: Callable[[], Raw]) -> None:
    server.use("421-mid-session")
    conn = raw()
    assert conn.reply() == [b"220 smtpfake.test ESMTP smtpfake\r\n"]
    ehlo = conn.command("EHLO client.test")
    assert ehlo[0] == b"250-smtpfake.test\r\n"
    assert ehlo[-1].startswith(b"250 ")
    assert conn.command("MAIL FROM:<a@x.test>") == [b"250 2.1.0 Ok\r\n"]
    assert conn.command("RCPT TO:<b@x.test>") == [RCPT_421]
    assert conn.eof()
    (session,) = ended_sessions(server, 1)
    assert session.reply_codes == (220, 250, 250, 421)
    assert session.commands == ("EHLO client.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>")
    assert kinds(session) == []
    assert server.messages == ()


def test_pipelined_rest_is_not_answered(server: Server, raw: Callable[[], Raw]) -> None:
    # A pipelining client sends RCPT, RCPT, DATA at once; after the 421 nothing more comes back.
    server.use("421-mid-session")
    conn = raw()
    conn.reply()
    conn.command("EHLO client.test")
    conn.command("MAIL FROM:<a@x.test>")
    conn.send(b"RCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n")
    assert conn.rest() == RCPT_421
    (session,) = ended_sessions(server, 1)
    assert session.reply_codes == (220, 250, 250, 421)
    assert server.messages == ()


def test_smtplib_sendmail_raises(server: Server) -> None:
    server.use("421-mid-session")
    client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        client.sendmail("a@x.test", ["b@x.test"], MESSAGE)
    assert info.value.recipients["b@x.test"][0] == 421
    client.close()
    (session,) = ended_sessions(server, 1)
    assert session.reply_codes[-1] == 421
    assert server.messages == ()


@pytest.mark.asyncio
async def test_aiosmtplib_send_raises(server: Server) -> None:
    server.use("421-mid-session")
    with pytest.raises(aiosmtplib.SMTPException):
        await aiosmtplib.send(
            MESSAGE,
            sender="a@x.test",
            recipients=["b@x.test"],
            hostname=server.host,
            port=server.port,
            timeout=TIMEOUT,
        )
    (session,) = ended_sessions(server, 1)
    assert session.reply_codes[-1] == 421
    assert server.messages == ()


def test_second_connection_gets_it_too(server: Server, raw: Callable[[], Raw]) -> None:
    # nth counts within a session: every connection meets its own first RCPT
    server.use("421-mid-session")
    for _ in range(2):
        conn = raw()
        conn.reply()
        conn.command("HELO client.test")
        conn.command("MAIL FROM:<a@x.test>")
        assert conn.command("RCPT TO:<b@x.test>") == [RCPT_421]
        assert conn.eof()
    assert len(ended_sessions(server, 2)) == 2
