"""What the client did wrong, seen on a real socket: correct clients (smtplib, aiosmtplib) leave no
violation; talking early and pipelining, which only the wire can see, are recorded."""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import time
from collections.abc import Callable
from email.message import EmailMessage

import aiosmtplib
import pytest

from smtpfake.server import Server

from ..support import TIMEOUT, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds


def message(text: str = "hello\n") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@x.test", "b@x.test", "Hi"
    msg.set_content(text)
    return msg


# -- correct clients: zero violations ------------------------------------------------------------


def test_smtplib_sending_normal_mail_makes_no_violation(server: Server) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.send_message(message())
        # 8-bit text with the BODY=8BITMIME it needs (smtplib does not add it by itself: below)
        client.send_message(message("caf\u00e9 au lait\n"), mail_options=["BODY=8BITMIME"])
        client.sendmail("a@x.test", ["b@x.test", "c@x.test"], "Subject: no final CRLF\r\n\r\nhi")
        client.noop()
    (session,) = ended_sessions(server, 1)
    assert len(session.messages) == 3
    assert session.violations == (), session.format()


def test_smtplib_sending_8bit_text_without_body_8bitmime_is_told(server: Server) -> None:
    # EmailMessage.set_content() picks Content-Transfer-Encoding 8bit for short UTF-8 lines, and
    # smtplib's send_message adds BODY=8BITMIME only for non-ASCII addresses: RFC 6152 §3 wants it.
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.send_message(message("caf\u00e9 au lait\n"))
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == ["8bit-without-8bitmime"]
    assert len(session.messages) == 1  # accepted all the same, as a lenient server would


@pytest.mark.asyncio
async def test_aiosmtplib_sending_normal_mail_makes_no_violation(server: Server) -> None:
    async with aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=TIMEOUT) as client:
        assert client.supports_extension("pipelining")  # offered: the client may use it
        await client.send_message(message())
        await client.send_message(message("caf\u00e9 au lait\n"))
        await client.sendmail("a@x.test", ["b@x.test"], b"Subject: bare\n\nLF only\n")
    sessions = await asyncio.to_thread(ended_sessions, server, 1)
    assert len(sessions[0].messages) == 3
    assert sessions[0].violations == (), sessions[0].format()


def test_smtplib_without_pipelining_or_8bitmime_makes_no_violation(server: Server) -> None:
    server.use(scenario(extensions=["SIZE 100000", "ENHANCEDSTATUSCODES"]))
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.send_message(message())
    (session,) = ended_sessions(server, 1)
    assert session.violations == (), session.format()


# -- pipelining ----------------------------------------------------------------------------------


