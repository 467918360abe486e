"""AUTH in the engine (RFC 4954, RFC 4616): advertisement, PLAIN and LOGIN exchanges, every
refusal, the auth mode, masking, and rules on the auth stage. No sockets, no sleeps."""

from __future__ import annotations

from typing import Any

import pytest

from smtpfake.engine.session import AUTH_LINE_LIMIT
from smtpfake.engine.state import Mode
from smtpfake.scenario.plan import Close

from ..support.engine import Driver, Engine, sent
from .helpers import auth_scenario, b64, plain

OK = b"235 2.7.0 Authentication successful\r\n"
INVALID = b"535 5.7.8 Authentication credentials invalid\r\n"
USERNAME = b"334 VXNlcm5hbWU6\r\n"
PASSWORD = b"334 UGFzc3dvcmQ6\r\n"


def conn(*rules: dict[str, Any], **auth: Any) -> Driver:
    c = Engine(auth_scenario(*rules, **auth)).open()
    c.greet()
    return c


def assert_secret_free(c: Driver, *secrets: str) -> None:
    text = c.record.format()
    for secret in secrets:
        assert secret not in text, text


# -- advertisement -------------------------------------------------------------------------------


def test_without_auth_settings_ehlo_has_no_auth_and_auth_gets_502() -> None:
    c = Engine("default").open()
    assert b"AUTH" not in c.greet()
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == (
        b"502 5.5.1 Error: authentication not enabled\r\n"
    )
    assert c.session.auth_user is None


def test_ehlo_advertises_the_configured_mechanisms_in_order() -> None:
    assert conn().session.settings.auth is not None
    c = Engine(auth_scenario()).open()
    assert c.greet().endswith(b"250 AUTH PLAIN LOGIN\r\n")
    c = Engine(auth_scenario(mechanisms=["LOGIN"])).open()
    assert b"250 AUTH LOGIN\r\n" in c.greet()


def test_an_auth_line_listed_by_hand_is_not_doubled() -> None:
    data = auth_scenario()
    data["server"]["extensions"] = ["AUTH LOGIN PLAIN", "PIPELINING"]
    reply = Engine(data).open().greet()
    assert reply.count(b"AUTH") == 1
    assert b"250-AUTH LOGIN PLAIN\r\n" in reply


def test_helo_reply_carries_no_extensions_and_auth_after_helo_is_refused() -> None:
    c = Engine(auth_scenario()).open()
    assert c.greet("HELO client.test") == b"250 smtpfake.test\r\n"
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == (
        b"503 5.5.1 Error: send EHLO first\r\n"
    )
    assert c.kinds() == ["bad-sequence"]


def test_require_tls_hides_auth_until_tls_and_refuses_it_with_538() -> None:
    f = Engine(auth_scenario(require_tls=True))
    c = f.open()
    assert b"AUTH" not in c.greet()
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == (
        b"538 5.7.11 Encryption required for requested authentication mechanism\r\n"
    )
    assert c.session.auth_user is None
    assert c.kinds() == ["auth-without-tls"]
    # Under TLS (the wire sets the flag after the handshake) AUTH is offered and works.
    c = f.open()
    c.greet()
    c.session.tls_active = True
    assert c.reply("EHLO client.test").endswith(b"250 AUTH PLAIN LOGIN\r\n")
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == OK
    assert c.kinds() == []


# -- PLAIN -----------------------------------------------------------------------------------------


def test_plain_with_initial_response() -> None:
    c = conn()
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == OK
    assert c.session.auth_user == "alice"
    assert c.record.auth_user == "alice"
    assert "AUTH PLAIN (auth response)" in c.record.commands
    assert_secret_free(c, plain("alice", "secret"), "secret")


def test_plain_without_initial_response_gets_an_empty_challenge() -> None:
    c = conn()
    assert c.reply("AUTH PLAIN") == b"334 \r\n"
    assert c.session.mode is Mode.AUTH
    assert c.reply(plain("bob", "hunter2")) == OK
    assert c.session.mode is Mode.COMMAND
    assert c.session.auth_user == "bob"
    assert c.record.commands[-2:] == ("AUTH PLAIN", "(auth response)")
    assert_secret_free(c, "hunter2", plain("bob", "hunter2"))


