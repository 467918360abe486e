"""The engine's side of TLS and of the EHLO list, sans I/O: lines and events in, actions out.

No sockets, no sleeps: the "handshake" is the test calling ``tls_started`` or ``tls_failed`` the
way the wire does.
"""

from __future__ import annotations

from typing import Any

import pytest

from smtpfake.engine.state import Mode
from smtpfake.scenario.faults.tls import GARBAGE
from smtpfake.scenario.model import DEFAULT_EXTENSIONS, ServerSettings, TlsSettings
from smtpfake.scenario.plan import Action, Close, Reset, Send, Sleep, StartTLS

from ..support import scenario
from ..support.engine import Driver, Engine, sent
from ..support.pipe import Pipe

TLS = {"tls": True}


def opened(ref: Any = "default") -> Driver:
    d = Engine(ref).open()
    assert sent(d.connect()).startswith(b"220 ")
    return d


# -- the EHLO list -------------------------------------------------------------------------------


def test_the_default_list_is_unchanged_and_has_no_starttls() -> None:
    assert opened().ehlo_keywords() == list(DEFAULT_EXTENSIONS)


def test_starttls_is_advertised_when_tls_is_on_and_not_after_the_handshake() -> None:
    d = opened(scenario(**TLS))
    assert d.ehlo_keywords() == [*DEFAULT_EXTENSIONS, "STARTTLS"]
    assert d.secure() == ()
    # RFC 3207 §4.2: the post-TLS EHLO must not list STARTTLS; the rest is unchanged
    assert d.ehlo_keywords() == list(DEFAULT_EXTENSIONS)


def test_implicit_tls_never_advertises_starttls() -> None:
    settings = ServerSettings(tls=TlsSettings(enabled=True, implicit=True))
    assert "STARTTLS" not in settings.advertised()
    assert "STARTTLS" not in settings.advertised(tls_active=True)


def test_extensions_add_appends_and_replaces_by_keyword_in_place() -> None:
    d = opened(scenario(extensions_add=["DSN", "size 1000", "AUTH PLAIN"]))
    listed = d.ehlo_keywords()
    assert listed[1] == "size 1000"  # in SIZE's place
    assert listed[-2:] == ["DSN", "AUTH PLAIN"]
    assert d.session.settings.size_limit() == 1000


