"""What the client did wrong, recorded by the engine alone: lines in, violations out (no sockets,
no sleeps; the wire's view of timing comes in as ``receive(..., pipelined=True)``)."""

from __future__ import annotations

import pytest

from smtpfake.engine.session import COMMAND_LINE_LIMIT, TEXT_LINE_LIMIT
from smtpfake.scenario.plan import Close, Sleep

from ..support import scenario
from ..support.engine import MAIL, Engine, sent

NO_PIPELINING = ["SIZE 100000", "8BITMIME", "ENHANCEDSTATUSCODES"]
NO_8BITMIME = ["PIPELINING", "SIZE 100000", "ENHANCEDSTATUSCODES"]


def test_a_correct_session_has_no_violations() -> None:
    c = Engine().open()
    c.greet()
    assert c.transaction(body=MAIL, mail="MAIL FROM:<a@x.test> SIZE=52").startswith(b"250 2.0.0 Ok")
    eight_bit = b"Subject: caf\xc3\xa9\r\n\r\n\xc3\xa9\r\n"
    assert c.transaction(body=eight_bit, mail="MAIL FROM:<a@x.test> BODY=8BITMIME")[:3] == b"250"
    c.reply("QUIT", only_send=False)
    c.session.disconnected()
    assert c.kinds() == []


# -- talking before the greeting -----------------------------------------------------------------


def test_a_line_that_was_waiting_before_the_greeting_is_early_talk() -> None:
    c = Engine().open()
    c.session.connect()
    assert c.reply("EHLO client.test", pipelined=True)[:3] == b"250"  # still served
    assert c.kinds() == ["early-talker"]
    (violation,) = c.record.violations
    assert violation.command == "EHLO" and "greeting" in violation.detail


def test_early_talk_during_a_greeting_that_never_comes() -> None:
    c = Engine(scenario({"on": "connect", "hang": 5})).open()
    assert c.session.connect() == (Sleep(5.0), Close())
    assert c.reply("EHLO client.test", pipelined=True) == b""
    assert c.kinds() == ["early-talker"]  # sent before the close, so not sent-after-close


def test_a_line_after_the_close_that_was_not_waiting_is_sent_after_close() -> None:
    c = Engine(scenario({"on": "connect", "reply": "421 4.3.2 go away"})).open()
    c.session.connect()
    c.reply("EHLO client.test")
    assert c.kinds() == ["sent-after-close"]


# -- pipelining ------------------------------------------------------------------------------------


def test_pipelining_without_the_extension() -> None:
    c = Engine(scenario(extensions=NO_PIPELINING)).open()
    c.greet()
    assert c.reply("MAIL FROM:<a@x.test>")[:3] == b"250"
    assert c.reply("RCPT TO:<b@x.test>", pipelined=True)[:3] == b"250"
    assert c.reply("RCPT TO:<c@x.test>", pipelined=True)[:3] == b"250"
    assert c.kinds() == ["pipelining-without-extension"]  # once per session
    (violation,) = c.record.violations
    assert "RCPT was sent before the reply to MAIL" in violation.detail


def test_helo_offers_no_pipelining_even_when_configured() -> None:
    c = Engine().open()
    c.greet("HELO client.test")
    c.reply("MAIL FROM:<a@x.test>")
    c.reply("RCPT TO:<b@x.test>", pipelined=True)
    assert c.kinds() == ["pipelining-without-extension"]


def test_pipelining_as_rfc_2920_allows_it_is_fine() -> None:
    c = Engine().open()
    c.greet()
    c.reply("MAIL FROM:<a@x.test>")
    c.reply("RCPT TO:<b@x.test>", pipelined=True)
    assert c.reply("DATA", pipelined=True)[:3] == b"354"
    for line in MAIL.splitlines(keepends=True):
        c.reply(line)
    c.reply(".")
    c.reply(
        "QUIT", pipelined=True, only_send=False
    )  # the content and "." may be followed in the same group
    assert c.kinds() == []


@pytest.mark.parametrize("previous", ["EHLO client.test", "NOOP", "VRFY a@x.test"])
def test_nothing_may_follow_a_group_ender_unanswered(previous: str) -> None:
    c = Engine().open()
    c.greet()
    c.reply(previous)
    c.reply("MAIL FROM:<a@x.test>", pipelined=True)
    assert c.kinds() == ["bad-pipelining"]
    assert "RFC 2920" in c.record.violations[0].detail


def test_message_data_before_the_354() -> None:
    c = Engine().open()
    c.greet()
    c.reply("MAIL FROM:<a@x.test>")
    c.reply("RCPT TO:<b@x.test>")
    c.reply("DATA")
    c.reply(b"Subject: early\r\n", pipelined=True)
    assert c.kinds() == ["bad-pipelining"]
    assert "before the reply to DATA" in c.record.violations[0].detail


