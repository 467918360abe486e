"""Command syntax (RFC 5321 §4.1.1, §4.1.2): MAIL/RCPT parameters against what EHLO advertised,
RCPT TO:<>, arguments to RSET and QUIT, NUL bytes; a 501/555, no state change, a violation."""

from __future__ import annotations

import pytest

from ..support import scenario
from ..support.engine import Driver, Engine

GOOD_MAIL = [
    "MAIL FROM:<a@x.test> SIZE=1000",
    "MAIL FROM:<a@x.test> size=0 body=8bitmime",
    "MAIL FROM:<a@x.test> BODY=7BIT",
    "MAIL FROM:<> SMTPUTF8",
    "MAIL FROM:<a@x.test> SIZE=00000000000000000001",  # 20 digits: the most RFC 1870 allows
]

BAD_MAIL = [
    # (command, reply, violation)
    ("MAIL FROM:<a@x.test> SIZE=abc", b"501 5.5.4 ", "bad-syntax"),
    ("MAIL FROM:<a@x.test> SIZE=", b"501 5.5.4 ", "bad-syntax"),
    ("MAIL FROM:<a@x.test> SIZE", b"501 5.5.4 ", "bad-syntax"),
    ("MAIL FROM:<a@x.test> SIZE=-1", b"501 5.5.4 ", "bad-syntax"),
    ("MAIL FROM:<a@x.test> SIZE=123456789012345678901", b"501 5.5.4 ", "bad-syntax"),
    ("MAIL FROM:<a@x.test> SIZE=10 SIZE=10", b"501 5.5.4 ", "bad-syntax"),
    ("MAIL FROM:<a@x.test> BODY=FOO", b"501 5.5.4 ", "bad-syntax"),
    ("MAIL FROM:<a@x.test> BODY=BINARYMIME", b"501 5.5.4 ", "bad-syntax"),
    ("MAIL FROM:<a@x.test> SMTPUTF8=yes", b"501 5.5.4 ", "bad-syntax"),
    ("MAIL FROM:<a@x.test> =x", b"501 5.5.4 ", "bad-syntax"),
    ("MAIL FROM:<a@x.test> FOO=BAR", b"555 5.5.4 ", "unknown-parameter"),
    ("MAIL FROM:<a@x.test> RET=FULL", b"555 5.5.4 ", "unknown-parameter"),  # DSN not offered
    ("MAIL FROM:<a@x.test> AUTH=<>", b"555 5.5.4 ", "unknown-parameter"),  # nor AUTH
]


def greeted(*extensions: str) -> Driver:
    """A session after EHLO, with the default extensions plus these."""
    d = Engine(scenario(extensions_add=list(extensions)) if extensions else "default").open()
    d.greet()
    return d


@pytest.mark.parametrize("command", GOOD_MAIL)
def test_parameters_of_advertised_extensions_are_accepted(command: str) -> None:
    d = greeted("SMTPUTF8")
    assert d.reply(command) == b"250 2.1.0 Ok\r\n"
    assert d.kinds() == []


@pytest.mark.parametrize(("command", "reply", "kind"), BAD_MAIL)
def test_bad_mail_parameters_are_refused_and_told(command: str, reply: bytes, kind: str) -> None:
    d = greeted()
    assert d.reply(command).startswith(reply)
    assert d.kinds() == [kind]
    assert "RFC " in d.violations[0].detail
    # no transaction was opened: a RCPT is out of order, a new MAIL is fine
    assert d.code("RCPT TO:<b@y.test>") == 503
    assert d.code("MAIL FROM:<a@x.test>") == 250


def test_extension_parameters_need_the_extension_advertised() -> None:
    d = greeted("DSN", "BINARYMIME", "CHUNKING")
    assert d.code("MAIL FROM:<a@x.test> RET=HDRS ENVID=abc BODY=BINARYMIME") == 250
    assert d.code("RCPT TO:<b@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@y.test") == 250
    assert d.code("RCPT TO:<c@y.test> NOTIFY=NEVER") == 250
    assert d.reply("RCPT TO:<d@y.test> NOTIFY=NEVER,DELAY").startswith(b"501 5.5.4 ")
    assert d.kinds() == ["bad-syntax"]


