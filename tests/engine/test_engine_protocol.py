"""The RFC-correct default behaviour of a session, byte for byte, without sockets."""

from __future__ import annotations

import re

import pytest

from smtpfake.scenario.plan import Close, Send

from ..support.engine import Engine, sent

ENHANCED = re.compile(rb"[245]\.[0-9]{1,3}\.[0-9]{1,3}\b")


def test_greeting_is_220_without_enhanced_code(engine: Engine) -> None:
    # RFC 2034 §3: no enhanced status code on the greeting.
    assert engine.open().connect() == (Send(b"220 smtpfake.test ESMTP smtpfake\r\n"),)


def test_ehlo_reply_is_multiline_per_rfc_5321_4_2_1(engine: Engine) -> None:
    d = engine.open()
    d.connect()
    data = d.reply("EHLO client.test")
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")[:-1]
    assert len(lines) > 1
    # "250-" on every line but the last, "250 " on the last; first line is the server's name.
    assert all(line.startswith(b"250-") for line in lines[:-1])
    assert lines[-1].startswith(b"250 ")
    assert lines[0] == b"250-smtpfake.test"
    keywords = {line[4:].split(b" ")[0].decode() for line in lines[1:]}
    assert {"PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES"} <= keywords
    # RFC 2034: no enhanced code on the EHLO reply either.
    assert not any(line[4:6] in (b"2.", b"4.", b"5.") for line in lines)


def test_ehlo_reply_exact_bytes(engine: Engine) -> None:
    d = engine.open()
    d.connect()
    assert d.reply("EHLO client.test") == (
        b"250-smtpfake.test\r\n"
        b"250-PIPELINING\r\n"
        b"250-SIZE 33554432\r\n"
        b"250-8BITMIME\r\n"
        b"250-ENHANCEDSTATUSCODES\r\n"
        b"250-SMTPUTF8\r\n"
        b"250 HELP\r\n"
    )


def test_helo_is_a_single_line_without_enhanced_code(engine: Engine) -> None:
    d = engine.open()
    d.connect()
    assert d.reply("HELO client.test") == b"250 smtpfake.test\r\n"


def test_full_transaction_records_the_message_exactly(engine: Engine) -> None:
    d = engine.open()
    d.greet()
    assert d.reply("MAIL FROM:<alice@example.test> SIZE=147") == b"250 2.1.0 Ok\r\n"
    assert d.reply("RCPT TO:<bob@example.test>") == b"250 2.1.5 Ok\r\n"
    assert d.reply("RCPT TO:<carol@example.test>") == b"250 2.1.5 Ok\r\n"
    assert d.reply("DATA") == b"354 End data with <CR><LF>.<CR><LF>\r\n"
    body = [
        b"From: alice@example.test\r\n",
        b"To: bob@example.test\r\n",
        b"Subject: Hello there\r\n",
        b"\r\n",
        b"..leading dot, stuffed by the client\r\n",
        b"...two dots\r\n",
        b".\tdot then tab\r\n",
        b"last line\r\n",
    ]
    for line in body:
        assert d.send(line) == ()  # nothing is answered inside the body
    assert d.reply(".") == b"250 2.0.0 Ok: queued as SF000001\r\n"
    assert d.send("QUIT") == (Send(b"221 2.0.0 Bye\r\n"), Close())

    (message,) = engine.journal.messages()
    assert message.mail_from == "alice@example.test"
    assert message.rcpt_tos == ("bob@example.test", "carol@example.test")
    # RFC 5321 §4.5.2: one leading dot removed from each line that has one, nothing else.
    assert message.data == (
        b"From: alice@example.test\r\n"
        b"To: bob@example.test\r\n"
        b"Subject: Hello there\r\n"
        b"\r\n"
        b".leading dot, stuffed by the client\r\n"
        b"..two dots\r\n"
        b"\tdot then tab\r\n"
        b"last line\r\n"
    )
    assert message.session == d.session.index == 1
    assert message.queue_id == "SF000001"
    assert message.time == engine.clock.now()
    assert message.message["Subject"] == "Hello there"
    assert message.message["To"] == "bob@example.test"
    content = message.message.get_content()
    assert content.splitlines() == [
        ".leading dot, stuffed by the client",
        "..two dots",
        "\tdot then tab",
        "last line",
    ]
    assert d.violations == ()
    assert d.record.messages == (message,)