def test_message_data_before_the_354_without_pipelining() -> None:
    c = Engine(scenario(extensions=NO_PIPELINING)).open()
    c.greet()
    c.reply("MAIL FROM:<a@x.test>")
    c.reply("RCPT TO:<b@x.test>")
    c.reply("DATA")
    c.reply(b"Subject: early\r\n", pipelined=True)
    assert c.kinds() == ["pipelining-without-extension"]


def test_a_later_data_line_is_never_pipelining() -> None:
    c = Engine(scenario(extensions=NO_PIPELINING)).open()
    c.greet()
    c.reply("MAIL FROM:<a@x.test>")
    c.reply("RCPT TO:<b@x.test>")
    c.reply("DATA")
    c.reply(b"Subject: x\r\n")
    c.reply(b"\r\n", pipelined=True)  # lines of the body are sent together by design
    assert c.kinds() == []


# -- bare CR and LF ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (b"hello\n", "bare-lf"),
        (b"hel\rlo\r\n", "bare-cr"),
        (b"hello\r\r\n", "bare-cr"),
        (b"\n", "bare-lf"),
    ],
)
def test_bare_line_endings_in_the_message(line: bytes, kind: str) -> None:
    c = Engine().open()
    c.greet()
    body = b"Subject: x\r\n\r\n" + line + line  # twice: told once per message
    assert c.transaction(body=body)[:3] == b"250"  # accepted all the same, as received
    assert c.kinds() == [kind]
    assert c.record.violations[0].command == "(message data)"
    (message,) = c.engine.journal.messages()
    assert message.data == body


def test_bare_line_endings_are_told_again_for_the_next_message() -> None:
    c = Engine().open()
    c.greet()
    c.transaction(body=b"Subject: x\n\nbody\n")
    c.transaction(body=b"Subject: y\n\nbody\n")
    assert c.kinds() == ["bare-lf", "bare-lf"]


def test_a_bare_lf_final_dot() -> None:
    c = Engine().open()
    c.greet()
    c.reply("MAIL FROM:<a@x.test>")
    c.reply("RCPT TO:<b@x.test>")
    c.reply("DATA")
    c.reply(b"Subject: x\r\n\r\nbody\r\n")
    assert c.reply(b".\n")[:3] == b"250"
    assert c.kinds() == ["bare-lf"]


def test_a_crlf_split_across_pieces_of_an_over_long_line_is_fine() -> None:
    c = Engine().open()
    c.greet()
    c.reply("MAIL FROM:<a@x.test>")
    c.reply("RCPT TO:<b@x.test>")
    c.reply("DATA")
    s = c.session
    assert s.receive(b"x" * 500 + b"\r") == ()
    assert s.receive(b"\n", partial=True) == ()
    assert s.receive(b"y" * 10 + b"\r", partial=False) == ()
    assert s.receive(b"z\r\n", partial=True) == ()  # that CR was bare: no LF after it
    assert c.kinds() == ["bare-cr"]


@pytest.mark.parametrize(("line", "kind"), [(b"NOOP\n", "bare-lf"), (b"NO\rOP\r\n", "bare-cr")])
def test_bare_line_endings_in_a_command(line: bytes, kind: str) -> None:
    c = Engine().open()
    c.greet()
    c.reply(line)
    c.reply(line)
    assert c.kinds() == [kind]
    assert "in a command" in c.record.violations[0].detail


# -- 8-bit data ----------------------------------------------------------------------------------

EIGHT_BIT = b"Subject: caf\xc3\xa9\r\n\r\n\xc3\xa9t\xc3\xa9\r\n"


@pytest.mark.parametrize(
    "mail", ["MAIL FROM:<a@x.test> BODY=8BITMIME", "MAIL FROM:<a@x.test> SMTPUTF8"]
)
def test_8bit_with_body_8bitmime_is_fine(mail: str) -> None:
    c = Engine().open()
    c.greet()
    assert c.transaction(body=EIGHT_BIT, mail=mail)[:3] == b"250"
    assert c.kinds() == []


def test_8bit_without_body_8bitmime() -> None:
    c = Engine().open()
    c.greet()
    assert c.transaction(body=EIGHT_BIT)[:3] == b"250"  # accepted as received
    assert c.kinds() == ["8bit-without-8bitmime"]  # once for the message
    assert "did not declare BODY=8BITMIME" in c.record.violations[0].detail


