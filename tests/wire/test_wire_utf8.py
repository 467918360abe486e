"""Non-ASCII addresses on a real socket (RFC 6531): smtplib and aiosmtplib with SMTPUTF8 deliver;
an address sent without it gets "553 5.6.7" and the violation ``utf8-address-without-smtputf8``,
and the session goes on."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import aiosmtplib
import pytest

from smtpfake.server import Server

from ..support import TIMEOUT
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds

KIND = "utf8-address-without-smtputf8"
MESSAGE = "Subject: utf8\r\n\r\nbody\r\n"
SENDER = "jürgen@prüfung.test"
RECIPIENT = "ñandú@例え.test"


def test_smtplib_with_smtputf8_delivers(server: Server) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.ehlo("client.test")
        client.sendmail(SENDER, [RECIPIENT], MESSAGE, mail_options=["SMTPUTF8"])
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == []
    (message,) = server.messages
    assert (message.mail_from, message.rcpt_tos) == (SENDER, (RECIPIENT,))


def test_smtplib_forgets_smtputf8_on_its_next_transaction(server: Server) -> None:
    """smtplib switches its command encoding to UTF-8 for a MAIL with SMTPUTF8 and only RSET
    switches it back: the next sendmail on the connection sends a UTF-8 address without the
    parameter. A real server refuses it; so does smtpfake now, and it says why."""
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.ehlo("client.test")
        client.sendmail(SENDER, [RECIPIENT], MESSAGE, mail_options=["SMTPUTF8"])
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("a@x.test", [RECIPIENT], MESSAGE)
        ((code, text),) = refused.value.recipients.values()
        assert (code, text) == (553, b"5.6.7 Must declare SMTPUTF8 to send a non-ASCII address")
        # the session goes on: an ASCII message still gets through
        client.sendmail("a@x.test", ["b@y.test"], MESSAGE)
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == [KIND]
    assert RECIPIENT in session.violations[0].detail
    assert [m.rcpt_tos for m in server.messages] == [(RECIPIENT,), ("b@y.test",)]


@pytest.mark.asyncio
async def test_aiosmtplib_with_and_without_smtputf8(server: Server) -> None:
    client = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=TIMEOUT)
    await client.connect()
    try:
        await client.ehlo(hostname="client.test")
        await client.sendmail(SENDER, [RECIPIENT], MESSAGE, mail_options=["SMTPUTF8"])
        # aiosmtplib's public mail(): the address encoded as UTF-8, no SMTPUTF8 parameter
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
            await client.mail(SENDER, encoding="utf-8")
        assert refused.value.code == 553
        assert refused.value.message.startswith("5.6.7 ")
        await client.rset()
        await client.sendmail("a@x.test", ["b@y.test"], MESSAGE)
    finally:
        await client.quit()
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == [KIND]
    assert len(server.messages) == 2


def test_a_server_without_smtputf8(server: Server, raw: Callable[[], Raw]) -> None:
    server.use({"server": {"extensions_remove": ["SMTPUTF8"]}})
    conn = raw()
    assert conn.code() == 220
    assert conn.command_code("EHLO client.test") == 250
    assert conn.command(f"MAIL FROM:<{SENDER}>") == [
        b"553 5.6.7 Non-ASCII address not permitted: SMTPUTF8 not offered\r\n"
    ]
    assert conn.command_code(f"MAIL FROM:<{SENDER}> SMTPUTF8") == 555  # not offered
    assert conn.command_code("MAIL FROM:<a@x.test>") == 250  # neither opened a transaction
    assert conn.command_code(f"RCPT TO:<{RECIPIENT}>") == 553
    assert conn.command_code("QUIT") == 221
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == [KIND, "unknown-parameter", KIND]
    # the transcript holds the address as the client sent it
    assert f"MAIL FROM:<{SENDER}>" in session.commands