def test_plain_mechanism_name_is_case_insensitive() -> None:
    assert conn().reply(f"auth plain {plain('alice', 'secret')}") == OK


def test_plain_wrong_password_then_a_retry_on_the_same_connection() -> None:
    c = conn()
    assert c.reply(f"AUTH PLAIN {plain('alice', 'wrong')}") == INVALID
    assert c.session.auth_user is None and c.record.auth_user is None
    assert c.reply(f"AUTH PLAIN {plain('nobody', 'secret')}") == INVALID
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == OK
    assert c.kinds() == []  # wrong credentials are not a protocol violation


def test_plain_authorization_identity_must_be_empty_or_the_user() -> None:
    assert conn().reply(f"AUTH PLAIN {plain('alice', 'secret', authzid='alice')}") == OK
    assert conn().reply(f"AUTH PLAIN {plain('alice', 'secret', authzid='bob')}") == INVALID


@pytest.mark.parametrize(
    "initial",
    ["=", b64("alice secret"), b64("\0alice"), b64("\0alice\0secret\0extra")],
    ids=["empty", "no-nul", "one-nul", "three-nul"],
)
def test_plain_malformed_message_is_invalid_credentials(initial: str) -> None:
    c = conn()
    assert c.reply(f"AUTH PLAIN {initial}") == INVALID
    assert c.session.auth_user is None


@pytest.mark.parametrize("response", ["not base64!", "AAA=BBBB", "abc", "YWxp Y2U="])
def test_bad_base64_gets_501_5_5_2(response: str) -> None:
    c = conn()
    assert c.reply(f"AUTH PLAIN {response}") == b"501 5.5.2 Cannot decode response\r\n"
    c = conn()
    assert c.reply("AUTH PLAIN") == b"334 \r\n"
    assert c.reply(response) == b"501 5.5.2 Cannot decode response\r\n"
    assert c.session.mode is Mode.COMMAND
    assert c.session.auth_user is None


def test_star_cancels_the_exchange_with_501() -> None:
    c = conn()
    assert c.reply("AUTH PLAIN") == b"334 \r\n"
    assert c.reply("*") == b"501 5.0.0 Authentication cancelled\r\n"
    assert c.session.mode is Mode.COMMAND and c.session.auth_user is None
    assert c.record.commands[-1] == "*"
    # The session goes on: a new AUTH works.
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == OK


# -- LOGIN -----------------------------------------------------------------------------------------


def test_login_prompts_for_username_then_password() -> None:
    c = conn()
    assert c.reply("AUTH LOGIN") == USERNAME
    assert c.session.mode is Mode.AUTH
    assert c.reply(b64("alice")) == PASSWORD
    assert c.session.mode is Mode.AUTH
    assert c.reply(b64("secret")) == OK
    assert c.session.auth_user == "alice"
    assert c.record.commands[-3:] == ("AUTH LOGIN", "(auth response)", "(auth response)")
    assert c.record.replies[-3:] == (
        "334 VXNlcm5hbWU6",
        "334 UGFzc3dvcmQ6",
        "235 2.7.0 Authentication successful",
    )
    assert_secret_free(c, b64("secret"), "secret")


def test_login_with_the_username_as_initial_response() -> None:
    c = conn()
    assert c.reply(f"AUTH LOGIN {b64('bob')}") == PASSWORD
    assert c.reply(b64("hunter2")) == OK
    assert c.session.auth_user == "bob"
    assert "AUTH LOGIN (auth response)" in c.record.commands


def test_login_wrong_password_and_cancel_at_the_password_prompt() -> None:
    c = conn()
    assert c.reply(f"AUTH LOGIN {b64('alice')}") == PASSWORD
    assert c.reply(b64("nope")) == INVALID
    assert c.session.auth_user is None
    assert c.reply("AUTH LOGIN") == USERNAME
    assert c.reply(b64("alice")) == PASSWORD
    assert c.reply("*") == b"501 5.0.0 Authentication cancelled\r\n"
    assert c.session.auth_user is None and c.session.mode is Mode.COMMAND