def test_extensions_remove_is_by_keyword_and_case_insensitive() -> None:
    d = opened(scenario(extensions_remove=["pipelining", "Size", "HELP"], **TLS))
    assert d.ehlo_keywords() == ["8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "STARTTLS"]
    assert d.session.settings.size_limit() is None


EACH = ("PIPELINING", "SIZE", "STARTTLS", "AUTH", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES")


@pytest.mark.parametrize("keyword", [*EACH, "DSN"])
def test_each_extension_can_be_present_or_absent(keyword: str) -> None:
    present = {"extensions_add": ["DSN"], "auth": {"users": {"u": "p"}}, **TLS}
    listed = [line.split(" ")[0] for line in opened(scenario(**present)).ehlo_keywords()]
    assert keyword in listed
    absent = {**present, "extensions_remove": [keyword]}
    listed = [line.split(" ")[0] for line in opened(scenario(**absent)).ehlo_keywords()]
    assert keyword not in listed
    assert len(listed) == 9 - 1  # only that one went


def test_without_enhancedstatuscodes_no_reply_carries_an_enhanced_code() -> None:
    d = opened(scenario(extensions_remove=["ENHANCEDSTATUSCODES"], **TLS))
    d.ehlo_keywords()
    assert d.reply("MAIL FROM:<a@x.test>") == b"250 Ok\r\n"
    assert d.reply("STARTTLS STARTTLS") == b"501 Syntax: STARTTLS (no parameters allowed)\r\n"
    assert sent(d.send("STARTTLS")) == b"220 Ready to start TLS\r\n"


def test_starttls_listed_by_hand_is_kept_once() -> None:
    settings = ServerSettings(extensions=("STARTTLS", "SIZE 10"), tls=TlsSettings(enabled=True))
    assert settings.advertised() == ("STARTTLS", "SIZE 10")
    assert settings.advertised(tls_active=True) == ("SIZE 10",)


# -- STARTTLS ------------------------------------------------------------------------------------


def test_starttls_answers_220_then_asks_the_wire_for_the_handshake() -> None:
    d = opened(scenario(**TLS))
    d.ehlo_keywords()
    actions = d.send("STARTTLS")
    assert actions == (Send(b"220 2.0.0 Ready to start TLS\r\n"), StartTLS())
    assert d.session.mode is Mode.COMMAND and not d.session.tls_active


def test_after_the_handshake_the_session_starts_over() -> None:
    d = opened(scenario(require_helo=True, **TLS))
    d.ehlo_keywords()
    assert d.code("MAIL FROM:<a@x.test>") == 250  # a transaction open before TLS ...
    d.secure()
    assert d.session.tls_active and not d.session.greeted
    assert d.session.mail_from == ""  # ... is forgotten (RFC 3207 §4.2)
    assert d.reply("MAIL FROM:<a@x.test>") == b"503 5.5.1 Error: send HELO first\r\n"
    d.ehlo_keywords()
    assert d.code("MAIL FROM:<a@x.test>") == 250
    record = d.record
    assert record.tls
    assert "(TLS established: TLSv1.3, TLS_AES_256_GCM_SHA384)" in record.replies


def test_the_session_record_says_no_tls_without_a_handshake() -> None:
    d = opened(scenario(**TLS))
    d.ehlo_keywords()
    d.send("STARTTLS")
    assert not d.record.tls


def test_starttls_twice_gets_503_and_is_a_violation() -> None:
    d = opened(scenario(**TLS))
    d.ehlo_keywords()
    d.secure()
    d.ehlo_keywords()
    assert d.send("STARTTLS") == (Send(b"503 5.5.1 Error: TLS already active\r\n"),)
    assert [v.kind for v in d.record.violations] == ["tls-already-active"]


def test_starttls_with_an_argument_gets_501_and_no_handshake() -> None:
    d = opened(scenario(**TLS))
    d.ehlo_keywords()
    actions = d.send("STARTTLS now")
    assert actions == (Send(b"501 5.5.4 Syntax: STARTTLS (no parameters allowed)\r\n"),)


def test_starttls_without_tls_is_502_unless_advertised_by_hand_then_454() -> None:
    d = opened()
    d.ehlo_keywords()
    assert d.reply("STARTTLS") == b"502 5.5.1 Error: command not implemented\r\n"
    d = opened(scenario(extensions=["STARTTLS"]))
    d.ehlo_keywords()
    assert d.reply("STARTTLS") == b"454 TLS not available due to temporary reason\r\n"
    d = opened("454-tls-not-available")
    d.ehlo_keywords()
    assert d.reply("STARTTLS") == b"454 4.7.0 TLS not available due to temporary reason\r\n"


def test_a_rule_that_refuses_starttls_means_no_handshake() -> None:
    d = opened(scenario({"on": "starttls", "reply": "454 4.7.0 Not now"}, **TLS))
    d.ehlo_keywords()
    assert d.send("STARTTLS") == (Send(b"454 4.7.0 Not now\r\n"),)
    assert d.ehlo_keywords()[-1] == "STARTTLS"  # still on offer


@pytest.mark.parametrize(
    ("rule", "tail"),
    [
        ({"close": True}, (Close(),)),
        ({"reset": True}, (Reset(),)),
        ({"truncate": 5}, (Close(),)),
    ],
)
def test_a_fault_that_ends_the_connection_means_no_handshake(
    rule: dict[str, Any], tail: tuple[Action, ...]
) -> None:
    d = opened(scenario({"on": "starttls", **rule}, **TLS))
    d.ehlo_keywords()
    actions = d.send("STARTTLS")
    assert not any(isinstance(a, StartTLS) for a in actions)
    assert actions[-len(tail) :] == tail


def test_a_delay_on_starttls_comes_before_the_220_and_the_handshake() -> None:
    d = opened(scenario({"on": "starttls", "delay": 2}, **TLS))
    d.ehlo_keywords()
    actions = d.send("STARTTLS")
    assert actions == (Sleep(2.0), Send(b"220 2.0.0 Ready to start TLS\r\n"), StartTLS())


@pytest.mark.parametrize(
    ("how", "tail"),
    [
        ("garbage", (Send(GARBAGE), Close())),
        ("close", (Close(),)),
        ("reset", (Reset(),)),
        ({"how": "cut", "bytes": 7}, (StartTLS(cut_after=7),)),
    ],
)
def test_tls_fail_replaces_the_handshake(how: Any, tail: tuple[Action, ...]) -> None:
    d = opened(scenario({"on": "starttls", "tls_fail": how}, **TLS))
    d.ehlo_keywords()
    actions = d.send("STARTTLS")
    assert actions == (Send(b"220 2.0.0 Ready to start TLS\r\n"), *tail)
    assert StartTLS() not in actions


def test_a_failed_handshake_closes_the_session_without_blaming_the_client() -> None:
    d = opened(scenario(**TLS))
    d.ehlo_keywords()
    d.send("STARTTLS")
    d.session.tls_failed("WRONG_VERSION_NUMBER")
    assert d.session.mode is Mode.CLOSED
    d.session.disconnected()
    record = d.record
    assert record.violations == ()  # no "no-quit": the client could not have sent QUIT
    assert "(TLS handshake failed: WRONG_VERSION_NUMBER; connection closed)" in record.replies
    assert not record.tls


def test_plain_text_sent_before_the_handshake_is_a_violation() -> None:
    d = opened(scenario(**TLS))
    d.ehlo_keywords()
    d.send("STARTTLS")
    d.session.discarded_before_tls(24)
    assert [v.kind for v in d.record.violations] == ["sent-before-tls"]
    assert "(24 bytes after STARTTLS, before the handshake: discarded)" in d.record.commands


# -- TLS required --------------------------------------------------------------------------------

REQUIRED = {"tls": {"required": True}}


@pytest.mark.parametrize(
    "line",
    [
        "MAIL FROM:<a@x.test>",
        "RCPT TO:<b@x.test>",
        "DATA",
        "AUTH PLAIN AGEAYg==",
        "HELO client.test",
        "RSET",
        "VRFY b@x.test",
        "HELP",
    ],
)
def test_tls_required_refuses_with_530_before_tls(line: str) -> None:
    d = opened(scenario(**REQUIRED))
    d.ehlo_keywords()
    assert d.reply(line) == b"530 5.7.0 Must issue a STARTTLS command first\r\n"
    assert d.record.violations == ()  # the server's policy, not the client's mistake


@pytest.mark.parametrize("line", ["NOOP", "EHLO client.test", "QUIT"])
def test_tls_required_still_answers_noop_ehlo_and_quit(line: str) -> None:
    d = opened(scenario(**REQUIRED))
    assert d.cmd(line) in (221, 250)


def test_tls_required_accepts_mail_after_the_handshake() -> None:
    d = opened(scenario(**REQUIRED))
    d.ehlo_keywords()
    d.secure()
    d.ehlo_keywords()
    assert d.reply("MAIL FROM:<a@x.test>") == b"250 2.1.0 Ok\r\n"


def test_the_530_can_be_shaped_by_a_rule_on_its_stage() -> None:
    d = opened(scenario({"on": "mail", "delay": 1}, **REQUIRED))
    d.ehlo_keywords()
    assert d.send("MAIL FROM:<a@x.test>")[0] == Sleep(1.0)


# -- implicit TLS --------------------------------------------------------------------------------

IMPLICIT = {"tls": {"implicit": True}}


def test_implicit_tls_handshakes_first_and_greets_after_it() -> None:
    d = Engine(scenario(**IMPLICIT)).open()
    assert d.session.connect() == (StartTLS(),)
    assert d.record.transcript == ()  # nothing said yet
    greeting = d.event(d.session.tls_started("TLSv1.3", "TLS_AES_128_GCM_SHA256"))
    assert sent(greeting) == b"220 smtpfake.test ESMTP smtpfake\r\n"
    assert [e.text for e in d.record.transcript] == [
        "(TLS established: TLSv1.3, TLS_AES_128_GCM_SHA256)",
        "220 smtpfake.test ESMTP smtpfake",
    ]
    assert "STARTTLS" not in d.ehlo_keywords()
    assert d.reply("STARTTLS") == b"503 5.5.1 Error: TLS already active\r\n"


def test_implicit_tls_handshake_is_the_starttls_stage_for_rules() -> None:
    d = Engine(
        scenario({"on": "starttls", "connection": 1, "tls_fail": "reset"}, **IMPLICIT)
    ).open()
    assert d.session.connect() == (Reset(),)
    again = Engine(scenario({"on": "starttls", "tls_fail": "close"}, **IMPLICIT)).open()
    assert again.session.connect() == (Close(),)


def test_rules_on_connect_shape_the_greeting_after_an_implicit_handshake() -> None:
    rule = {"on": "connect", "reply": "421 4.3.2 Not today"}
    d = Engine(scenario(rule, **IMPLICIT)).open()
    assert d.session.connect() == (StartTLS(),)
    actions = d.session.tls_started("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert actions == (Send(b"421 4.3.2 Not today\r\n"), Close())
    assert d.session.mode is Mode.CLOSED


def test_required_without_tls_enabled_requires_nothing() -> None:
    d = opened(scenario(tls={"enabled": False, "required": True}))
    d.ehlo_keywords()
    assert d.code("MAIL FROM:<a@x.test>") == 250


@pytest.mark.parametrize("how", ["garbage", "close"])
def test_a_broken_handshake_is_in_the_record_with_what_the_client_sent_after(how: str) -> None:
    """What ``garbage`` sent is a server entry as it went on the wire; what the client sends once
    the server broke the handshake off (its ClientHello, an alert) is counted, not read."""
    p = Pipe(Engine(scenario({"on": "starttls", "tls_fail": how}, **TLS)), grace=1.0)
    p.connect()
    p.feed("EHLO client.test")
    wire = p.feed("STARTTLS")
    assert wire == b"220 2.0.0 Ready to start TLS\r\n" + (GARBAGE if how == "garbage" else b"")
    assert p.half_closed  # still reading, in the grace period
    client_hello = b"\x16\x03\x01\x01\x00\x01" + bytes(250)  # a record of type 22, handshake
    assert p.feed(client_hello) == b""
    assert p.feed(b"\x15\x03\x03\x00\x02\x02\x32") == b""  # an alert as the client gives up
    assert p.feed(b"EHLO again\r\n") == b""  # not SMTP any more: never read as a command
    p.eof()
    p.finish()
    record = p.record
    texts = [e.text for e in record.transcript]
    close = texts.index("(connection closed)")
    sent = ["smtpfake: this is not a TLS handshake"] if how == "garbage" else []
    assert texts[close - 1 - len(sent) : close] == ["220 2.0.0 Ready to start TLS", *sent]
    assert texts[close + 1 :] == [
        "(256 octets, starting with a TLS handshake record: not read, the server broke TLS off)",
        "(7 octets, starting with a TLS alert record: not read, the server broke TLS off)",
        "(12 octets, not TLS: not read, the server broke TLS off)",
        "(client closed the connection)",
    ]
    assert all(e.side == "client" and e.note for e in record.transcript[close + 1 :])
    assert record.violations == ()
