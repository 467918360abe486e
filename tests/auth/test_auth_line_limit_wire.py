"""Long AUTH responses on a real socket, on each event loop: smtplib logs in with a password of
1,000 octets and more (PLAIN after the 334, LOGIN), its PLAIN initial response too long for the
AUTH command is refused as a command line (RFC 4954 §4) and it falls back to LOGIN, and a raw
client's response line of AUTH_LINE_LIMIT octets is read while one more octet gets 500."""

from __future__ import annotations

import smtplib

import pytest

from smtpfake.engine.auth_mask import AUTH_LINE_LIMIT
from smtpfake.journal import SessionRecord
from smtpfake.server import Server

from ..support import TIMEOUT
from ..support.raw import Raw
from ..support.waits import ended_sessions
from .helpers import auth_scenario, plain

#: 1,000 octets (a PLAIN response of 1,346 octets with its CRLF) and 9,000 (12,006: near the limit)
PASSWORDS = ["q" * 1000, "r" * 9000]
OK = (235, b"2.7.0 Authentication successful")


def use(server: Server, password: str, *mechanisms: str) -> None:
    server.use(auth_scenario(users={"carol": password}, mechanisms=list(mechanisms)))


def client(server: Server, password: str) -> smtplib.SMTP:
    smtp = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
    smtp.ehlo()
    smtp.user, smtp.password = "carol", password
    return smtp


def secret_free(record: SessionRecord, password: str) -> bool:
    text = record.format()
    return password not in text and plain("carol", password) not in text


@pytest.mark.parametrize(
    ("mechanism", "initial"),
    [("PLAIN", False), ("LOGIN", True), ("LOGIN", False)],
    ids=["PLAIN-after-334", "LOGIN-initial-response", "LOGIN"],
)
@pytest.mark.parametrize("password", PASSWORDS, ids=len)
def test_smtplib_logs_in_with_a_long_password(
    fresh: Server, password: str, mechanism: str, initial: bool
) -> None:
    use(fresh, password, mechanism)
    with client(fresh, password) as smtp:
        method = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
        assert smtp.auth(mechanism, method, initial_response_ok=initial) == OK
    (record,) = ended_sessions(fresh, 1)
    assert record.auth_user == "carol"
    assert record.violations == ()
    assert secret_free(record, password)


def test_smtplib_login_falls_back_from_a_plain_auth_command_too_long(fresh: Server) -> None:
    # smtplib puts PLAIN's response on the AUTH command, which RFC 4954 §4 forbids when it makes
    # the command too long: refused as a command line; smtplib then tries LOGIN, which works
    password = PASSWORDS[0]
    use(fresh, password, "PLAIN", "LOGIN")
    with client(fresh, password) as smtp:
        assert smtp.login("carol", password) == OK
    (record,) = ended_sessions(fresh, 1)
    assert record.auth_user == "carol"
    assert [r for r in record.replies if r.startswith("500")] == ["500 5.5.6 Line too long"]
    assert [v.kind for v in record.violations] == ["line-too-long"]
    assert secret_free(record, password)


@pytest.mark.parametrize("size", [0, 1000, 4096], ids=["whole", "1000", "4096"])
def test_raw_response_line_of_the_limit_is_read_one_more_octet_is_not(
    fresh: Server, size: int
) -> None:
    use(fresh, PASSWORDS[0], "PLAIN")
    with Raw(fresh) as conn:
        assert conn.reply_bytes().startswith(b"220 ")
        assert conn.command_bytes("EHLO client.test").startswith(b"250-")
        for octets, reply in [
            (AUTH_LINE_LIMIT, b"501 5.5.2 Cannot decode response\r\n"),  # read: not base64
            (AUTH_LINE_LIMIT + 1, b"500 5.5.6 Authentication Exchange line is too long\r\n"),
        ]:
            assert conn.command_bytes("AUTH PLAIN") == b"334 \r\n"
            line = b"A" * (octets - 2) + b"\r\n"
            pieces = [line] if not size else [line[i : i + size] for i in range(0, len(line), size)]
            for piece in pieces:
                conn.send(piece)
            assert conn.reply_bytes() == reply
        assert conn.command_bytes("QUIT").startswith(b"221 ")
