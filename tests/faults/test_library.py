"""The built-in scenario library: every new file loads, says what a correct client does, and
behaves on the wire as it says (with smtplib, aiosmtplib or a raw socket)."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import time
from collections.abc import Callable
from email.message import EmailMessage

import aiosmtplib
import pytest

from smtpfake.scenario import resolve, scenario_files
from smtpfake.scenario.faults.delay import Delay
from smtpfake.scenario.faults.pacing import Drip
from smtpfake.scenario.faults.silence import Hang
from smtpfake.server import Server

from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds
from .helpers import retimed

LIBRARY = (
    "450-mailbox-busy",
    "451-local-error",
    "452-insufficient-storage",
    "452-too-many-recipients",
    "550-one-recipient-unknown",
    "552-message-too-big",
    "554-at-greeting",
    "554-after-data",
    "421-after-dot",
    "slow-greeting",
    "hang-after-data",
    "dripping-replies",
    "close-without-reply",
    "helo-only",
    "454-tls-not-available",
    "rst-at-greeting",
)
BODY = b"Subject: hello\r\n\r\nhi there\r\n"


@pytest.mark.parametrize("name", LIBRARY)
def test_each_scenario_is_listed_loads_and_is_documented(name: str) -> None:
    assert name in scenario_files()
    loaded = resolve(name)
    assert loaded.name == name
    assert loaded.summary and "\n" not in loaded.summary and len(loaded.summary) <= 110
    assert len(loaded.expect) > 40
    assert loaded.description


def sendmail(
    server: Server, to: list[str], body: bytes = BODY, timeout: float = 2.0
) -> dict[str, tuple[int, bytes]]:
    """smtplib's sendmail on a new connection; the recipients it refused."""
    with smtplib.SMTP(server.host, server.port, timeout=timeout) as client:
        return client.sendmail("a@x.test", to, body)


def greet(conn: Raw) -> None:
    assert conn.reply_bytes().startswith(b"220 ")
    assert conn.command_bytes("EHLO c.test").startswith(b"250-")


# -- transient and permanent replies -------------------------------------------------------------


def test_450_mailbox_busy_refuses_every_recipient_on_every_connection(server: Server) -> None:
    server.use("450-mailbox-busy")
    for _ in range(2):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            sendmail(server, ["b@x.test", "c@x.test"])
        assert {code for code, _ in refused.value.recipients.values()} == {450}
        assert refused.value.recipients["b@x.test"][1] == b"4.2.1 Mailbox busy, try again later"
    assert server.messages == ()
    for session in ended_sessions(server, 2):
        assert "rset" in [c.split()[0] for c in session.commands]  # nothing to send: RSET, QUIT
        assert "data" not in session.commands


def test_451_local_error_refuses_the_message_and_keeps_the_connection(server: Server) -> None:
    server.use("451-local-error")
    with smtplib.SMTP(server.host, server.port, timeout=2) as client:
        with pytest.raises(smtplib.SMTPDataError) as err:
            client.sendmail("a@x.test", ["b@x.test"], BODY)
        assert (err.value.smtp_code, err.value.smtp_error[:6]) == (451, b"4.3.0 ")
        assert client.noop()[0] == 250
    assert server.messages == ()


def test_452_insufficient_storage_refuses_mail_from(server: Server) -> None:
    server.use("452-insufficient-storage")
    with pytest.raises(smtplib.SMTPSenderRefused) as err:
        sendmail(server, ["b@x.test"])
    assert err.value.smtp_code == 452
    assert err.value.smtp_error == b"4.3.1 Insufficient system storage"
    assert server.messages == ()


def test_452_too_many_recipients_then_the_rest_in_a_new_transaction(server: Server) -> None:
    server.use("452-too-many-recipients")
    to = ["b@x.test", "c@x.test", "d@x.test", "e@x.test"]
    with smtplib.SMTP(server.host, server.port, timeout=2) as client:
        refused = client.sendmail("a@x.test", to, BODY)
        assert {k: v[0] for k, v in refused.items()} == {"d@x.test": 452, "e@x.test": 452}
        assert refused["d@x.test"][1] == b"4.5.3 Error: too many recipients"
        # what a correct client does next: the refused ones, again within the limit
        assert client.sendmail("a@x.test", list(refused), BODY) == {}
    first, second = server.messages
    assert first.rcpt_tos == ("b@x.test", "c@x.test")
    assert second.rcpt_tos == ("d@x.test", "e@x.test")


def test_550_one_recipient_unknown_the_others_get_the_message(server: Server) -> None:
    server.use("550-one-recipient-unknown")
    refused = sendmail(server, ["unknown@x.test", "b@x.test", "Unknown.Person@x.test", "c@x.test"])
    assert set(refused) == {"unknown@x.test", "Unknown.Person@x.test"}
    code, text = refused["unknown@x.test"]
    assert (code, text[:6]) == (550, b"5.1.1 ")
    (message,) = server.messages
    assert message.rcpt_tos == ("b@x.test", "c@x.test")