def test_8bit_when_8bitmime_was_not_offered() -> None:
    c = Engine(scenario(extensions=NO_8BITMIME)).open()
    c.greet()
    # BODY=8BITMIME of an extension not offered is refused (555), so the client sends none
    assert c.code("MAIL FROM:<a@x.test> BODY=8BITMIME") == 555
    c.transaction(body=EIGHT_BIT)
    assert c.kinds() == ["unknown-parameter", "8bit-without-8bitmime"]
    assert "8BITMIME was not offered" in c.record.violations[1].detail


def test_8bit_after_helo() -> None:
    c = Engine().open()
    c.greet("HELO client.test")
    c.transaction(body=EIGHT_BIT)
    assert c.kinds() == ["8bit-without-8bitmime"]


def test_8bit_declaration_is_per_transaction() -> None:
    c = Engine().open()
    c.greet()
    c.transaction(body=EIGHT_BIT, mail="MAIL FROM:<a@x.test> BODY=8BITMIME")
    c.transaction(body=EIGHT_BIT)
    assert c.kinds() == ["8bit-without-8bitmime"]


# -- SIZE ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("declared", "told"), [(52, False), (50, False), (49, True), (5, True)])
def test_a_message_bigger_than_its_declared_size(declared: int, told: bool) -> None:
    assert len(MAIL) == 52  # RFC 1870 §5: with the CRLFs, without the final "."
    c = Engine().open()
    c.greet()
    assert c.transaction(body=MAIL, mail=f"MAIL FROM:<a@x.test> SIZE={declared}")[:3] == b"250"
    assert c.kinds() == (["size-exceeded"] if told else [])
    if told:
        assert f"SIZE={declared}" in c.record.violations[0].detail


def test_size_counts_after_dot_unstuffing() -> None:
    c = Engine().open()
    c.greet()
    body = b"..x\r\n" * 10  # 40 octets once unstuffed, 50 on the wire
    assert c.transaction(body=body, mail="MAIL FROM:<a@x.test> SIZE=40")[:3] == b"250"
    assert c.kinds() == []


# -- over-long lines -----------------------------------------------------------------------------


def test_a_command_line_over_512_octets() -> None:
    c = Engine().open()
    c.greet()
    line = b"NOOP " + b"x" * (COMMAND_LINE_LIMIT - 6) + b"\r\n"
    assert len(line) == COMMAND_LINE_LIMIT + 1
    assert c.reply(line) == b"500 5.5.6 Line too long\r\n"
    assert c.reply(b"NOOP " + b"x" * (COMMAND_LINE_LIMIT - 7) + b"\r\n")[:3] == b"250"
    assert c.kinds() == ["line-too-long"]


def test_a_command_line_the_reader_discarded() -> None:
    c = Engine().open()
    c.greet()
    assert sent(c.session.line_too_long()) == b"500 5.5.6 Line too long\r\n"
    assert c.kinds() == ["line-too-long"]


def test_a_text_line_over_1000_octets() -> None:
    ok = b"x" * (TEXT_LINE_LIMIT - 2) + b"\r\n"
    c = Engine().open()
    c.greet()
    assert (
        c.transaction(body=b"Subject: x\r\n\r\n" + b"." + ok)[:3] == b"250"
    )  # a stuffed dot is free
    assert c.kinds() == []
    assert c.transaction(body=b"Subject: x\r\n\r\nx" + ok + b"x" + ok)[:3] == b"250"
    assert c.kinds() == ["line-too-long"]
    assert "RFC 5321 §4.5.3.1.6" in c.record.violations[0].detail


def test_an_over_long_text_line_in_pieces() -> None:
    c = Engine().open()
    c.greet()
    c.reply("MAIL FROM:<a@x.test>")
    c.reply("RCPT TO:<b@x.test>")
    c.reply("DATA")
    s = c.session
    s.receive(b"y" * 600)
    s.receive(b"y" * 600, partial=True)
    s.receive(b"\r\n", partial=True)
    assert c.kinds() == ["line-too-long"]


# -- retrying sooner than asked ----------------------------------------------------------------

GREYLIST = scenario(
    {"on": "rcpt", "connection": 1, "reply": "451 4.7.1 Greylisted, try again later"},
    retry_after=60,
)


def test_a_retry_before_retry_after_ran_out() -> None:
    engine = Engine(GREYLIST)
    first = engine.open("127.0.0.1:40000")
    first.greet()
    first.reply("MAIL FROM:<a@x.test>")
    assert first.reply("RCPT TO:<b@x.test>")[:3] == b"451"
    first.reply("QUIT", only_send=False)
    engine.clock.advance(10)
    second = engine.open("127.0.0.1:40001")  # same IP, new port
    second.greet()
    assert second.kinds() == ["retry-too-soon"]
    assert "50.0 s before" in second.record.violations[0].detail
    engine.clock.advance(51)
    third = engine.open("127.0.0.1:40002")
    third.greet()
    assert third.kinds() == []


