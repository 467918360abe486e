"""Greylisting (RFC 6647), the built-in ``greylisting`` scenario: engine tests on a FakeClock and
a wire test with smtplib. Nobody sleeps: the clock is advanced by hand."""

from __future__ import annotations

import smtplib

import pytest

from smtpfake.engine import FakeClock
from smtpfake.scenario import resolve
from smtpfake.server import Server

from ..support.engine import Engine

TIMEOUT = 5.0


def attempt(
    fake: Engine, sender: str = "a@x.test", rcpt: str = "b@y.test", peer: str = "192.0.2.1:5000"
) -> int:
    """One delivery attempt on a new connection; the RCPT reply code."""
    conn = fake.connect(peer)
    conn.ehlo()
    codes = conn.deliver(sender, rcpt)
    conn.quit()
    return codes[1]


def test_the_builtin_is_documented_and_says_451_4_7_1() -> None:
    scenario = resolve("greylisting")
    assert scenario.summary and scenario.expect
    (rule,) = scenario.rules
    assert rule.per == ("client", "sender", "recipient")
    assert rule.within == 300
    fake = Engine(scenario)
    conn = fake.connect()
    conn.ehlo()
    conn.mail()
    reply = conn.session.receive(b"RCPT TO:<b@y.test>\r\n")[0]
    assert reply.data.startswith(b"451 4.7.1 ")  # type: ignore[union-attr]


def test_first_attempt_refused_early_retry_refused_late_retry_accepted() -> None:
    fake = Engine("greylisting")
    assert attempt(fake) == 451
    fake.advance(10)
    assert attempt(fake) == 451  # too early: refused again
    fake.advance(291)  # 301 s after the first attempt
    assert attempt(fake) == 250
    assert len(fake.journal.messages()) == 1
    fake.advance(1000)
    assert attempt(fake) == 250  # once through, it stays through


def test_exactly_at_the_delay_is_accepted() -> None:
    fake = Engine("greylisting")
    assert attempt(fake) == 451
    fake.advance(299.999)
    assert attempt(fake) == 451
    fake.advance(0.001)
    assert attempt(fake) == 250


def test_the_early_retry_does_not_restart_the_wait() -> None:
    fake = Engine("greylisting")
    assert attempt(fake) == 451
    fake.advance(299)
    assert attempt(fake) == 451
    fake.advance(1)  # 300 s after the first attempt, 1 s after the early retry
    assert attempt(fake) == 250


@pytest.mark.parametrize(
    "other",
    [
        {"sender": "c@x.test"},
        {"rcpt": "d@y.test"},
        {"peer": "192.0.2.99:5000"},
    ],
    ids=["sender", "recipient", "client"],
)
def test_a_different_triple_is_greylisted_on_its_own(other: dict[str, str]) -> None:
    fake = Engine("greylisting")
    assert attempt(fake) == 451
    fake.advance(200)
    assert attempt(fake, **other) == 451  # a new triple: its own first attempt
    fake.advance(101)  # 301 s after the first triple's start, 101 s after the second's
    assert attempt(fake) == 250
    assert attempt(fake, **other) == 451
    fake.advance(200)
    assert attempt(fake, **other) == 250


def test_the_port_is_not_part_of_the_client() -> None:
    fake = Engine("greylisting")
    assert attempt(fake, peer="192.0.2.1:5000") == 451
    fake.advance(300)
    assert attempt(fake, peer="192.0.2.1:6123") == 250


def test_each_recipient_of_one_message_is_its_own_triple() -> None:
    fake = Engine("greylisting")
    conn = fake.connect()
    conn.ehlo()
    assert conn.deliver("a@x.test", "b@y.test", "c@y.test") == (250, 451, 451)
    fake.advance(300)
    assert conn.deliver("a@x.test", "b@y.test", "new@y.test", "c@y.test") == (
        250,
        250,
        451,
        250,
        354,
        250,
    )
    (message,) = fake.journal.messages()
    assert message.rcpt_tos == ("b@y.test", "c@y.test")


# -- on the wire ----------------------------------------------------------------------------------


def test_smtplib_is_greylisted_then_delivers_once_after_the_delay() -> None:
    clock = FakeClock()
    with Server("greylisting", clock=clock) as server:
        msg = "From: a@x.test\r\nTo: b@y.test\r\nSubject: grey\r\n\r\nhello\r\n"

        def deliver() -> None:
            with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
                client.sendmail("a@x.test", ["b@y.test"], msg)

        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            deliver()
        code, text = refused.value.recipients["b@y.test"]
        assert (code, text[:6]) == (451, b"4.7.1 ")
        clock.advance(10)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            deliver()
        clock.advance(291)
        deliver()
        assert [m.rcpt_tos for m in server.messages] == [("b@y.test",)]
        assert [s.reply_codes[3] for s in server.sessions] == [451, 451, 250]
        assert not server.errors