def test_login_bad_base64_username() -> None:
    c = conn()
    assert c.reply("AUTH LOGIN") == USERNAME
    assert c.reply("alice!") == b"501 5.5.2 Cannot decode response\r\n"
    assert c.session.mode is Mode.COMMAND


def test_lines_inside_the_exchange_are_not_commands() -> None:
    c = conn(required=True)
    assert c.reply("AUTH LOGIN") == USERNAME
    # A command here is a (bad) response: it ends the exchange, it is not run.
    assert c.reply("MAIL FROM:<a@x.test>") == b"501 5.5.2 Cannot decode response\r\n"
    assert c.session.phase.value == "idle"
    assert c.record.commands[-1] == "(auth response)"  # masked like any response
    assert c.reply("AUTH LOGIN") == USERNAME
    assert c.reply("QUIT") == PASSWORD  # "QUIT" is valid base64: taken as the username
    assert not c.session.quit_seen
    assert c.reply(b64("secret")) == INVALID


def test_a_response_sent_before_its_challenge_is_a_pipelining_violation() -> None:
    c = conn()
    assert c.reply("AUTH LOGIN") == USERNAME
    assert sent(c.session.receive(f"{b64('alice')}\r\n".encode())) == PASSWORD
    assert c.kinds() == []
    assert sent(c.session.receive(f"{b64('secret')}\r\n".encode(), pipelined=True)) == OK
    assert c.kinds() == ["bad-pipelining"]


# -- refusals --------------------------------------------------------------------------------------


def test_unknown_or_unconfigured_mechanism_gets_504() -> None:
    refused = b"504 5.5.4 Unrecognized authentication type\r\n"
    assert conn().reply("AUTH CRAM-MD5") == refused
    c = conn(mechanisms=["PLAIN"])
    assert c.reply(f"AUTH LOGIN {b64('alice')}") == refused
    assert c.session.mode is Mode.COMMAND  # the initial response is not read as a command
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == OK


def test_auth_without_a_mechanism_is_a_syntax_error() -> None:
    assert conn().reply("AUTH") == b"501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n"


def test_auth_before_ehlo_gets_503() -> None:
    c = Engine(auth_scenario()).open()
    sent(c.session.connect())
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == (
        b"503 5.5.1 Error: send EHLO first\r\n"
    )
    assert c.session.auth_user is None
    assert [v.detail for v in c.record.violations] == ["AUTH before EHLO"]


def test_auth_twice_gets_503_and_keeps_the_first_user() -> None:
    c = conn()
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == OK
    assert c.reply("AUTH LOGIN") == b"503 5.5.1 Already authenticated\r\n"
    assert c.session.mode is Mode.COMMAND
    assert c.session.auth_user == "alice"
    assert c.kinds() == ["bad-sequence"]


@pytest.mark.parametrize(
    "opened", [["MAIL FROM:<a@x.test>"], ["MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>"]]
)
def test_auth_inside_a_transaction_gets_503(opened: list[str]) -> None:
    c = conn()
    for line in opened:
        assert c.code(line) == 250
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == (
        b"503 5.5.1 Error: AUTH not permitted during a mail transaction\r\n"
    )
    assert c.session.auth_user is None
    assert c.kinds() == ["bad-sequence"]
    # After RSET the transaction is gone and AUTH works.
    assert c.code("RSET") == 250
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == OK


