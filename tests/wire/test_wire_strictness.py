"""``server.bare_cr``, the bare LF/CR policies on AUTH lines and BDAT command lines, and
``server.strict_envelope`` on a real loopback socket, with smtplib, aiosmtplib and raw sockets."""

from __future__ import annotations

import base64
import smtplib
import socket
from collections.abc import Callable

import aiosmtplib
import pytest

from smtpfake.control import Control
from smtpfake.server import Server

from ..support import TIMEOUT, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds

CR_MESSAGE = b"Subject: cr\r\n\r\nhello\rworld\r\n"  # smtplib sends bytes as given
CRLF_MESSAGE = b"Subject: crlf\r\n\r\nhello\r\n"
REFUSED_CR = b"550 5.5.2 smtpfake.test Error: bare <CR> received\r\n"
REFUSED_LF = b"550 5.5.2 smtpfake.test Error: bare <LF> received\r\n"
AUTH = {"users": {"user": "pw"}}


def test_reject_refuses_a_message_with_a_bare_cr_and_the_session_goes_on(server: Server) -> None:
    server.use(scenario(bare_cr="reject"))
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("a@b.test", ["c@d.test"], CR_MESSAGE)
        assert refused.value.smtp_code == 550
        assert refused.value.smtp_error == b"5.5.2 smtpfake.test Error: bare <CR> received"
        client.sendmail("a@b.test", ["c@d.test"], CRLF_MESSAGE)
    (message,) = server.messages
    assert message.data == CRLF_MESSAGE
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == ["bare-cr"]


def test_by_default_a_bare_cr_is_kept_and_recorded(server: Server) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.sendmail("a@b.test", ["c@d.test"], CR_MESSAGE)
    (message,) = server.messages
    assert message.data == CR_MESSAGE
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == ["bare-cr"]


def test_cr_dot_cr_is_text_and_disconnect_closes_at_the_end(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use(scenario(bare_cr="disconnect"))
    conn = raw()
    conn.reply()
    for command in ("EHLO c.test", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>", "DATA"):
        conn.command(command)
    conn.send(b"x\r.\rMAIL FROM:<evil@x.test>\r\nRCPT TO:<v@d.test>\r\nDATA\r\nhi\r\n.\r\n")
    assert conn.reply_bytes() == REFUSED_CR.replace(b"550", b"521")
    assert conn.eof()
    conn.close()
    (session,) = ended_sessions(server, 1)
    assert server.messages == ()
    assert kinds(session) == ["bare-cr"]


def test_a_command_with_a_bare_cr_is_refused_and_shown_in_the_transcript(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use(scenario(bare_cr="reject"))
    conn = raw()
    conn.reply()
    conn.send(b"EHLO c.test\r\r\n")
    assert conn.reply_bytes() == REFUSED_CR
    assert conn.command_code("QUIT") == 221
    conn.close()
    (session,) = ended_sessions(server, 1)
    assert next(e.text for e in session.transcript if e.side == "client") == "EHLO c.test\r"
    assert kinds(session) == ["bare-cr"]


@pytest.mark.parametrize(("setting", "ending"), [("bare_lf", b"\n"), ("bare_cr", b"\r\r\n")])
def test_an_auth_response_with_a_bare_lf_or_cr_is_refused(
    server: Server, raw: Callable[..., Raw], setting: str, ending: bytes
) -> None:
    server.use(scenario(auth=AUTH, **{setting: "reject"}))
    conn = raw()
    conn.reply()
    conn.command("EHLO c.test")
    assert conn.command_code("AUTH LOGIN") == 334
    conn.send(base64.b64encode(b"user") + ending)
    assert conn.reply_bytes() == (REFUSED_LF if setting == "bare_lf" else REFUSED_CR)
    assert conn.command_code("NOOP") == 250  # a command again: the exchange is over
    assert conn.command_code("QUIT") == 221
    conn.close()
    (session,) = ended_sessions(server, 1)
    assert session.auth_user is None
    assert kinds(session) == ["bare-lf" if setting == "bare_lf" else "bare-cr"]


def test_by_default_an_auth_response_with_a_bare_lf_is_recorded_and_taken(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use(scenario(auth=AUTH))
    conn = raw()
    conn.reply()
    conn.command("EHLO c.test")
    assert conn.command_code("AUTH PLAIN") == 334
    conn.send(base64.b64encode(b"\0user\0pw") + b"\n")
    assert conn.code() == 235
    assert conn.command_code("QUIT") == 221
    conn.close()
    (session,) = ended_sessions(server, 1)
    assert session.auth_user == "user"
    assert kinds(session) == ["bare-lf"]


def test_a_refused_bdat_line_has_its_chunk_discarded_not_run(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use(scenario(bare_lf="reject", extensions_add=["CHUNKING"]))
    conn = raw()
    conn.reply()
    for command in ("EHLO c.test", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>"):
        conn.command(command)
    chunk = b"RSET\r\nQUIT\r\n"  # octets of the chunk: never read as commands
    conn.send(b"BDAT %d LAST\n" % len(chunk) + chunk)
    assert conn.reply_bytes() == REFUSED_LF
    assert conn.command_code("NOOP") == 250  # still connected: QUIT was chunk octets
    assert conn.command_code("QUIT") == 221
    conn.sock.shutdown(socket.SHUT_WR)
    conn.close()
    (session,) = ended_sessions(server, 1)
    assert server.messages == ()
    assert kinds(session) == ["bare-lf"]


def test_a_path_without_angle_brackets_from_a_raw_socket(
    server: Server, raw: Callable[..., Raw]
) -> None:
    conn = raw()
    conn.reply()
    conn.command("EHLO c.test")
    assert conn.command_code("MAIL FROM:a@b.test") == 250
    assert conn.command_code("RCPT TO:c@d.test") == 250
    assert conn.command_code("QUIT") == 221
    conn.close()
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == ["path-syntax"]


@pytest.mark.asyncio
@pytest.mark.parametrize(("strict", "code"), [(False, 250), (True, 501)])
async def test_strict_envelope_with_aiosmtplib(server: Server, strict: bool, code: int) -> None:
    server.use(scenario(strict_envelope=strict))
    client = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=TIMEOUT)
    await client.connect()
    try:
        await client.ehlo(hostname="client.test")
        response = await client.execute_command(b"MAIL", b"FROM:a@b.test")
        assert response.code == code
        assert (await client.execute_command(b"MAIL", b"FROM:<a@b.test>")).code == (
            503 if code == 250 else 250  # nested MAIL when the first opened a transaction
        )
    finally:
        await client.quit()
    (session,) = ended_sessions(server, 1)
    expected = ["bad-syntax"] if strict else ["path-syntax", "bad-sequence"]
    assert kinds(session) == expected


def test_the_fixtures_transcript_shows_a_bare_cr_as_an_octet(smtpfake: Control) -> None:
    with socket.create_connection((smtpfake.host, smtpfake.port), timeout=TIMEOUT) as s:
        s.recv(100)
        s.sendall(b"NOOP\r\r\n")
        assert s.recv(100).startswith(b"250 ")  # carried out (bare_cr: accept)
        s.sendall(b"QUIT\r\n")
        for _ in range(10):
            if not s.recv(100):
                break
    assert "C: NOOP\\x0d\n" in smtpfake.transcript()  # seen, not played to the terminal
    assert [v.kind for v in smtpfake.violations] == ["bare-cr"]