def test_transaction_state_resets_after_the_message(engine: Engine) -> None:
    d = engine.open()
    d.greet()
    assert d.transaction("a@x.test", "b@x.test") == b"250 2.0.0 Ok: queued as SF000001\r\n"
    # The transaction is over: RCPT needs a new MAIL (RFC 5321 §3.3).
    assert d.code("RCPT TO:<c@x.test>") == 503
    assert d.transaction("d@x.test", "e@x.test") == b"250 2.0.0 Ok: queued as SF000002\r\n"
    first, second = engine.journal.messages()
    assert (first.mail_from, first.rcpt_tos) == ("a@x.test", ("b@x.test",))
    assert (second.mail_from, second.rcpt_tos) == ("d@x.test", ("e@x.test",))


def test_null_reverse_path_is_accepted(engine: Engine) -> None:
    d = engine.open()
    d.greet()
    assert d.transaction("", "b@x.test").startswith(b"250 ")
    assert engine.journal.messages()[0].mail_from == ""


def test_transcript_records_commands_and_replies_in_order(engine: Engine) -> None:
    d = engine.open()
    d.greet()
    d.transaction("a@x.test", "b@x.test")
    d.send("QUIT")
    record = d.record
    assert record.commands == (
        "EHLO client.test",
        "MAIL FROM:<a@x.test>",
        "RCPT TO:<b@x.test>",
        "DATA",
        "(message data, 18 bytes)",
        ".",
        "QUIT",
    )
    assert record.reply_codes == (220, 250, 250, 250, 354, 250, 221)
    assert all(e.time == engine.clock.now() for e in record.transcript)


def test_quit_replies_221_and_closes(engine: Engine) -> None:
    d = engine.open()
    d.greet()
    assert d.send("QUIT") == (Send(b"221 2.0.0 Bye\r\n"), Close())
    d.session.disconnected()
    assert d.violations == ()
    assert d.record.ended == engine.clock.now()


def test_disconnect_without_quit_is_a_violation(engine: Engine) -> None:
    d = engine.open()
    d.greet()
    d.session.disconnected()
    assert d.kinds() == ["no-quit"]


def test_unknown_command_gets_500_5_5_2(engine: Engine) -> None:
    d = engine.open()
    d.greet()
    assert d.reply("FROB x") == b'500 5.5.2 Error: command "FROB" not recognized\r\n'
    assert d.reply("").startswith(b"500 5.5.2 ")


@pytest.mark.parametrize("verb", ["ehlo", "Mail", "rCpT"])
def test_verbs_are_case_insensitive(engine: Engine, verb: str) -> None:
    d = engine.open()
    d.connect()
    arg = {"EHLO": "client.test", "MAIL": "FROM:<a@x.test>", "RCPT": "TO:<b@x.test>"}
    assert d.code(f"EHLO {arg['EHLO']}") == 250
    if verb.upper() == "RCPT":
        assert d.code(f"MAIL {arg['MAIL']}") == 250
    assert d.code(f"{verb} {arg[verb.upper()]}") == 250


def test_command_line_of_512_octets_is_accepted_513_is_not(engine: Engine) -> None:
    # RFC 5321 §4.5.3.1.4: 512 octets including the CRLF.
    d = engine.open()
    d.greet()
    fits = b"NOOP " + b"x" * (512 - 5 - 2) + b"\r\n"
    assert len(fits) == 512
    assert d.reply(fits) == b"250 2.0.0 Ok\r\n"
    over = b"NOOP " + b"x" * (513 - 5 - 2) + b"\r\n"
    assert d.reply(over) == b"500 5.5.6 Line too long\r\n"


def test_line_too_long_from_the_reader_gets_500_5_5_6(engine: Engine) -> None:
    d = engine.open()
    d.greet()
    assert sent(d.session.line_too_long(), only_send=True) == b"500 5.5.6 Line too long\r\n"
    # The session goes on.
    assert d.code("NOOP") == 250