def test_required_auth_refuses_mail_with_530_until_authenticated() -> None:
    c = conn(required=True)
    assert c.reply("MAIL FROM:<a@x.test>") == b"530 5.7.0 Authentication required\r\n"
    assert c.reply("RCPT TO:<b@x.test>")[:3] == b"503"  # no transaction was opened
    assert c.reply(f"AUTH PLAIN {plain('alice', 'wrong')}") == INVALID
    assert c.code("MAIL FROM:<a@x.test>") == 530
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == OK
    assert c.code("MAIL FROM:<a@x.test>") == 250
    assert c.code("RCPT TO:<b@x.test>") == 250
    assert c.code("DATA") == 354
    assert c.send(b"hi\r\n") == ()
    assert c.reply(".")[:3] == b"250"
    assert len(c.record.messages) == 1
    assert c.kinds() == ["bad-sequence"]  # only the RCPT without MAIL; the 530 is policy


def test_auth_not_required_lets_mail_through() -> None:
    assert conn().code("MAIL FROM:<a@x.test>") == 250


def test_no_enhanced_codes_unless_advertised() -> None:
    data = auth_scenario()
    data["server"]["extensions"] = ["PIPELINING"]
    c = Engine(data).open()
    c.greet()
    assert c.reply(f"AUTH PLAIN {plain('alice', 'x')}") == (
        b"535 Authentication credentials invalid\r\n"
    )
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == b"235 Authentication successful\r\n"


def test_an_over_long_response_line_ends_the_exchange_with_500() -> None:
    c = conn()
    assert c.reply("AUTH PLAIN") == b"334 \r\n"
    too_long = b"A" * (AUTH_LINE_LIMIT + 4) + b"\r\n"
    assert c.reply(too_long) == b"500 5.5.6 Authentication Exchange line is too long\r\n"
    assert c.session.mode is Mode.COMMAND
    # The wire reports a line longer than its reader holds the same way.
    assert c.reply("AUTH LOGIN") == USERNAME
    assert sent(c.session.line_too_long()) == (
        b"500 5.5.6 Authentication Exchange line is too long\r\n"
    )
    assert c.session.mode is Mode.COMMAND
    assert c.code("NOOP") == 250


def test_auth_survives_a_new_ehlo() -> None:
    c = conn(required=True)
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == OK
    c.reply("EHLO again.test")
    assert c.code("MAIL FROM:<a@x.test>") == 250


def test_the_session_record_names_the_user() -> None:
    c = conn()
    assert c.record.auth_user is None
    c.reply(f"AUTH PLAIN {plain('alice', 'secret')}")
    assert c.record.auth_user == "alice"
    assert c.record.format().splitlines()[0].endswith("authenticated as 'alice'")


# -- rules on the auth stage -----------------------------------------------------------------------


def test_a_rule_reply_replaces_the_verdict_after_the_whole_exchange() -> None:
    rule = {"on": "auth", "name": "down", "reply": "454 4.7.0 Temporary authentication failure"}
    c = conn(rule, required=True)
    assert c.reply("AUTH LOGIN") == USERNAME  # the challenges are the exchange, not the verdict
    assert c.reply(b64("alice")) == PASSWORD
    assert c.reply(b64("secret")) == b"454 4.7.0 Temporary authentication failure\r\n"
    assert c.session.auth_user is None and c.session.mode is Mode.COMMAND
    assert c.code("MAIL FROM:<a@x.test>") == 530
    tagged = [e for e in c.record.transcript if e.rule]
    assert [e.text for e in tagged] == ["454 4.7.0 Temporary authentication failure"]
    assert tagged[0].rule == "down"


def test_a_rule_replying_235_authenticates_even_bad_credentials() -> None:
    c = conn({"on": "auth", "reply": "235 2.7.0 Come in"}, required=True)
    assert c.reply(f"AUTH PLAIN {plain('mallory', 'guess')}") == b"235 2.7.0 Come in\r\n"
    assert c.session.auth_user == "mallory"
    assert c.code("MAIL FROM:<a@x.test>") == 250


def test_a_rule_replying_235_works_without_auth_settings() -> None:
    c = Engine(
        {"summary": "s", "expect": "e", "rules": [{"on": "auth", "reply": "235 2.7.0 Ok"}]}
    ).open()
    c.greet()
    assert c.reply("AUTH LOGIN") == b"235 2.7.0 Ok\r\n"
    assert c.session.auth_user == ""
    assert c.record.auth_user == ""