def test_552_on_a_declared_size_before_any_data(server: Server) -> None:
    server.use("552-message-too-big")
    big = b"Subject: big\r\n\r\n" + b"x" * 70 + b"\r\n" * 0 + (b"y" * 78 + b"\r\n") * 200
    with smtplib.SMTP(server.host, server.port, timeout=2) as client:
        client.ehlo("c.test")
        assert client.esmtp_features["size"] == "10240"
        with pytest.raises(smtplib.SMTPSenderRefused) as err:
            client.sendmail("a@x.test", ["b@x.test"], big)  # smtplib declares SIZE=
        assert (err.value.smtp_code, err.value.smtp_error[:6]) == (552, b"5.3.4 ")
        # a message within the limit goes through on the same connection
        assert client.sendmail("a@x.test", ["b@x.test"], BODY) == {}
    (session,) = ended_sessions(server, 1)
    assert any(c.lower().startswith("mail from:<a@x.test> size=") for c in session.commands)
    assert len(server.messages) == 1


def test_552_after_the_data_when_no_size_was_declared(server: Server) -> None:
    server.use("552-message-too-big")
    big = b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * 200
    with smtplib.SMTP(server.host, server.port, timeout=2) as client:
        client.ehlo("c.test")
        assert client.mail("a@x.test")[0] == 250  # no SIZE= parameter
        assert client.rcpt("b@x.test")[0] == 250
        code, text = client.data(big)
        assert (code, text[:6]) == (552, b"5.3.4 ")
    assert server.messages == ()