def test_pipelining_when_it_was_not_offered(server: Server, raw: Callable[..., Raw]) -> None:
    server.use(scenario(extensions=["SIZE 100000", "8BITMIME"]))
    conn = raw()
    conn.reply_bytes()
    conn.command_bytes("EHLO client.test")
    conn.send(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n")  # one write: RCPT did not wait
    assert conn.reply_bytes() == b"250 Ok\r\n"
    assert conn.reply_bytes() == b"250 Ok\r\n"
    conn.command_bytes("QUIT")
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == ["pipelining-without-extension"]
    assert "RCPT was sent before the reply to MAIL" in session.violations[0].detail


def test_pipelining_when_it_was_offered(server: Server, raw: Callable[..., Raw]) -> None:
    conn = raw()
    conn.reply_bytes()
    conn.command_bytes("EHLO client.test")
    conn.send(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n")
    codes = [conn.reply_bytes()[:3] for _ in range(4)]
    assert codes == [b"250", b"250", b"250", b"354"]
    conn.send(b"Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n")  # content, ".", QUIT in one group
    assert conn.reply_bytes()[:3] == b"250"
    assert conn.reply_bytes()[:3] == b"221"
    (session,) = ended_sessions(server, 1)
    assert session.violations == (), session.format()


def test_message_data_sent_before_the_354(server: Server, raw: Callable[..., Raw]) -> None:
    conn = raw()
    conn.reply_bytes()
    conn.command_bytes("EHLO client.test")
    conn.send(
        b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n"
    )
    codes = [conn.reply_bytes()[:3] for _ in range(4)]
    assert codes == [b"250", b"250", b"354", b"250"]
    conn.command_bytes("QUIT")
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == ["bad-pipelining"]
    assert "before the reply to DATA" in session.violations[0].detail


def test_a_command_after_ehlo_unanswered(server: Server, raw: Callable[..., Raw]) -> None:
    conn = raw()
    conn.reply_bytes()
    conn.send(b"EHLO client.test\r\nMAIL FROM:<a@x.test>\r\n")
    assert conn.reply_bytes().startswith(b"250-smtpfake.test")
    assert conn.reply_bytes()[:3] == b"250"
    conn.command_bytes("QUIT")
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == ["bad-pipelining"]


# -- talking before the greeting -----------------------------------------------------------------


def test_early_talk_during_a_slow_greeting(server: Server, raw: Callable[..., Raw]) -> None:
    server.use(scenario({"on": "connect", "delay": 0.2}))
    conn = raw()
    conn.send(b"EHLO client.test\r\n")  # without waiting for the 220
    assert conn.reply_bytes().startswith(b"220 ")
    assert conn.reply_bytes().startswith(b"250-")  # still served
    conn.command_bytes("QUIT")
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == ["early-talker"]


def test_a_patient_client_during_a_slow_greeting(server: Server) -> None:
    server.use(scenario({"on": "connect", "delay": 0.2}))
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.send_message(message())
    (session,) = ended_sessions(server, 1)
    assert session.violations == ()


@pytest.mark.parametrize(
    "rule",
    [
        {"on": "connect", "hang": 0.2},
        {"on": "connect", "delay": 0.2, "reply": "421 4.3.2 go away"},
        {"on": "connect", "delay": 0.2, "reset": True},
    ],
    ids=["hang", "421", "reset"],
)
def test_early_talk_when_no_greeting_comes(
    server: Server, raw: Callable[..., Raw], rule: dict[str, object]
) -> None:
    server.use(scenario(rule))
    conn = raw()
    conn.send(b"EHLO client.test\r\n")
    conn.rest()
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == ["early-talker"]  # not sent-after-close: it came before the close


def test_a_client_that_waits_out_a_hang_at_connect(server: Server, raw: Callable[..., Raw]) -> None:
    server.use(scenario({"on": "connect", "hang": 0.2}))
    conn = raw()
    start = time.monotonic()
    assert conn.rest() == b""
    assert time.monotonic() - start >= 0.15
    (session,) = ended_sessions(server, 1)
    assert session.violations == ()


# -- the rest, end to end --------------------------------------------------------------------------


def test_bare_lf_and_8bit_over_the_wire(server: Server, raw: Callable[..., Raw]) -> None:
    conn = raw()
    conn.reply_bytes()
    conn.command_bytes("EHLO client.test")
    conn.command_bytes("MAIL FROM:<a@x.test> SIZE=10")
    conn.command_bytes("RCPT TO:<b@x.test>")
    conn.command_bytes("DATA")
    conn.send(b"Subject: caf\xc3\xa9\n\nbody\r\n" + b"x" * 1200 + b"\r\n.\r\n")
    assert conn.reply_bytes()[:3] == b"250"
    conn.send(b"QUIT\n")
    assert conn.reply_bytes()[:3] == b"221"
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == [
        "bare-lf",  # in the message: once for it, whatever the count
        "8bit-without-8bitmime",
        "line-too-long",
        "size-exceeded",
        "bare-lf",  # in the QUIT command
    ]


def test_a_retry_too_soon_over_the_wire(server: Server) -> None:
    server.use(
        scenario({"on": "rcpt", "connection": 1, "reply": "451 4.7.1 later"}, retry_after=60)
    )
    for _ in range(2):
        with (
            smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client,
            contextlib.suppress(smtplib.SMTPRecipientsRefused),
        ):
            client.send_message(message())
    first, second = ended_sessions(server, 2)
    assert kinds(first) == []
    assert kinds(second) == ["retry-too-soon"]
    assert len(second.messages) == 1


@pytest.mark.asyncio
async def test_the_reader_buffer_the_adapter_looks_at_exists() -> None:
    # The adapter sees pipelining and early talk in asyncio.StreamReader's private _buffer; if a
    # Python release renames it, this fails rather than the detection going quiet.
    reader = asyncio.StreamReader()
    reader.feed_data(b"EHLO x\r\n")
    assert isinstance(reader._buffer, bytearray)  # type: ignore[attr-defined]
    assert bytes(reader._buffer) == b"EHLO x\r\n"  # type: ignore[attr-defined]