def test_helo_offers_no_extension_so_no_parameter() -> None:
    d = Engine().open()
    d.greet("HELO client.test")
    assert d.reply("MAIL FROM:<a@x.test> SIZE=10").startswith(b"555 5.5.4 ")
    assert d.kinds() == ["unknown-parameter"]
    assert "SIZE" in d.violations[0].detail


def test_rcpt_parameters_and_the_null_path() -> None:
    d = greeted()
    assert d.mail() == 250
    assert d.reply("RCPT TO:<>") == b"501 5.1.3 Bad recipient address syntax\r\n"
    assert d.reply("RCPT TO:<b@y.test> NOTIFY=NEVER").startswith(b"555 5.5.4 ")
    assert d.kinds() == ["bad-syntax", "unknown-parameter"]
    assert "§4.1.1.3" in d.violations[0].detail
    # nothing was accepted: DATA still needs a recipient
    assert d.code("DATA") == 503
    assert d.rcpt() == 250
    assert d.session.rcpt_tos == ["b@y.test"]


@pytest.mark.parametrize("verb", ["RSET", "QUIT"])
def test_rset_and_quit_take_no_argument(verb: str) -> None:
    d = greeted()
    assert d.mail() == 250
    assert d.reply(f"{verb} now") == f"501 5.5.4 Syntax: {verb}\r\n".encode()
    assert d.kinds() == ["bad-syntax"]
    assert not d.closed
    # nothing changed: the transaction is still open
    assert d.code("MAIL FROM:<a@x.test>") == 503
    assert d.rcpt() == 250
    done = d.reply(verb, only_send=False)
    assert done.startswith(b"250 " if verb == "RSET" else b"221 ")


def test_a_nul_byte_in_a_command_is_a_syntax_error() -> None:
    d = greeted()
    assert d.reply(b"MAIL FROM:<a@x.test>\x00\r\n") == b"501 5.5.2 Syntax error: NUL in command\r\n"
    assert d.reply(b"RSET \x00\r\n").startswith(b"501 5.5.2 ")
    assert d.kinds() == ["bad-syntax", "bad-syntax"]
    assert d.mail() == 250  # the refused MAIL opened nothing


def test_a_rule_still_decides_the_reply() -> None:
    rule = {"on": "mail", "reply": "250 2.1.0 fine by me"}
    d = Engine(scenario(rule)).open()
    d.greet()
    assert d.reply("MAIL FROM:<a@x.test> FOO=BAR") == b"250 2.1.0 fine by me\r\n"
    assert d.kinds() == ["unknown-parameter"]  # the client's mistake is still told


def test_numbers_go_on_after_a_switch_and_connection_counts_from_it() -> None:
    """server.use() hands the numbering to the new Shared (tested on the wire too); the
    engine's part: sessions and queue ids come from it, ``connection:`` from the switch."""
    engine = Engine(scenario({"on": "connect", "connection": 1, "reply": "421 4.3.2 first"}))
    first = engine.connect()
    assert first.greeting == 421
    engine.shared = type(engine.shared)(numbering=engine.shared.numbering)  # as use() does
    second = engine.connect()
    assert second.greeting == 421  # connection 1 of the new scenario state
    assert (first.session.index, second.session.index) == (1, 2)


@pytest.mark.parametrize(
    ("mail", "rcpt", "expected"),
    [
        ("MAIL FROM: <a@x.test>", "RCPT TO:<b@y.test>", ["path-syntax"]),
        ("MAIL FROM:<a@x.test>", "RCPT TO:\t<b@y.test>", ["path-syntax"]),
        ("MAIL FROM: <a@x.test>", "RCPT TO: <b@y.test>", ["path-syntax"]),  # told once
        ("MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", []),
    ],
)
def test_a_space_after_the_colon_is_accepted_and_recorded(
    mail: str, rcpt: str, expected: list[str]
) -> None:
    # RFC 5321 §4.1.2 has no space there; Postfix accepts it unless
    # smtpd_strict_rfc821_envelopes is set: so does smtpfake, as it accepts MAIL before EHLO
    d = greeted()
    assert d.reply(mail) == b"250 2.1.0 Ok\r\n"
    assert d.reply(rcpt) == b"250 2.1.5 Ok\r\n"
    assert d.session.mail_from == "a@x.test" and d.session.rcpt_tos == ["b@y.test"]
    assert d.kinds() == expected
    if expected:
        assert "§4.1.2" in d.violations[0].detail