def test_554_at_greeting_refuses_the_session_and_waits_for_quit(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use("554-at-greeting")
    with pytest.raises(smtplib.SMTPConnectError) as err:
        smtplib.SMTP(server.host, server.port, timeout=2)
    assert err.value.smtp_code == 554
    polite = raw()  # what a correct client does: QUIT, and nothing else
    assert polite.reply_bytes() == b"554 smtpfake.test No SMTP service here\r\n"
    assert polite.command_bytes("QUIT") == b"221 2.0.0 Bye\r\n"
    assert polite.rest() == b""
    pushy = raw()  # §3.1: anything else gets 503 until QUIT
    assert pushy.reply_bytes().startswith(b"554 ")
    for command in ("EHLO c.test", "HELO c.test", "MAIL FROM:<a@x.test>", "NOOP", "RSET"):
        assert (
            pushy.command_bytes(command) == b"503 5.5.1 Error: no SMTP service here, send QUIT\r\n"
        )
    assert pushy.command_bytes("QUIT") == b"221 2.0.0 Bye\r\n"
    assert pushy.rest() == b""
    first, second, _ = ended_sessions(server, 3)
    assert kinds(first) == ["no-quit"]  # smtplib hangs up without QUIT: it fails the RFC here
    assert kinds(second) == []
    assert server.messages == ()


def test_554_after_data_refuses_the_message_for_good(server: Server) -> None:
    server.use("554-after-data")
    with smtplib.SMTP(server.host, server.port, timeout=2) as client:
        for _ in range(2):
            with pytest.raises(smtplib.SMTPDataError) as err:
                client.sendmail("a@x.test", ["b@x.test"], BODY)
            assert err.value.smtp_code == 554
            assert err.value.smtp_error == b"5.7.1 Message rejected, transaction failed"
        assert client.noop()[0] == 250
    assert server.messages == ()


def test_421_after_dot_a_retrying_client_delivers_exactly_once(server: Server) -> None:
    server.use("421-after-dot")
    with pytest.raises(smtplib.SMTPDataError) as err:
        sendmail(server, ["b@x.test"])
    assert err.value.smtp_code == 421
    assert not server.messages  # not accepted: the client must retry
    assert sendmail(server, ["b@x.test"]) == {}
    first, second = ended_sessions(server, 2)
    assert first.replies[-2:][0].startswith("421 4.3.2 ")
    assert [e for e in first.transcript if e.side == "server"][-1].text == "(connection closed)"
    assert kinds(first) == []  # smtplib did not talk after the 421
    (message,) = server.messages
    assert message.session == second.index


# -- timing ------------------------------------------------------------------------------------


def test_slow_greeting_outlasts_a_short_client_timeout(
    server: Server, raw: Callable[..., Raw]
) -> None:
    (rule,) = resolve("slow-greeting").rules
    assert rule.faults == (Delay(seconds=30.0),)  # longer than a typical client's 10-30 s
    server.use("slow-greeting")
    started = time.monotonic()
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        smtplib.SMTP(server.host, server.port, timeout=0.2)
    assert time.monotonic() - started < 2.0
    conn = raw(timeout=0.3)
    with pytest.raises(TimeoutError):
        conn.sock.recv(100)


def test_slow_greeting_greets_once_the_delay_is_over(server: Server) -> None:
    server.use(retimed(resolve("slow-greeting"), Delay, seconds=0.2))
    started = time.monotonic()
    assert sendmail(server, ["b@x.test"], timeout=2) == {}
    assert time.monotonic() - started > 0.2
    assert len(server.messages) == 1


def test_hang_after_data_the_client_times_out_and_nothing_is_recorded(server: Server) -> None:
    (rule,) = resolve("hang-after-data").rules
    assert rule.faults == (Hang(seconds=3600.0),)  # beyond RFC 5321's 10 minutes
    server.use("hang-after-data")
    with smtplib.SMTP(server.host, server.port, timeout=0.3) as client:
        assert client.ehlo("c.test")[0] == 250
        client.mail("a@x.test")
        client.rcpt("b@x.test")
        started = time.monotonic()
        with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
            client.data(BODY)
        assert 0.25 < time.monotonic() - started < 2.0
    assert server.messages == ()


def test_hang_after_data_ends_in_a_close_without_reply(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use(retimed(resolve("hang-after-data"), Hang, seconds=0.2))
    conn = raw()
    greet(conn)
    for command in ("MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>"):
        assert conn.command_bytes(command).startswith(b"250 ")
    assert conn.command_bytes("DATA").startswith(b"354 ")
    started = time.monotonic()
    conn.send(BODY + b".\r\n")
    assert conn.rest() == b""
    assert time.monotonic() - started > 0.15
    assert server.messages == ()


def test_dripping_replies_come_one_byte_every_50_ms(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use("dripping-replies")
    conn = raw()
    got = conn.sock.recv(100)
    first = time.monotonic()
    for _ in range(6):  # bounded: a byte a recv at least (a loaded machine may see two at once)
        if len(got) >= 6:
            break
        got += conn.sock.recv(100)
    sixth = time.monotonic()
    assert got[:6] == b"220 sm"
    # the sixth byte cannot leave before five more drips of 50 ms, however recv groups them
    assert sixth - first > 5 * 0.05 * 0.8


def test_dripping_replies_a_reading_client_delivers(server: Server) -> None:
    server.use(retimed(resolve("dripping-replies"), Drip, interval=0.001))
    assert sendmail(server, ["b@x.test"], timeout=2) == {}
    (message,) = server.messages
    assert message.subject == "hello"


# -- connections ended by the server -----------------------------------------------------------


def test_close_without_reply_at_mail_from(server: Server) -> None:
    server.use("close-without-reply")
    with pytest.raises(smtplib.SMTPServerDisconnected, match="closed"):
        sendmail(server, ["b@x.test"])
    (session,) = ended_sessions(server, 1)
    assert session.commands[-1].lower().startswith("mail from:")
    assert [e for e in session.transcript if e.side == "server"][-1].text == "(connection closed)"
    assert session.reply_codes == (220, 250)
    assert server.messages == ()


def test_rst_at_greeting(server: Server) -> None:
    server.use("rst-at-greeting")
    for _ in range(2):
        # The RST may land before connect() has returned: either call can see it.
        with pytest.raises(ConnectionResetError):
            conn = socket.create_connection((server.host, server.port), timeout=2)
            try:
                conn.recv(100)
            finally:
                conn.close()
    with pytest.raises(OSError, match="reset by peer"):
        smtplib.SMTP(server.host, server.port, timeout=2)
    for session in ended_sessions(server, 3):
        assert [e.text for e in session.transcript] == ["(connection reset)"]


# -- extensions --------------------------------------------------------------------------------


def test_helo_only_smtplib_falls_back_to_helo(server: Server) -> None:
    server.use("helo-only")
    with smtplib.SMTP(server.host, server.port, timeout=2) as client:
        assert client.sendmail("a@x.test", ["b@x.test"], BODY) == {}
        assert client.does_esmtp is False
    (session,) = ended_sessions(server, 1)
    assert [c.split()[0].lower() for c in session.commands[:3]] == ["ehlo", "helo", "mail"]
    assert session.replies[1] == "500 Syntax error, command unrecognized"
    assert session.replies[2] == "250 smtpfake.test"  # HELO: no extensions
    assert "250 Ok" in session.replies  # no enhanced codes without ENHANCEDSTATUSCODES
    assert len(server.messages) == 1


def test_helo_only_aiosmtplib_falls_back_to_helo(server: Server) -> None:
    server.use("helo-only")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@x.test", "b@x.test", "aio"
    message.set_content("hi")

    async def send() -> None:
        await aiosmtplib.send(message, hostname=server.host, port=server.port, timeout=2)

    asyncio.run(send())
    (delivered,) = server.messages
    assert delivered.subject == "aio"
    (session,) = ended_sessions(server, 1)
    assert [c.split()[0].lower() for c in session.commands[:2]] == ["ehlo", "helo"]


def test_454_tls_not_available_then_the_client_decides(server: Server) -> None:
    server.use("454-tls-not-available")
    with smtplib.SMTP(server.host, server.port, timeout=2) as client:
        client.ehlo("c.test")
        assert client.has_extn("starttls")
        with pytest.raises(smtplib.SMTPResponseException) as err:
            client.starttls()
        assert err.value.smtp_code == 454
        assert err.value.smtp_error == b"4.7.0 TLS not available due to temporary reason"
        # opportunistic TLS: the session is unchanged and mail goes through in clear text
        assert client.sendmail("a@x.test", ["b@x.test"], BODY) == {}
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == []
    assert len(server.messages) == 1
