"""default: an RFC-correct server that accepts and records every message."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from email.message import EmailMessage

import aiosmtplib
import pytest

from smtpfake.server import Server

from ..support import TIMEOUT
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds

REQUIRED = ("pipelining", "size", "8bitmime", "enhancedstatuscodes")


def test_ehlo_extensions_smtplib(server: Server) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        code, _ = client.ehlo("client.test")
        assert code == 250
        for keyword in REQUIRED:
            assert client.has_extn(keyword), keyword
        assert int(client.esmtp_features["size"]) > 0


@pytest.mark.asyncio
async def test_ehlo_extensions_aiosmtplib(server: Server) -> None:
    client = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=TIMEOUT)
    await client.connect()
    try:
        response = await client.ehlo(hostname="client.test")
        assert response.code == 250
        for keyword in REQUIRED:
            assert client.supports_extension(keyword), keyword
    finally:
        await client.quit()


def test_ehlo_multiline_form(server: Server, raw: Callable[[], Raw]) -> None:
    conn = raw()
    conn.reply()
    lines = conn.command("EHLO client.test")  # reply() checks the §4.2.1 form of each line
    assert len(lines) > 4
    assert all(line[3:4] == b"-" for line in lines[:-1])
    assert lines[-1][3:4] == b" "
    keywords = {line[4:].split()[0].upper() for line in lines[1:]}
    assert {b"PIPELINING", b"SIZE", b"8BITMIME", b"ENHANCEDSTATUSCODES"} <= keywords
    # HELO gets a single line and no extensions
    assert conn.command("HELO client.test") == [b"250 smtpfake.test\r\n"]


def test_message_recorded_smtplib(server: Server) -> None:
    body = (
        "From: Alice <a@x.test>\r\nTo: b@x.test, c@x.test\r\nSubject: Hello there\r\n\r\n"
        "line one\r\n.leading dot\r\n..two dots\r\n"
    )
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        refused = client.sendmail("a@x.test", ["b@x.test", "c@x.test"], body)
    assert refused == {}
    (message,) = server.messages
    assert message.mail_from == "a@x.test"
    assert message.rcpt_tos == ("b@x.test", "c@x.test")
    assert isinstance(message.data, bytes)
    # smtplib dot-stuffs on the way out; the record is what the client meant, unstuffed
    assert message.data == body.encode()
    assert isinstance(message.message, EmailMessage)
    assert message.message["Subject"] == "Hello there"
    assert message.message.get_content() == "line one\r\n.leading dot\r\n..two dots\r\n"
    (session,) = ended_sessions(server, 1)
    assert session.messages == (message,)
    assert session.violations == ()


def test_data_bytes_as_received(server: Server, raw: Callable[[], Raw]) -> None:
    conn = raw()
    conn.reply()
    conn.command("EHLO client.test")
    conn.command("MAIL FROM:<a@x.test> BODY=8BITMIME")
    conn.command("RCPT TO:<b@x.test>")
    assert conn.command("DATA") == [b"354 End data with <CR><LF>.<CR><LF>\r\n"]
    data = b"Subject: raw\r\n\r\n\xc3\xa9t\xc3\xa9\r\n..\r\n...x\r\nbare\nlf\r\n"
    reply = conn.command(data + b".")
    assert reply[0].startswith(b"250 2.0.0 Ok: queued as ")
    (message,) = server.messages
    assert message.data == b"Subject: raw\r\n\r\n\xc3\xa9t\xc3\xa9\r\n.\r\n..x\r\nbare\nlf\r\n"
    assert reply[0].rstrip().endswith(message.queue_id.encode())


def test_empty_message(server: Server, raw: Callable[[], Raw]) -> None:
    conn = raw()
    conn.reply()
    conn.command("HELO client.test")
    conn.command("MAIL FROM:<>")
    conn.command("RCPT TO:<b@x.test>")
    conn.command("DATA")
    assert conn.command(".")[0].startswith(b"250 ")
    (message,) = server.messages
    assert (message.mail_from, message.data) == ("", b"")


@pytest.mark.asyncio
async def test_message_recorded_aiosmtplib(server: Server) -> None:
    msg = EmailMessage()
    msg["From"] = "a@x.test"
    msg["To"] = "b@x.test"
    msg["Subject"] = "async"
    msg.set_content("hello from aiosmtplib\n")
    errors, _ = await aiosmtplib.send(msg, hostname=server.host, port=server.port, timeout=TIMEOUT)
    assert errors == {}
    (message,) = server.messages
    assert message.mail_from == "a@x.test"
    assert message.rcpt_tos == ("b@x.test",)
    assert message.message["Subject"] == "async"
    assert message.message.get_content() == "hello from aiosmtplib\r\n"


def test_quit_221_then_eof(server: Server, raw: Callable[[], Raw]) -> None:
    conn = raw()
    conn.reply()
    assert conn.command("QUIT") == [b"221 2.0.0 Bye\r\n"]
    assert conn.eof()
    (session,) = ended_sessions(server, 1)
    assert session.reply_codes == (220, 221)
    assert session.violations == ()


def test_pipelined_commands_in_one_write(server: Server, raw: Callable[[], Raw]) -> None:
    conn = raw()
    conn.reply()
    conn.command("EHLO client.test")
    conn.send(
        b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n"
        b"Subject: p\r\n\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n"
    )
    replies = [conn.reply() for _ in range(7)]
    firsts = [r[0][:4] for r in replies]
    assert firsts == [b"250 ", b"250 ", b"250 ", b"354 ", b"250 ", b"250 ", b"221 "]
    assert conn.eof()
    (message,) = server.messages
    assert message.rcpt_tos == ("b@x.test", "c@x.test")
    assert message.data == b"Subject: p\r\n\r\nbody\r\n"


def test_several_messages_on_one_connection(server: Server) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        for i in range(3):
            client.sendmail("a@x.test", [f"r{i}@x.test"], f"Subject: {i}\r\n\r\nx\r\n")
    assert [m.subject for m in server.messages] == ["0", "1", "2"]
    assert len({m.queue_id for m in server.messages}) == 3
    assert {m.session for m in server.messages} == {1}


def test_mail_before_helo_accepted_but_recorded(server: Server, raw: Callable[[], Raw]) -> None:
    conn = raw()
    conn.reply()
    assert conn.command("MAIL FROM:<a@x.test>")[0].startswith(b"250 ")
    conn.command("QUIT")
    assert conn.eof()
    assert kinds(ended_sessions(server, 1)[0]) == ["no-helo"]


def test_no_quit_is_a_violation(server: Server, raw: Callable[[], Raw]) -> None:
    conn = raw()
    conn.reply()
    conn.command("EHLO client.test")
    conn.close()
    assert kinds(ended_sessions(server, 1)[0]) == ["no-quit"]


def test_unknown_command_500(server: Server, raw: Callable[[], Raw]) -> None:
    conn = raw()
    conn.reply()
    assert conn.command("FROB x") == [b'500 5.5.2 Error: command "FROB" not recognized\r\n']
    assert conn.command("NOOP") == [b"250 2.0.0 Ok\r\n"]