@pytest.mark.parametrize(
    ("mail", "rcpt", "address", "recipient"),
    [
        ("MAIL FROM:a@x.test", "RCPT TO:b@y.test", "a@x.test", "b@y.test"),
        ("MAIL FROM: a@x.test SIZE=10", "RCPT TO:<b@y.test>", "a@x.test", "b@y.test"),
        ("MAIL FROM:<a@x.test>", "RCPT TO: b@y.test", "a@x.test", "b@y.test"),
    ],
)
def test_a_path_without_angle_brackets_is_accepted_and_recorded_once(
    mail: str, rcpt: str, address: str, recipient: str
) -> None:
    # Postfix without smtpd_strict_rfc821_envelopes (its default) takes the bare address
    d = greeted()
    assert d.reply(mail) == b"250 2.1.0 Ok\r\n"
    assert d.reply(rcpt) == b"250 2.1.5 Ok\r\n"
    assert d.session.mail_from == address and d.session.rcpt_tos == [recipient]
    assert d.kinds() == ["path-syntax"]
    assert "angle brackets" in d.violations[0].detail
    assert "§4.1.2" in d.violations[0].detail


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        ("MAIL FROM:a@x.test", b"501 5.1.7 Bad sender address syntax\r\n"),
        ("MAIL FROM: <a@x.test>", b"501 5.1.7 Bad sender address syntax\r\n"),
        ("MAIL FROM:\t<a@x.test> SIZE=10", b"501 5.1.7 Bad sender address syntax\r\n"),
    ],
)
def test_strict_envelope_refuses_a_mail_path_not_written_as_the_rfc_writes_it(
    command: str, reply: bytes
) -> None:
    d = Engine(scenario(strict_envelope=True)).open()
    d.greet()
    assert d.reply(command) == reply
    assert d.session.mail_from is None or d.session.mail_from == ""
    assert d.reply("RCPT TO:<b@y.test>").startswith(b"503 ")  # no transaction was opened
    assert d.kinds() == ["bad-syntax", "bad-sequence"]
    assert "strict_envelope" in d.violations[0].detail
    assert d.reply("MAIL FROM:<a@x.test>") == b"250 2.1.0 Ok\r\n"  # the exact form still is


@pytest.mark.parametrize("rcpt", ["RCPT TO:b@y.test", "RCPT TO: <b@y.test>"])
def test_strict_envelope_refuses_such_a_rcpt_path_and_keeps_the_transaction(rcpt: str) -> None:
    d = Engine(scenario(strict_envelope=True)).open()
    d.greet()
    assert d.reply("MAIL FROM:<a@x.test>") == b"250 2.1.0 Ok\r\n"
    assert d.reply(rcpt) == b"501 5.1.3 Bad recipient address syntax\r\n"
    assert d.reply("RCPT TO:<b@y.test>") == b"250 2.1.5 Ok\r\n"
    assert d.session.rcpt_tos == ["b@y.test"]
    assert d.kinds() == ["bad-syntax"]


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize(
    "command", ["MAIL FROM:", "MAIL FROM:Joe <a@x.test>", "MAIL TO:a@x.test", "MAIL a@x.test"]
)
def test_no_path_at_all_is_a_syntax_error_either_way(command: str, strict: bool) -> None:
    d = Engine(scenario(strict_envelope=strict)).open()
    d.greet()
    assert d.reply(command) == b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
    assert d.kinds() == ["bad-syntax"]
