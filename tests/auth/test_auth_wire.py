"""AUTH on a real socket: smtplib and aiosmtplib log in with PLAIN and LOGIN against the engine's
exchange (the adapter only carries lines), and the three AUTH built-ins behave as documented."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Callable
from email.message import EmailMessage

import aiosmtplib
import pytest

from smtpfake.journal import SessionRecord
from smtpfake.server import Server

from ..support import TIMEOUT
from ..support.raw import Raw
from ..support.waits import ended_sessions
from .helpers import auth_scenario, b64, plain

BODY = b"Subject: hello\r\n\r\nhi there\r\n"


def auth_verbs(record: SessionRecord) -> list[str]:
    return [c.split()[1].upper() for c in record.commands if c.upper().startswith("AUTH ")]


def client(server: Server) -> smtplib.SMTP:
    return smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)


@pytest.fixture
def raw(raw: Callable[..., Raw]) -> Callable[[], Raw]:
    """The shared ``raw`` fixture's connections, greeted and past EHLO."""

    def connect() -> Raw:
        conn = raw()
        assert conn.reply_bytes().startswith(b"220 ")
        assert conn.command_bytes("EHLO client.test").startswith(b"250-")
        return conn

    return connect


# -- smtplib ---------------------------------------------------------------------------------------


def test_smtplib_login_then_send(server: Server) -> None:
    server.use(auth_scenario(required=True))
    with client(server) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("auth")
        assert smtp.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
        assert smtp.login("alice", "secret") == (235, b"2.7.0 Authentication successful")
        assert smtp.sendmail("alice@x.test", ["b@x.test"], BODY) == {}
    (record,) = ended_sessions(server, 1)
    assert record.auth_user == "alice"
    assert auth_verbs(record) == ["PLAIN"]  # smtplib prefers PLAIN with an initial response
    assert "secret" not in record.format() and plain("alice", "secret") not in record.format()
    assert [m.mail_from for m in server.messages] == ["alice@x.test"]
    assert record.violations == ()


@pytest.mark.parametrize("initial", [True, False], ids=["initial-response", "no-initial"])
def test_smtplib_auth_login(server: Server, initial: bool) -> None:
    server.use(auth_scenario())
    with client(server) as smtp:
        smtp.ehlo()
        smtp.user, smtp.password = "bob", "hunter2"
        code, _ = smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=initial)
        assert code == 235
    (record,) = ended_sessions(server, 1)
    assert record.auth_user == "bob"
    prompts = [r for r in record.replies if r.startswith("334")]
    assert prompts == (
        ["334 UGFzc3dvcmQ6"] if initial else ["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6"]
    )
    assert "hunter2" not in record.format()


@pytest.mark.parametrize("initial", [True, False], ids=["initial-response", "empty-challenge"])
def test_smtplib_auth_plain(server: Server, initial: bool) -> None:
    server.use(auth_scenario())
    with client(server) as smtp:
        smtp.ehlo()
        smtp.user, smtp.password = "alice", "secret"
        code, _ = smtp.auth("PLAIN", smtp.auth_plain, initial_response_ok=initial)
        assert code == 235
    (record,) = ended_sessions(server, 1)
    assert record.auth_user == "alice"
    assert [r for r in record.replies if r.startswith("334")] == ([] if initial else ["334 "])


def test_smtplib_wrong_password_is_refused_once_per_mechanism(server: Server) -> None:
    server.use(auth_scenario(required=True))
    with client(server) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.login("alice", "wrong")
        assert refused.value.smtp_code == 535
        assert refused.value.smtp_error == b"5.7.8 Authentication credentials invalid"
        with pytest.raises(smtplib.SMTPSenderRefused) as mail:
            smtp.sendmail("alice@x.test", ["b@x.test"], BODY)
        assert mail.value.smtp_code == 530
    (record,) = ended_sessions(server, 1)
    assert record.auth_user is None
    assert auth_verbs(record) == ["PLAIN", "LOGIN"]
    assert server.messages == ()


def test_smtplib_cannot_log_in_when_auth_is_not_set_up(server: Server) -> None:
    with client(server) as smtp, pytest.raises(smtplib.SMTPNotSupportedError):
        smtp.login("alice", "secret")


# -- aiosmtplib ------------------------------------------------------------------------------------


def _message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "bob@x.test", "c@x.test", "hi"
    msg.set_content("hello")
    return msg


def test_aiosmtplib_login_then_send(server: Server) -> None:
    server.use(auth_scenario(required=True))

    async def run() -> None:
        smtp = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=TIMEOUT)
        async with smtp:
            response = await smtp.login("bob", "hunter2")
            assert (response.code, response.message) == (235, "2.7.0 Authentication successful")
            await smtp.send_message(_message())

    asyncio.run(run())
    (record,) = ended_sessions(server, 1)
    assert record.auth_user == "bob"
    assert len(server.messages) == 1


@pytest.mark.parametrize("mechanism", ["plain", "login"])
def test_aiosmtplib_each_mechanism(server: Server, mechanism: str) -> None:
    server.use(auth_scenario())

    async def run() -> None:
        smtp = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=TIMEOUT)
        async with smtp:
            await smtp.ehlo()
            method = smtp.auth_plain if mechanism == "plain" else smtp.auth_login
            with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
                await method("alice", "wrong")
            assert refused.value.code == 535
            assert (await method("alice", "secret")).code == 235

    asyncio.run(run())
    (record,) = ended_sessions(server, 1)
    assert record.auth_user == "alice"
    assert auth_verbs(record) == [mechanism.upper()] * 2