def test_rules_match_the_mechanism_name() -> None:
    c = conn({"on": "auth", "match": "login", "reply": "535 5.7.8 No LOGIN for you"})
    assert c.reply(f"AUTH LOGIN {b64('alice')}") == PASSWORD
    assert c.reply(b64("secret")) == b"535 5.7.8 No LOGIN for you\r\n"
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == OK


def test_nth_counts_auth_attempts_not_lines() -> None:
    c = conn({"on": "auth", "nth": 1, "reply": "454 4.7.0 Temporary authentication failure"})
    assert c.reply("AUTH LOGIN") == USERNAME
    assert c.reply(b64("alice")) == PASSWORD
    assert c.code(b64("secret")) == 454
    assert c.reply("AUTH LOGIN") == USERNAME
    assert c.reply(b64("alice")) == PASSWORD
    assert c.reply(b64("secret")) == OK


def test_a_rule_can_close_after_the_verdict() -> None:
    c = conn({"on": "auth", "reply": "421 4.7.0 Go away"})
    assert c.reply("AUTH PLAIN") == b"334 \r\n"
    actions = c.send(plain("alice", "secret"))
    assert sent(actions) == b"421 4.7.0 Go away\r\n"
    assert isinstance(actions[-1], Close)
    assert c.session.mode is Mode.CLOSED and c.session.auth_user is None


def test_a_rule_on_auth_also_answers_refusals() -> None:
    c = conn({"on": "auth", "reply": "535 5.7.8 Authentication credentials invalid"})
    assert c.reply("AUTH CRAM-MD5") == INVALID


# -- the built-ins ---------------------------------------------------------------------------------


def test_builtin_530_auth_required() -> None:
    f = Engine("530-auth-required")
    c = f.open()
    assert c.greet().endswith(b"250 AUTH PLAIN LOGIN\r\n")
    assert c.code("MAIL FROM:<a@x.test>") == 530
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == OK
    assert c.code("MAIL FROM:<a@x.test>") == 250


def test_builtin_535_refuses_even_the_right_password() -> None:
    f = Engine("535-auth-failed")
    for _ in range(2):
        c = f.open()
        c.greet()
        assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == INVALID
        assert c.reply("AUTH LOGIN") == USERNAME
        assert c.reply(b64("alice")) == PASSWORD
        assert c.reply(b64("secret")) == INVALID
        assert c.session.auth_user is None
        assert c.code("MAIL FROM:<a@x.test>") == 530


def test_builtin_454_fails_the_first_connection_only() -> None:
    f = Engine("454-auth-temporary")
    c = f.open()
    c.greet()
    temporary = b"454 4.7.0 Temporary authentication failure\r\n"
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == temporary
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == temporary
    c = f.open()
    c.greet()
    assert c.reply(f"AUTH PLAIN {plain('alice', 'wrong')}") == INVALID  # checked for real now
    assert c.reply(f"AUTH PLAIN {plain('alice', 'secret')}") == OK


@pytest.mark.parametrize(
    "line",
    [
        "AUTH PLAIN\t{ir}",
        "AUTH PLAIN={ir}",
        " AUTH PLAIN {ir}",
        "AUTH\tPLAIN {ir}",
        "auth plain {ir}",
        "AUTH XOAUTH2 {ir}",
    ],
    ids=["tab", "equals", "leading space", "tab after AUTH", "lower case", "not offered"],
)
def test_a_malformed_auth_line_is_recorded_masked(line: str) -> None:
    # fresh22 N1: a tab or "=" after the mechanism, or white space before AUTH: the line got
    # a 500/504 and its secret was recorded in clear (a mechanism not offered was masked)
    ir = plain("alice", "Sup3rSecret")
    c = conn()
    c.send(line.format(ir=ir))
    assert_secret_free(c, ir)
    c.send("QUIT")
    c.send(line.format(ir=ir))  # after the close too
    assert_secret_free(c, ir)
    assert "(auth response)" in c.record.format()
