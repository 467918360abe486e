"""strict-503-ordering: out-of-order commands get "503 5.5.1", the state does not change."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import aiosmtplib
import pytest

from smtpfake.server import Server

from ..support import TIMEOUT
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds

MESSAGE = "From: a@x.test\r\nTo: b@x.test\r\nSubject: order\r\n\r\nhello\r\n"


def is_503(reply: list[bytes]) -> bool:
    return len(reply) == 1 and reply[0].startswith(b"503 5.5.1 ")


def deliver(conn: Raw) -> None:
    """A correct transaction on an open connection after EHLO/HELO."""
    assert conn.command("MAIL FROM:<a@x.test>") == [b"250 2.1.0 Ok\r\n"]
    assert conn.command("RCPT TO:<b@x.test>") == [b"250 2.1.5 Ok\r\n"]
    assert conn.command("DATA")[0].startswith(b"354 ")
    assert conn.command(b"Subject: ok\r\n\r\nbody\r\n.")[0].startswith(b"250 2.0.0 Ok: queued")


@pytest.fixture
def strict(server: Server, raw: Callable[[], Raw]) -> Raw:
    server.use("strict-503-ordering")
    conn = raw()
    assert conn.code() == 220
    return conn


@pytest.mark.parametrize("command", ["MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "DATA"])
def test_before_helo(server: Server, strict: Raw, command: str) -> None:
    reply = strict.command(command)
    assert reply == [b"503 5.5.1 Error: send HELO first\r\n"]
    # the connection stays open and a correct sequence then succeeds
    assert strict.command("EHLO client.test")[-1].startswith(b"250 ")
    deliver(strict)
    assert strict.command("QUIT")[0].startswith(b"221")
    assert strict.eof()
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == ["bad-sequence"]
    assert session.violations[0].command == command.split()[0]
    assert len(server.messages) == 1


def test_every_out_of_order_command(server: Server, strict: Raw) -> None:
    wrong = 0

    def refused(command: str) -> None:
        nonlocal wrong
        reply = strict.command(command)
        assert is_503(reply), (command, reply)
        wrong += 1

    refused("MAIL FROM:<a@x.test>")  # before EHLO
    assert strict.command("EHLO client.test")[-1].startswith(b"250 ")
    refused("RCPT TO:<b@x.test>")  # before MAIL
    refused("DATA")  # before MAIL
    assert strict.command("MAIL FROM:<a@x.test>")[0].startswith(b"250 ")
    refused("DATA")  # before an accepted RCPT
    refused("MAIL FROM:<other@x.test>")  # nested
    assert strict.command("RCPT TO:<b@x.test>")[0].startswith(b"250 ")
    refused("MAIL FROM:<other@x.test>")  # nested, after a recipient
    assert strict.command("RSET") == [b"250 2.0.0 Ok\r\n"]
    refused("RCPT TO:<b@x.test>")  # after RSET
    refused("DATA")  # after RSET
    deliver(strict)
    refused("DATA")  # the transaction is over after the message
    refused("RCPT TO:<b@x.test>")
    assert strict.command("QUIT")[0].startswith(b"221 ")
    assert strict.eof()
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == ["bad-sequence"] * wrong
    (message,) = server.messages
    assert message.mail_from == "a@x.test"
    assert message.rcpt_tos == ("b@x.test",)


def test_a_503_does_not_change_the_transaction(server: Server, strict: Raw) -> None:
    strict.command("EHLO client.test")
    strict.command("MAIL FROM:<first@x.test>")
    assert is_503(strict.command("MAIL FROM:<second@x.test>"))
    strict.command("RCPT TO:<b@x.test>")
    strict.command("DATA")
    strict.command(b"Subject: s\r\n\r\nbody\r\n.")
    (message,) = server.journal.wait(lambda j: j.messages(), 2.0)
    assert message.mail_from == "first@x.test"


@pytest.mark.parametrize("phase", ["greeted-only", "before-helo", "mail", "rcpt"])
def test_noop_rset_vrfy_help_never_503(server: Server, strict: Raw, phase: str) -> None:
    if phase != "before-helo":
        strict.command("EHLO client.test")
    if phase in ("mail", "rcpt"):
        strict.command("MAIL FROM:<a@x.test>")
    if phase == "rcpt":
        strict.command("RCPT TO:<b@x.test>")
    for command in ("NOOP", "VRFY someone", "HELP", "RSET"):
        reply = strict.command(command)
        assert not reply[0].startswith(b"5"), (phase, command, reply)
    strict.command("QUIT")
    assert strict.eof()
    assert kinds(ended_sessions(server, 1)[0]) == []


def test_smtplib_leaves_no_violations(server: Server) -> None:
    server.use("strict-503-ordering")
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.noop()
        assert client.sendmail("a@x.test", ["b@x.test", "c@x.test"], MESSAGE) == {}
        client.rset()
        assert client.sendmail("a@x.test", ["d@x.test"], MESSAGE) == {}
    (session,) = ended_sessions(server, 1)
    assert session.violations == ()
    assert 503 not in session.reply_codes
    assert len(server.messages) == 2


@pytest.mark.asyncio
async def test_aiosmtplib_leaves_no_violations(server: Server) -> None:
    server.use("strict-503-ordering")
    errors, _ = await aiosmtplib.send(
        MESSAGE,
        sender="a@x.test",
        recipients=["b@x.test"],
        hostname=server.host,
        port=server.port,
        timeout=TIMEOUT,
    )
    assert errors == {}
    (session,) = ended_sessions(server, 1)
    assert session.violations == ()
    assert len(server.messages) == 1


def test_smtplib_out_of_order_gets_503(server: Server) -> None:
    server.use("strict-503-ordering")
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        code, text = client.mail("a@x.test")
        assert (code, text) == (503, b"5.5.1 Error: send HELO first")
        client.ehlo("client.test")
        assert client.rcpt("b@x.test")[0] == 503
        assert client.mail("a@x.test")[0] == 250
        assert client.rcpt("b@x.test")[0] == 250
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == ["bad-sequence", "bad-sequence"]
