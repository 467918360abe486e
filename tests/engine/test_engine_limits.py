"""Limits: SIZE, the in-memory bound on message bodies, and the number of recipients."""

from __future__ import annotations

import tracemalloc

from smtpfake.engine import FakeClock, Session, Shared
from smtpfake.journal import Journal
from smtpfake.scenario import resolve
from smtpfake.scenario.plan import Send

from ..support.engine import Engine


def test_declared_size_over_the_limit_gets_552_and_no_transaction() -> None:
    engine = Engine({"server": {"extensions": ["SIZE 1000", "ENHANCEDSTATUSCODES"]}})
    d = engine.open()
    d.greet()
    assert d.reply("MAIL FROM:<a@x.test> SIZE=1001") == (
        b"552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    )
    # Refused: no transaction is open.
    assert d.code("RCPT TO:<b@x.test>") == 503
    assert d.code("MAIL FROM:<a@x.test> SIZE=1000") == 250


def test_declared_size_is_not_checked_without_a_size_limit() -> None:
    d = Engine({"server": {"extensions": ["SIZE", "8BITMIME"]}}).open()
    d.greet()
    assert d.code("MAIL FROM:<a@x.test> SIZE=999999999999") == 250


def test_body_over_the_advertised_size_gets_552() -> None:
    engine = Engine({"server": {"extensions": ["SIZE 100", "ENHANCEDSTATUSCODES"]}})
    d = engine.open()
    d.greet()
    body = b"x" * 98 + b"\r\n" + b"y\r\n"
    assert d.transaction("a@x.test", "b@x.test", body=body) == (
        b"552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    )
    assert engine.journal.messages() == ()
    # The session goes on; a message within the limit is accepted.
    assert d.transaction("a@x.test", "b@x.test", body=b"x" * 98 + b"\r\n").startswith(b"250 ")


def test_body_exactly_at_max_message_bytes_is_kept_whole() -> None:
    engine = Engine({"server": {"max_message_bytes": 100}})
    d = engine.open()
    d.greet()
    body = b"a" * 48 + b"\r\n" + b"b" * 48 + b"\r\n"
    assert len(body) == 100
    assert d.transaction("a@x.test", "b@x.test", body=body).startswith(b"250 ")
    assert engine.journal.messages()[0].data == body


def test_body_beyond_max_message_bytes_gets_552_and_is_not_kept() -> None:
    limit = 10_000
    engine = Engine({"server": {"max_message_bytes": limit}})
    d = engine.open()
    d.greet()
    assert d.code("MAIL FROM:<a@x.test>") == 250
    assert d.code("RCPT TO:<b@x.test>") == 250
    assert d.code("DATA") == 354
    line = b"z" * 998 + b"\r\n"  # the longest text line RFC 5321 §4.5.3.1.6 allows
    count = 8_000  # 8 MB in all, 800 times the limit
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        for _ in range(count):
            assert d.send(line) == ()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # What the session holds stays near the limit, nowhere near the 8 MB sent.
    assert peak - base < 1_000_000, peak - base
    assert d.reply(".") == b"552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    assert engine.journal.messages() == ()
    assert f"(message data, {len(line) * count} bytes)" in d.record.commands
    # The session is usable again.
    assert d.code("MAIL FROM:<a@x.test>") == 250


def test_too_many_recipients_gets_452_4_5_3() -> None:
    engine = Engine({"server": {"max_recipients": 2}})
    d = engine.open()
    d.greet()
    assert d.code("MAIL FROM:<a@x.test>") == 250
    assert d.code("RCPT TO:<1@x.test>") == 250
    assert d.code("RCPT TO:<2@x.test>") == 250
    assert d.reply("RCPT TO:<3@x.test>") == b"452 4.5.3 Error: too many recipients\r\n"
    # RFC 5321 §4.5.3.1.10: the transaction goes on with the recipients accepted so far.
    assert d.code("DATA") == 354
    d.send(b"hi\r\n")
    assert d.code(".") == 250
    assert engine.journal.messages()[0].rcpt_tos == ("1@x.test", "2@x.test")


def test_a_non_ascii_digit_in_size_is_not_a_size() -> None:
    # "²".isdigit() is true but int("²") raises: a syntax error (RFC 1870 §6), not a crash
    session = Session(resolve("default"), Shared(), Journal(), clock=FakeClock())
    session.connect()
    session.receive(b"EHLO c.test\r\n")
    (reply,) = session.receive("MAIL FROM:<a@x.test> SIZE=²\r\n".encode())
    assert reply == Send(b"501 5.5.4 Syntax error in parameters\r\n")
