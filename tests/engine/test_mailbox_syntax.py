"""MAIL/RCPT paths against RFC 5321 §4.1.2's grammar (and RFC 6531's UTF-8): good paths are taken
(the source route dropped, §4.1.2, Appendix C), bad ones get Postfix's 501 5.1.7 / 5.1.3 and a
``bad-syntax`` violation naming what is wrong; nothing changes in the session."""

from __future__ import annotations

import pytest

from smtpfake.engine import mailbox

from ..support import scenario
from ..support.engine import Driver, Engine

#: (path between the brackets, the mailbox recorded); the RFC's own examples first
GOOD = [
    ("userx@y.foo.org", "userx@y.foo.org"),  # §3.6.1
    ("@hosta.int,@jkl.org:userc@d.bar.org", "userc@d.bar.org"),  # §3.6.1: source route dropped
    ("@jkl.org:userc@d.bar.org", "userc@d.bar.org"),  # §3.6.1
    ("@a,@b:user@d", "user@d"),  # §6.1
    ("Smith@bar.com", "Smith@bar.com"),  # Appendix D.1
    ("JQP@bar.com", "JQP@bar.com"),  # Appendix D.2
    ("Jones@XYZ.COM", "Jones@XYZ.COM"),  # Appendix D.3
    ('"John Q. Public"@example.test', '"John Q. Public"@example.test'),  # Quoted-string
    ('"a\\"b\\\\c"@x.test', '"a\\"b\\\\c"@x.test'),  # quoted-pairSMTP
    ('""@x.test', '""@x.test'),  # *QcontentSMTP: an empty quoted string
    ("!#$%&'*+-/=?^_`{|}~@x.test", "!#$%&'*+-/=?^_`{|}~@x.test"),  # every atext special
    ("first.middle.last@sub-1.x9.test", "first.middle.last@sub-1.x9.test"),
    ("a@1.2.3.test", "a@1.2.3.test"),  # Let-dig: a label may start with a digit
    ("user@[192.0.2.1]", "user@[192.0.2.1]"),  # IPv4-address-literal
    ("user@[IPv6:2001:db8::1]", "user@[IPv6:2001:db8::1]"),  # IPv6-address-literal
    ("user@[IPv6:::ffff:192.0.2.1]", "user@[IPv6:::ffff:192.0.2.1]"),  # IPv6v4-comp
    ("user@[x-tag:some~thing]", "user@[x-tag:some~thing]"),  # General-address-literal
]

#: (path, words the violation's detail must hold)
BAD = [
    ("one@probe.test,two@probe.test", "two addresses joined by ','"),
    ("a b@x.test", "white space in the local part, unquoted"),
    ("a@x .test", "white space in the domain"),
    ("a@@x.test", "more than one '@'"),
    ("a@b@x.test", "more than one '@'"),
    ("a@", "no domain"),
    ("@x.test", "empty local part"),
    ("noat", "no '@'"),
    (".a@x.test", "'.' at an end of the local part"),
    ("a.@x.test", "'.' at an end of the local part"),
    ("a..b@x.test", "two in a row"),
    ("a(b)@x.test", "'(' in the local part, unquoted"),
    ("a;b@x.test", "';' in the local part"),
    ('"open@x.test', "no closing"),
    ('"a"b@x.test', "text after the quoted local part"),
    ('a"b"@x.test', "'\"' in the local part, unquoted"),
    ("a@x..test", "empty label"),
    ("a@x.test.", "empty label"),
    ("a@-x.test", "starts or ends with '-'"),
    ("a@x-.test", "starts or ends with '-'"),
    ("a@x_y.test", "not letters, digits and '-'"),
    ("a@[300.1.1.1]", "[300.1.1.1]"),
    ("a@[IPv6:2001:db8::zz]", "not an IPv6 address"),
    ("a@[IPv6:fe80::1%eth0]", "not an IPv6 address"),  # a zone index is no part of IPv6-addr
    ("@a.test,b.test:u@x.test", "source route"),
    ("@a.test:", "no '@'"),
]


def greeted(**server: object) -> Driver:
    d = Engine(scenario(**server) if server else "default").open()
    d.greet()
    return d


@pytest.mark.parametrize(("path", "mailbox_"), GOOD)
def test_rfc_paths_are_taken_as_their_mailbox(path: str, mailbox_: str) -> None:
    d = greeted()
    assert d.reply(f"MAIL FROM:<{path}>") == b"250 2.1.0 Ok\r\n"
    assert d.reply(f"RCPT TO:<{path}>") == b"250 2.1.5 Ok\r\n"
    assert d.kinds() == []
    assert d.session.mail_from == mailbox_
    assert d.session.rcpt_tos == [mailbox_]


