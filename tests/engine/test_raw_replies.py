"""``raw`` replies (exact octets) and ``replies`` (several replies to one command), in the engine
on the FakeClock: the bytes sent, what the server acts on, the transcript, and load-time checks."""

from __future__ import annotations

import pytest

from smtpfake.scenario import ScenarioError, load_text

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe


def pipe(*rules: dict[str, object]) -> Pipe:
    p = Pipe(Engine(scenario(*rules)))
    p.connect()
    p.feed("EHLO client.test")
    return p


def test_raw_sends_exactly_the_octets_written_blank_line_nul_and_high_octets() -> None:
    doc = (
        'summary: s\nexpect: e\nrules:\n  - {on: noop, raw: "250-a\\r\\n\\r\\n250 b\\0\\xff\\n"}\n'
    )
    p = Pipe(Engine(load_text(doc)))  # type: ignore[arg-type]
    p.connect()
    assert p.feed("NOOP") == b"250-a\r\n\r\n250 b\x00\xff\n"
    texts = [e.text for e in p.record.transcript]
    assert texts[-1].startswith("250-a\n\n250 b\x00")


def test_the_server_acts_on_the_code_raw_bytes_begin_with() -> None:
    p = pipe({"on": "mail", "raw": "550 5.7.1 no\r\n"})
    assert p.feed("MAIL FROM:<a@x.test>") == b"550 5.7.1 no\r\n"
    # the MAIL was refused, so no transaction is open
    assert p.feed("RCPT TO:<b@x.test>").startswith(b"503 5.5.1 ")


def test_a_raw_421_closes_and_garbage_keeps_the_normal_effect() -> None:
    p = pipe({"on": "rcpt", "raw": "421 bye\r\n"}, {"on": "mail", "raw": "garbage\r\n"})
    assert p.feed("MAIL FROM:<a@x.test>") == b"garbage\r\n"
    assert p.feed("RCPT TO:<b@x.test>") == b"421 bye\r\n"  # MAIL was accepted: RCPT ran
    assert p.half_closed


def test_two_replies_to_one_command_go_out_together_and_are_recorded_apart() -> None:
    p = pipe({"on": "mail", "name": "twice", "replies": ["250 2.1.0 Ok", "250 2.1.0 Ok"]})
    assert p.feed("MAIL FROM:<a@x.test>") == b"250 2.1.0 Ok\r\n250 2.1.0 Ok\r\n"
    entries = [(e.text, e.rule) for e in p.record.transcript][-2:]
    assert entries == [("250 2.1.0 Ok", "twice"), ("250 2.1.0 Ok", "twice")]
    # the client, now a reply behind, reads RCPT's 250 as DATA's reply; the server is in step
    assert p.feed("RCPT TO:<b@x.test>") == b"250 2.1.5 Ok\r\n"


def test_the_server_acts_on_the_first_of_several_replies_and_a_421_among_them_closes() -> None:
    p = pipe({"on": "mail", "replies": ["451 4.3.0 later", "421 4.3.2 bye", "250 2.0.0 never"]})
    # nothing after the 421, and the close follows it (RFC 5321 §3.8)
    assert p.feed("MAIL FROM:<a@x.test>") == b"451 4.3.0 later\r\n421 4.3.2 bye\r\n"
    assert p.half_closed


def test_a_refused_first_reply_opens_no_transaction() -> None:
    p = pipe({"on": "mail", "replies": ["550 5.7.1 no", "250 2.1.0 Ok"]})
    p.feed("MAIL FROM:<a@x.test>")
    assert p.feed("RCPT TO:<b@x.test>").startswith(b"503 5.5.1 ")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('{on: noop, raw: ""}', "raw needs at least one octet"),
        ('{on: noop, raw: "250 \\u00e9t\\u00e9 \\u20ac\\r\\n"}', "got U+20AC"),
        ('{on: mail, replies: ["250 ok", "hello"]}', "each reply starts with its code"),
        ('{on: mail, replies: ["250 ok\\r\\n250 again"]}', "holds no CR or LF"),
        ('{on: mail, replies: ["421 5.3.2 bye"]}', "has class 5 but reply 421"),
        ("{on: mail, replies: []}", "needs at least one reply"),
    ],
)
def test_raw_and_replies_are_checked_at_load_time(rule: str, message: str) -> None:
    with pytest.raises(ScenarioError) as error:
        load_text(f"summary: s\nexpect: e\nrules:\n  - {rule}\n")
    assert message in str(error.value)
    assert str(error.value).startswith("<string>:4:")
