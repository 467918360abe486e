"""Rate limiting, the built-in ``rate-limit`` scenario: 421 4.7.0 and close after 3 messages in a
connection, and after 10 MAILs in any 60 seconds across connections."""

from __future__ import annotations

import smtplib

import pytest

from smtpfake.engine import FakeClock
from smtpfake.scenario.plan import Close, Send
from smtpfake.server import Server

from ..support.engine import Engine

TIMEOUT = 5.0
MSG = "From: a@x.test\r\nTo: b@y.test\r\nSubject: rate\r\n\r\nhello\r\n"


def test_421_and_close_after_three_messages_in_a_connection() -> None:
    fake = Engine("rate-limit")
    conn = fake.connect()
    conn.ehlo()
    assert [conn.deliver()[-1] for _ in range(3)] == [250, 250, 250]
    actions = conn.session.receive(b"MAIL FROM:<a@x.test>\r\n")
    assert isinstance(actions[0], Send)
    assert actions[0].data.startswith(b"421 4.7.0 ")
    assert actions[-1] == Close()
    assert len(fake.journal.messages()) == 3
    # a new connection has its own count
    conn = fake.connect()
    conn.ehlo()
    assert conn.deliver()[-1] == 250


def test_ten_mails_a_minute_across_connections() -> None:
    fake = Engine("rate-limit")
    codes = []
    for _ in range(5):  # 5 connections x 2 messages = 10 MAILs in the same second
        conn = fake.connect()
        conn.ehlo()
        codes += [conn.deliver()[-1], conn.deliver()[-1]]
        conn.quit()
    assert codes == [250] * 10
    late = fake.connect()
    late.ehlo()
    assert late.mail() == 421 and late.closed
    fake.advance(59)
    retry = fake.connect()
    retry.ehlo()
    assert retry.mail() == 421  # the window still holds 10 (and the refused attempt)
    fake.advance(1)  # all at 0 s leave the window; the refused one at 59 s remains
    conn = fake.connect()
    conn.ehlo()
    assert conn.deliver()[-1] == 250


@pytest.mark.parametrize("messages", [0, 2])
def test_refused_attempts_count_too(messages: int) -> None:
    fake = Engine("rate-limit")
    for _ in range(10 - messages):
        conn = fake.connect()
        conn.ehlo()
        conn.cmd("MAIL FROM:<a@x.test>")
        conn.cmd("RSET")
    conn = fake.connect()
    conn.ehlo()
    assert [conn.deliver()[-1] for _ in range(messages)] == [250] * messages
    assert conn.mail() == 421


# -- on the wire ----------------------------------------------------------------------------------


def test_smtplib_gets_421_on_the_fourth_message_and_the_server_closes() -> None:
    with Server("rate-limit", clock=FakeClock()) as server:
        client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
        try:
            for _ in range(3):
                assert client.sendmail("a@x.test", ["b@y.test"], MSG) == {}
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail("a@x.test", ["b@y.test"], MSG)
            assert refused.value.smtp_code == 421
            assert refused.value.smtp_error.startswith(b"4.7.0 ")
        finally:
            client.close()
        # a new connection is served again
        with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as again:
            assert again.sendmail("a@x.test", ["b@y.test"], MSG) == {}
        assert len(server.messages) == 4
        first = server.sessions[0]
        assert [e for e in first.transcript if e.side == "server"][-1].text == "(connection closed)"
        assert not server.errors


def test_the_window_on_the_wire_follows_the_servers_clock() -> None:
    clock = FakeClock()
    with Server("rate-limit", clock=clock) as server:
        for _ in range(5):
            with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
                client.sendmail("a@x.test", ["b@y.test"], MSG)
                client.sendmail("a@x.test", ["b@y.test"], MSG)
        with (
            smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client,
            pytest.raises(smtplib.SMTPSenderRefused),
        ):
            client.sendmail("a@x.test", ["b@y.test"], MSG)
        clock.advance(60)
        with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
            assert client.sendmail("a@x.test", ["b@y.test"], MSG) == {}
        assert len(server.messages) == 11
        assert not server.errors
