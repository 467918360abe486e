"""Mailbox syntax on a real socket (RFC 5321 §4.1.2): a client that joins its recipient list into
one address, or sends a space unquoted, meets the 501 a real server answers. smtplib's sendmail()
reads each address with email.utils.parseaddr first (``a,b`` becomes ``<a>``, ``@r:u@d`` becomes
``<@r>``), so those lines go out as written through its docmd()."""

from __future__ import annotations

import smtplib

import pytest

from smtpfake.server import Server

from ..support import TIMEOUT
from ..support.waits import ended_sessions, kinds

MSG = b"Subject: syntax\r\n\r\nhi\r\n"


def test_recipients_joined_into_one_address_are_refused_and_recorded(server: Server) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.ehlo("client.test")
        assert client.docmd("MAIL", "FROM:<a@x.test>")[0] == 250
        joined = client.docmd("RCPT", "TO:<one@probe.test,two@probe.test>")
        assert joined == (501, b"5.1.3 Bad recipient address syntax")
        client.rset()
        # the one with proper addresses goes through on the same connection
        assert client.sendmail("a@x.test", ["one@probe.test", "two@probe.test"], MSG) == {}
    (record,) = ended_sessions(server, 1)
    assert kinds(record) == ["bad-syntax"]
    assert "two addresses joined by ','" in record.violations[0].detail
    (message,) = server.messages
    assert message.rcpt_tos == ("one@probe.test", "two@probe.test")
    sent = [e.text for e in record.transcript if e.text.startswith("RCPT")]
    assert sent[0] == "RCPT TO:<one@probe.test,two@probe.test>"


def test_a_bad_sender_and_a_source_route(server: Server) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("a b@x.test", ["b@y.test"], MSG)
        assert refused.value.smtp_code == 501
        assert refused.value.smtp_error == b"5.1.7 Bad sender address syntax"
        assert client.docmd("MAIL", "FROM:<@relay.test,@hop.test:a@x.test>")[0] == 250
        assert client.docmd("RCPT", "TO:<@relay.test:b@y.test>")[0] == 250
        assert client.data(MSG)[0] == 250
    (record,) = ended_sessions(server, 1)
    assert kinds(record) == ["bad-syntax"]
    assert "white space in the local part, unquoted" in record.violations[0].detail
    (message,) = server.messages
    # the source routes ignored (§4.1.2, Appendix C)
    assert (message.mail_from, message.rcpt_tos) == ("a@x.test", ("b@y.test",))
