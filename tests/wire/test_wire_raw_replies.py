"""``raw`` and ``replies`` on a real loopback socket, with smtplib and a raw socket: the octets a
client reads are exactly those written, and a server out of step is caught by a real client."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest

from smtpfake.server import Server

from ..support import TIMEOUT, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions


def test_a_raw_reply_reaches_the_client_octet_for_octet(
    server: Server, raw: Callable[[], Raw]
) -> None:
    server.use(scenario({"on": "noop", "raw": "250-first\r\n\r\n250 last\x00\xff\r\n"}))
    with raw() as conn:
        assert conn.code() == 220
        conn.send(b"NOOP\r\n")
        data, _ = conn.until(b"last\x00\xff\r\n")
        assert data == b"250-first\r\n\r\n250 last\x00\xff\r\n"
        assert conn.command_code("QUIT") == 221


def test_an_empty_reply_text_goes_out_with_the_space_after_the_enhanced_code(
    server: Server, raw: Callable[[], Raw]
) -> None:
    """The octets on the wire and the record's line: ``250 2.0.0 `` (RFC 2034 §3)."""
    server.use(scenario({"on": "noop", "reply": "250"}))
    with raw() as conn:
        assert conn.code() == 220
        assert b"ENHANCEDSTATUSCODES" in b"".join(conn.command("EHLO c.test"))
        assert conn.command_bytes("NOOP") == b"250 2.0.0 \r\n"
        assert conn.command_code("QUIT") == 221
    (record,) = ended_sessions(server, 1)
    assert "250 2.0.0 " in [e.text for e in record.transcript if e.side == "server"]


def test_smtplib_reads_a_raw_multiline_reply_with_a_blank_line_as_a_broken_reply(
    server: Server,
) -> None:
    server.use(scenario({"on": "ehlo", "raw": "250-smtpfake.test\r\n\r\n250 HELP\r\n"}))
    client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
    try:
        # the blank line has no code: smtplib stops there with code -1 ...
        assert client.ehlo("client.test")[0] == -1
        # ... and reads the rest as the next command's reply
        assert client.noop() == (250, b"HELP")
    finally:
        client.close()


def test_out_of_step_replies_make_smtplib_fail_at_data_then_deliver_on_retry(
    server: Server,
) -> None:
    server.use("out-of-step-replies")
    message = "Subject: hi\r\n\r\nhello\r\n"
    client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
    try:
        with pytest.raises(smtplib.SMTPDataError) as error:
            client.sendmail("a@x.test", ["b@x.test"], message)
        assert error.value.smtp_code == 250  # RCPT's reply, read as DATA's
    finally:
        client.close()  # out of step: no QUIT on this connection
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        assert client.sendmail("a@x.test", ["b@x.test"], message) == {}
    first, second = ended_sessions(server, 2)
    replies = [e.text for e in first.transcript if e.side == "server"]
    assert replies.count("250 2.1.0 Ok") == 2
    assert [m.session for m in server.journal.messages()] == [second.index]