def test_helo_and_ehlo_need_an_argument(engine: Engine) -> None:
    d = engine.open()
    d.connect()
    assert d.code("EHLO") == 501
    assert d.code("HELO") == 501


def test_bad_mail_and_rcpt_syntax_get_501(engine: Engine) -> None:
    d = engine.open()
    d.greet()
    assert d.reply("MAIL TO:<a@x.test>") == b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
    assert d.code("MAIL FROM:<a@x.test>") == 250
    assert d.reply("RCPT FROM:<b@x.test>") == b"501 5.5.4 Syntax: RCPT TO:<address>\r\n"


def test_lines_after_close_are_ignored_and_recorded(engine: Engine) -> None:
    d = engine.open()
    d.greet()
    d.send("QUIT")
    assert d.send("NOOP") == ()
    assert d.kinds() == ["sent-after-close"]


def _engine_without_enhanced() -> Engine:
    return Engine(
        {"server": {"extensions": ["PIPELINING", "SIZE 1000", "8BITMIME"]}},
    )


def test_enhanced_codes_disappear_when_not_advertised() -> None:
    engine = _engine_without_enhanced()
    d = engine.open()
    d.connect()
    assert d.reply("EHLO c.test") == (
        b"250-smtpfake.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"
    )
    assert d.reply("NOOP") == b"250 Ok\r\n"
    assert d.reply("RCPT TO:<b@x.test>") == b"503 Error: need MAIL command\r\n"
    assert d.reply("MAIL FROM:<a@x.test>") == b"250 Ok\r\n"
    assert d.reply("RCPT TO:<b@x.test>") == b"250 Ok\r\n"
    assert d.reply("FROB") == b'500 Error: command "FROB" not recognized\r\n'
    assert d.reply("DATA") == b"354 End data with <CR><LF>.<CR><LF>\r\n"
    d.send(b"hi\r\n")
    assert d.reply(".") == b"250 Ok: queued as SF000001\r\n"
    assert d.send("QUIT") == (Send(b"221 Bye\r\n"), Close())


def test_no_enhanced_codes_anywhere_when_not_advertised() -> None:
    engine = _engine_without_enhanced()
    d = engine.open()
    replies = [sent(d.connect())]
    for line in [
        "EHLO c.test",
        "VRFY someone",
        "HELP",
        "EXPN list",
        "STARTTLS",
        "AUTH PLAIN",
        "MAIL FROM:<a@x.test> SIZE=5000",
        "MAIL FROM:<a@x.test>",
        "MAIL FROM:<a@x.test>",
        "RSET",
        "DATA",
        "x" * 600,
        "QUIT",
    ]:
        replies.append(sent(d.send(line)))
    assert len(replies) == 14
    for data in replies:
        for reply_line in data.split(b"\r\n")[:-1]:
            assert not ENHANCED.match(reply_line[4:]), data


def test_default_accepts_mail_before_helo_but_records_no_helo(engine: Engine) -> None:
    d = engine.open()
    d.connect()
    assert d.reply("MAIL FROM:<a@x.test>") == b"250 2.1.0 Ok\r\n"
    assert d.code("RCPT TO:<b@x.test>") == 250
    assert [(v.kind, v.command) for v in d.violations] == [("no-helo", "MAIL")]
    assert d.violations[0].detail == "MAIL before HELO/EHLO"


def test_a_well_behaved_client_leaves_no_violations(engine: Engine) -> None:
    d = engine.open()
    d.greet()
    d.transaction("a@x.test", "b@x.test")
    d.send("RSET")
    d.send("NOOP")
    d.send("QUIT")
    d.session.disconnected()
    assert d.violations == ()


def test_ehlo_again_resets_the_transaction(engine: Engine) -> None:
    # RFC 5321 §4.1.4: a later EHLO is like RSET.
    d = engine.open()
    d.greet()
    assert d.code("MAIL FROM:<a@x.test>") == 250
    assert d.code("EHLO again.test") == 250
    assert d.code("RCPT TO:<b@x.test>") == 503
    assert d.code("MAIL FROM:<a@x.test>") == 250