# -- raw bytes -------------------------------------------------------------------------------------


def test_raw_exchange_bytes(server: Server, raw: Callable[[], Raw]) -> None:
    server.use(auth_scenario())
    conn = raw()
    assert conn.command_bytes("AUTH PLAIN") == b"334 \r\n"  # RFC 4954 §4: the space is there
    assert conn.command_bytes("*") == b"501 5.0.0 Authentication cancelled\r\n"
    assert conn.command_bytes("AUTH LOGIN") == b"334 VXNlcm5hbWU6\r\n"
    assert conn.command_bytes("@@@") == b"501 5.5.2 Cannot decode response\r\n"
    assert conn.command_bytes("AUTH CRAM-MD5") == b"504 5.5.4 Unrecognized authentication type\r\n"
    assert conn.command_bytes("MAIL FROM:<a@x.test>") == b"250 2.1.0 Ok\r\n"
    assert conn.command_bytes(f"AUTH PLAIN {plain('alice', 'secret')}") == (
        b"503 5.5.1 Error: AUTH not permitted during a mail transaction\r\n"
    )
    assert conn.command_bytes("RSET").startswith(b"250")
    assert conn.command_bytes(f"AUTH PLAIN {plain('alice', 'secret')}").startswith(b"235 ")
    assert conn.command_bytes("AUTH LOGIN") == b"503 5.5.1 Already authenticated\r\n"
    assert conn.command_bytes("QUIT").startswith(b"221")


def test_raw_responses_sent_ahead_are_read_as_responses(
    server: Server, raw: Callable[[], Raw]
) -> None:
    """The exchange lines arrive in one segment; each is a response, none is a command."""
    server.use(auth_scenario())
    conn = raw()
    conn.sock.sendall(f"AUTH LOGIN\r\n{b64('alice')}\r\n{b64('secret')}\r\nNOOP\r\n".encode())
    assert conn.reply_bytes() == b"334 VXNlcm5hbWU6\r\n"
    assert conn.reply_bytes() == b"334 UGFzc3dvcmQ6\r\n"
    assert conn.reply_bytes().startswith(b"235 ")
    assert conn.reply_bytes().startswith(b"250 ")
    assert conn.command_bytes("QUIT").startswith(b"221 ")
    (record,) = ended_sessions(server, 1)
    assert record.auth_user == "alice"
    # The client did not wait for the 334 challenges (RFC 4954 §4): told once.
    assert [v.kind for v in record.violations if "AUTH response" in v.detail] == ["bad-pipelining"]


def test_raw_over_long_response_line_ends_the_exchange(
    server: Server, raw: Callable[[], Raw]
) -> None:
    server.use(auth_scenario())
    conn = raw()
    assert conn.command_bytes("AUTH PLAIN") == b"334 \r\n"
    assert (
        conn.command_bytes(b"A" * 20000)
        == b"500 5.5.6 Authentication Exchange line is too long\r\n"
    )
    assert conn.command_bytes("NOOP").startswith(b"250 ")


def test_require_tls_in_clear_text(server: Server, raw: Callable[[], Raw]) -> None:
    server.use(auth_scenario(require_tls=True))
    with client(server) as smtp, pytest.raises(smtplib.SMTPNotSupportedError):
        smtp.login("alice", "secret")  # not advertised before TLS, so smtplib does not try
    conn = raw()
    assert conn.command_bytes(f"AUTH PLAIN {plain('alice', 'secret')}") == (
        b"538 5.7.11 Encryption required for requested authentication mechanism\r\n"
    )


# -- the built-ins ---------------------------------------------------------------------------------


def test_builtin_530_auth_required(server: Server) -> None:
    server.use("530-auth-required")
    with client(server) as smtp:  # no credentials
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail("a@x.test", ["b@x.test"], BODY)
        assert (refused.value.smtp_code, refused.value.smtp_error) == (
            530,
            b"5.7.0 Authentication required",
        )
    with client(server) as smtp:
        smtp.login("alice", "secret")
        assert smtp.sendmail("alice@x.test", ["b@x.test"], BODY) == {}
    first, second = ended_sessions(server, 2)
    assert first.auth_user is None and second.auth_user == "alice"
    assert [m.session for m in server.messages] == [second.index]


def test_builtin_535_auth_failed(server: Server) -> None:
    server.use("535-auth-failed")
    with client(server) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.login("alice", "secret")  # the right password, refused all the same
        assert refused.value.smtp_code == 535
    (record,) = ended_sessions(server, 1)
    # smtplib tries each advertised mechanism once and gives up: no loop, no MAIL.
    assert auth_verbs(record) == ["PLAIN", "LOGIN"]
    assert not any(c.upper().startswith("MAIL") for c in record.commands)
    assert record.auth_user is None
    assert [e.rule for e in record.transcript if e.text.startswith("535")] == [
        "credentials refused"
    ] * 2


def test_builtin_454_auth_temporary(server: Server) -> None:
    server.use("454-auth-temporary")

    async def attempt() -> None:
        smtp = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=TIMEOUT)
        async with smtp:
            await smtp.login("alice", "secret")
            await smtp.send_message(_message())

    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as temporary:
        asyncio.run(attempt())
    assert temporary.value.code == 454
    assert server.messages == ()
    asyncio.run(attempt())  # the retry, on connection 2
    first, second = ended_sessions(server, 2)
    assert first.auth_user is None and second.auth_user == "alice"
    assert len(server.messages) == 1 and server.messages[0].session == second.index
