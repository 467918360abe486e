"""Non-ASCII addresses (RFC 6531): with SMTPUTF8 advertised and given on MAIL they pass; without,
MAIL and RCPT get "553 5.6.7", the violation ``utf8-address-without-smtputf8`` is recorded each
time, and nothing changes in the session (as any refused MAIL/RCPT)."""

from __future__ import annotations

import pytest

from smtpfake.engine.params import UTF8_WITHOUT_SMTPUTF8

from ..support import scenario
from ..support.engine import Driver, Engine

KIND = UTF8_WITHOUT_SMTPUTF8


def greeted(*removed: str) -> Driver:
    """A session after EHLO, the default extensions (SMTPUTF8 among them) less ``removed``."""
    ref = scenario(extensions_remove=list(removed)) if removed else "default"
    d = Engine(ref).open()
    d.greet()
    return d


def test_declared_smtputf8_lets_utf8_addresses_through() -> None:
    d = greeted()
    assert d.transaction(
        "jürgen@prüfung.test", "ñandú@例え.test", mail="MAIL FROM:<jürgen@prüfung.test> SMTPUTF8"
    ).startswith(b"250 ")
    assert d.kinds() == []
    (message,) = d.engine.journal.messages()
    assert message.mail_from == "jürgen@prüfung.test"
    assert message.rcpt_tos == ("ñandú@例え.test",)


@pytest.mark.parametrize("sender", ["jürgen@x.test", "a@prüfung.test", "用户@x.test"])
def test_utf8_sender_without_smtputf8_gets_553_and_no_transaction(sender: str) -> None:
    d = greeted()
    reply = d.reply(f"MAIL FROM:<{sender}>")
    assert reply == b"553 5.6.7 Must declare SMTPUTF8 to send a non-ASCII address\r\n"
    assert d.kinds() == [KIND]
    (violation,) = d.violations
    assert sender in violation.detail
    assert "RFC 6531 §3.4" in violation.detail
    assert violation.command == "MAIL"
    # no transaction was opened: RCPT is out of order, an ASCII MAIL is fine
    assert d.code("RCPT TO:<b@y.test>") == 503
    assert d.code("MAIL FROM:<a@x.test>") == 250


def test_utf8_recipient_without_smtputf8_on_this_mail_gets_553() -> None:
    d = greeted()
    assert d.mail() == 250
    assert d.reply("RCPT TO:<ñandú@y.test>") == (
        b"553 5.6.7 Must declare SMTPUTF8 to send a non-ASCII address\r\n"
    )
    assert d.kinds() == [KIND]
    assert d.violations[0].command == "RCPT"
    assert "forward-path" in d.violations[0].detail
    # the transaction goes on: it has no recipient yet, so DATA is refused until one is given
    assert d.code("DATA") == 503
    assert d.rcpt() == 250
    assert d.code("DATA") == 354


def test_smtputf8_on_an_earlier_transaction_does_not_carry_over() -> None:
    d = greeted()
    assert d.transaction(mail="MAIL FROM:<a@x.test> SMTPUTF8").startswith(b"250 ")
    assert d.mail() == 250  # a new transaction, without SMTPUTF8
    assert d.code("RCPT TO:<ñandú@y.test>") == 553
    assert d.kinds() == [KIND]


def test_recorded_each_time() -> None:
    d = greeted()
    assert d.mail("é@x.test") == 553
    assert d.mail("é@x.test") == 553
    assert d.mail() == 250
    assert d.rcpt("é@y.test") == 553
    assert d.kinds() == [KIND, KIND, KIND]


def test_not_offered_says_so_and_smtputf8_itself_is_an_unknown_parameter() -> None:
    d = greeted("SMTPUTF8")
    reply = d.reply("MAIL FROM:<jürgen@x.test>")
    assert reply == b"553 5.6.7 Non-ASCII address not permitted: SMTPUTF8 not offered\r\n"
    assert "RFC 6531 §3.2" in d.violations[0].detail
    # the parameter of an extension not advertised is refused first (RFC 5321 §4.1.1.11)
    assert d.reply("MAIL FROM:<jürgen@x.test> SMTPUTF8").startswith(b"555 5.5.4 ")
    assert d.kinds() == [KIND, "unknown-parameter"]


def test_after_helo_no_utf8_address() -> None:
    d = Engine().open()
    d.greet("HELO client.test")
    assert d.mail("jürgen@x.test") == 553
    assert d.kinds() == [KIND]


def test_octets_that_are_not_utf8() -> None:
    # without SMTPUTF8: the same 553 (non-ASCII), the octet shown escaped in the detail
    d = greeted()
    assert d.code(b"MAIL FROM:<j\xfcrgen@x.test>\r\n") == 553
    assert d.kinds() == [KIND]
    assert "j\\xfcrgen@x.test" in d.violations[0].detail
    # with SMTPUTF8: not UTF-8 is bad address syntax (RFC 6531 §3.3)
    assert d.reply(b"MAIL FROM:<j\xfcrgen@x.test> SMTPUTF8\r\n") == (
        b"501 5.1.7 Bad address syntax: not UTF-8\r\n"
    )
    assert d.kinds() == [KIND, "bad-syntax"]
    assert d.mail() == 250  # neither opened a transaction


def test_utf8_in_rcpt_with_bad_octets_under_smtputf8() -> None:
    d = greeted()
    assert d.code("MAIL FROM:<a@x.test> SMTPUTF8") == 250
    assert d.reply(b"RCPT TO:<\xff@y.test>\r\n") == b"501 5.1.3 Bad address syntax: not UTF-8\r\n"
    assert d.kinds() == ["bad-syntax"]


def test_a_rule_on_mail_still_decides_the_reply() -> None:
    rule = {"on": "mail", "reply": "250 2.1.0 Ok, whatever you send"}
    d = Engine(scenario(rule)).open()
    d.greet()
    assert d.code("MAIL FROM:<jürgen@x.test>") == 250
    assert d.kinds() == [KIND]  # told, even though the rule let it through


def test_parameters_are_checked_before_the_address() -> None:
    d = greeted()
    assert d.reply("MAIL FROM:<jürgen@x.test> SIZE=abc").startswith(b"501 5.5.4 ")
    assert d.kinds() == ["bad-syntax"]


def test_ehlo_vrfy_and_the_null_path_are_left_alone() -> None:
    # RFC 6531 does not make these refusals: EHLO's domain and VRFY's string are not checked
    d = Engine().open()
    assert d.greet("EHLO prüfung.test")[:3] == b"250"
    assert d.code("VRFY jürgen") == 252
    assert d.code("MAIL FROM:<>") == 250
    assert d.kinds() == []