def test_the_wait_counts_from_the_first_refusal_of_a_run() -> None:
    """As greylisting counts its delay from the first attempt (RFC 6647 §2.1): an early retry
    is refused and flagged, but its 4xx does not start the wait again, so a retry once the
    first refusal's wait ran out is on time (CI: Postfix's retry 301 s after its first attempt,
    accepted, was flagged "9.0 s before the server's retry_after ran out")."""
    engine = Engine(scenario({"on": "rcpt", "reply": "451 4.7.1 Greylisted"}, retry_after=60))
    first = engine.open("127.0.0.1:40000")
    first.greet()
    first.reply("MAIL FROM:<a@x.test>")
    assert first.reply("RCPT TO:<b@x.test>")[:3] == b"451"
    engine.clock.advance(10)
    early = engine.open("127.0.0.1:40001")
    early.greet()
    early.reply("MAIL FROM:<a@x.test>")
    assert early.reply("RCPT TO:<b@x.test>")[:3] == b"451"  # refused again, flagged
    assert early.kinds() == ["retry-too-soon"]
    engine.clock.advance(51)  # 61 s after the first 451, 51 s after the second
    late = engine.open("127.0.0.1:40002")
    late.greet()
    assert late.kinds() == []


def test_retry_after_is_per_client_address() -> None:
    engine = Engine(GREYLIST)
    first = engine.open("127.0.0.1:40000")
    first.greet()
    first.reply("MAIL FROM:<a@x.test>")
    first.reply("RCPT TO:<b@x.test>")
    other = engine.open("127.0.0.2:40000")
    other.greet()
    assert other.kinds() == []


def test_without_retry_after_nothing_is_checked() -> None:
    engine = Engine(scenario({"on": "connect", "connection": 1, "reply": "421 4.3.2 later"}))
    engine.open().session.connect()
    second = engine.open()
    second.greet()
    assert second.kinds() == []


def test_a_421_at_the_greeting_asks_for_the_wait_too() -> None:
    engine = Engine(scenario({"on": "connect", "reply": "421 4.3.2 later"}, retry_after=30))
    engine.open().session.connect()
    engine.clock.advance(29)
    second = engine.open()
    second.session.connect()
    assert second.kinds() == ["retry-too-soon"]


def test_a_positive_reply_does_not_ask_for_a_wait() -> None:
    engine = Engine(scenario(retry_after=30))
    engine.open().greet()
    second = engine.open()
    second.greet()
    assert second.kinds() == []


def test_the_new_kinds_are_documented_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for kind in (
        "bad-sequence",
        "no-helo",
        "no-quit",
        "sent-after-close",
        "early-talker",
        "pipelining-without-extension",
        "bad-pipelining",
        "bare-lf",
        "bare-cr",
        "8bit-without-8bitmime",
        "size-exceeded",
        "retry-too-soon",
        "line-too-long",
    ):
        assert f"| `{kind}` |" in readme, kind


# -- a refusal a pipelining client could not foresee --------------------------------------------


def refused_rcpt_then_data(engine: Engine, *, pipelined: bool) -> list[str]:
    c = engine.open()
    c.greet()
    c.reply("MAIL FROM:<a@x.test>")
    assert c.reply("RCPT TO:<b@x.test>", pipelined=pipelined)[:3] == b"451"
    assert c.reply("DATA", pipelined=pipelined)[:3] == b"503"
    return c.kinds()


REFUSE_RCPT = {"on": "rcpt", "reply": "451 4.7.1 Greylisted"}


def test_data_pipelined_after_a_refused_rcpt_is_not_the_clients_fault() -> None:
    # RFC 2920 §3.1: the client sent DATA before it could see the 451; the 503 is expected.
    assert refused_rcpt_then_data(Engine(scenario(REFUSE_RCPT)), pipelined=True) == []


def test_data_after_a_refused_rcpt_it_had_seen_is_a_bad_sequence() -> None:
    assert refused_rcpt_then_data(Engine(scenario(REFUSE_RCPT)), pipelined=False) == [
        "bad-sequence"
    ]


def test_pipelining_without_the_extension_excuses_nothing() -> None:
    engine = Engine(scenario(REFUSE_RCPT, extensions=NO_PIPELINING))
    assert refused_rcpt_then_data(engine, pipelined=True) == [
        "pipelining-without-extension",
        "bad-sequence",
    ]


def test_a_pipelined_command_out_of_order_anyway_is_a_bad_sequence() -> None:
    c = Engine().open()
    c.greet()
    assert c.reply("DATA", pipelined=True)[:3] == b"503"  # after EHLO's 250: no excuse
    assert c.kinds() == ["bad-pipelining", "bad-sequence"]