@pytest.mark.parametrize(("path", "words"), BAD)
def test_bad_paths_get_postfix_replies_and_a_violation_naming_the_fault(
    path: str, words: str
) -> None:
    d = greeted()
    assert d.reply(f"MAIL FROM:<{path}>") == b"501 5.1.7 Bad sender address syntax\r\n"
    assert d.code("RCPT TO:<b@x.test>") == 503  # no transaction was opened
    assert d.code("MAIL FROM:<a@x.test>") == 250
    assert d.reply(f"RCPT TO:<{path}>") == b"501 5.1.3 Bad recipient address syntax\r\n"
    assert d.session.rcpt_tos == []
    assert d.kinds() == ["bad-syntax", "bad-sequence", "bad-syntax"]
    for v in (d.violations[0], d.violations[2]):
        assert f"<{path}>: " in v.detail and words in v.detail and "RFC 5321 §4.1" in v.detail
    assert d.code("RCPT TO:<b@x.test>") == 250  # the transaction goes on


def test_the_null_reverse_path_and_postmaster_without_a_domain() -> None:
    d = greeted()
    assert d.code("MAIL FROM:<>") == 250  # §4.1.1.2
    for postmaster in ("postmaster", "Postmaster", "POSTMASTER"):  # §4.1.1.3, case-insensitive
        assert d.code(f"RCPT TO:<{postmaster}>") == 250
    assert d.kinds() == []
    assert d.reply("MAIL FROM:<postmaster>").startswith(b"503 ")  # (a transaction is open)
    d.cmd("RSET")
    assert d.reply("MAIL FROM:<postmaster>") == b"501 5.1.7 Bad sender address syntax\r\n"
    assert "the null reverse-path is <>" in d.violations[-1].detail


def test_utf8_paths_follow_rfc_6531_grammar_with_smtputf8() -> None:
    d = greeted()
    assert d.code("MAIL FROM:<jürgen@例え.test> SMTPUTF8") == 250
    assert d.code('RCPT TO:<"ñandú pájaro"@例え.test>') == 250
    assert d.reply("RCPT TO:<ñandú@例え..test>") == b"501 5.1.3 Bad recipient address syntax\r\n"
    assert d.kinds() == ["bad-syntax"]
    assert "empty label" in d.violations[0].detail
    # without SMTPUTF8 a non-ASCII path is RFC 6531's 553, whatever its syntax (§3.5)
    d.cmd("RSET")
    assert d.reply("MAIL FROM:<jürgen@@x.test>").startswith(b"553 5.6.7 ")


def test_strict_envelope_and_unbracketed_paths_are_checked_too() -> None:
    lenient = greeted()
    assert lenient.reply("MAIL FROM:a@@x.test") == b"501 5.1.7 Bad sender address syntax\r\n"
    assert lenient.code("MAIL FROM: <@r.test:a@x.test>") == 250  # recorded as path-syntax
    assert lenient.session.mail_from == "a@x.test"
    assert lenient.reply("RCPT TO: <a,b@x.test>") == b"501 5.1.3 Bad recipient address syntax\r\n"
    # both told: the path's form (once a session) and its mailbox
    assert lenient.kinds() == ["path-syntax", "bad-syntax", "bad-syntax"]
    assert "',' in the local part, unquoted" in lenient.violations[-1].detail
    strict = greeted(strict_envelope=True)
    assert strict.reply("MAIL FROM:<a b@x.test>") == b"501 5.1.7 Bad sender address syntax\r\n"
    assert "white space in the local part" in strict.violations[0].detail


def test_a_rule_on_the_stage_may_still_answer_a_bad_path() -> None:
    """As every syntax refusal: the violation is told, and a rule may send its own reply."""
    d = Engine(scenario({"on": "rcpt", "reply": "250 2.1.5 Taken anyway"})).open()
    d.greet()
    assert d.code("MAIL FROM:<a@x.test>") == 250
    assert d.reply("RCPT TO:<a@x.test,b@x.test>").startswith(b"250 2.1.5 Taken anyway")
    assert d.kinds() == ["bad-syntax"]


def test_read_is_the_grammar_alone() -> None:
    """mailbox.read: (mailbox, None) for a path, (path, detail) for anything else."""
    assert mailbox.read("", "MAIL") == ("", None)
    assert mailbox.read("@a.test:u@x.test", "RCPT") == ("u@x.test", None)
    assert mailbox.read("postmaster", "RCPT") == ("postmaster", None)
    path, detail = mailbox.read("postmaster", "MAIL")
    assert path == "postmaster" and detail is not None
