"""A bare LF on a real loopback socket: smtplib sends bytes as given (a message with LF line
endings reaches the wire so), and ``server.bare_lf`` answers it as Postfix would; the 2023 "SMTP
smuggling" shape from a raw socket, ended or not by each policy."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Callable

import pytest

from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds

LF_MESSAGE = b"Subject: lf\n\nhello\n"  # smtplib ends it with <CRLF>.<CRLF> itself
CRLF_MESSAGE = b"Subject: crlf\r\n\r\nhello\r\n"


def test_reject_refuses_a_message_with_a_bare_lf_and_the_session_goes_on(server: Server) -> None:
    server.use(scenario(bare_lf="reject"))
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("a@b.test", ["c@d.test"], LF_MESSAGE)
        assert refused.value.smtp_code == 550
        assert refused.value.smtp_error == b"5.5.2 smtpfake.test Error: bare <LF> received"
        client.sendmail("a@b.test", ["c@d.test"], CRLF_MESSAGE)  # the next one, sent right
    (message,) = server.messages
    assert message.data == CRLF_MESSAGE
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == ["bare-lf"]


def test_disconnect_answers_521_and_closes(server: Server) -> None:
    server.use(scenario(bare_lf="disconnect"))
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("a@b.test", ["c@d.test"], LF_MESSAGE)
        assert refused.value.smtp_code == 521
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()  # the server has closed
    assert server.messages == ()
    (session,) = ended_sessions(server, 1)
    # no no-quit: the server hung up; smtplib's RSET after the 521 (sendmail's clean-up) came
    # after the server's last reply, as after a rule's `521` with `close`
    assert kinds(session) == ["bare-lf", "sent-after-close"]


def test_normalize_accepts_the_message_as_sent(server: Server) -> None:
    server.use(scenario(bare_lf="normalize"))
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.sendmail("a@b.test", ["c@d.test"], LF_MESSAGE)
    (message,) = server.messages
    assert message.data == LF_MESSAGE + b"\r\n"  # smtplib's CRLF before its ".", no LF changed


@pytest.mark.parametrize(("policy", "messages"), [("accept", 2), ("normalize", 1)])
def test_a_smuggled_transaction_after_lf_dot_crlf(
    server: Server, raw: Callable[..., Raw], policy: str, messages: int
) -> None:
    server.use(scenario(bare_lf=policy))
    conn = raw()
    conn.reply()
    for command in ("EHLO c.test", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>", "DATA"):
        conn.command(command)
    conn.send(b"x\n.\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<v@d.test>\r\nDATA\r\nsmuggled\r\n.\r\n")
    conn.sock.shutdown(socket.SHUT_WR)
    replies = conn.rest()
    assert replies.count(b"250 2.0.0 Ok: queued as") == messages
    conn.close()
    (session,) = ended_sessions(server, 1)
    assert len(server.messages) == messages
    assert "bare-lf" in kinds(session)
