"""strict-503-ordering: RFC 5321 §4.1.4 and §3.3 command order, answered 503 5.5.1, state kept."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ..support.engine import Driver, Engine

STRICT = "strict-503-ordering"


@pytest.fixture
def strict() -> Engine:
    return Engine(STRICT)


def _refused(d: Driver, line: str) -> None:
    data = d.reply(line)
    assert data.startswith(b"503 5.5.1 "), data
    assert data.endswith(b"\r\n") and data.count(b"\r\n") == 1, data
    assert d.violations[-1].kind == "bad-sequence"


def _no_setup(d: Driver) -> None:
    d.connect()


def _greeted(d: Driver) -> None:
    d.greet()


def _in_mail(d: Driver) -> None:
    d.greet()
    assert d.code("MAIL FROM:<a@x.test>") == 250


def _in_rcpt(d: Driver) -> None:
    _in_mail(d)
    assert d.code("RCPT TO:<b@x.test>") == 250


def _rcpt_rejected(d: Driver) -> None:
    d.greet()
    assert d.code("MAIL FROM:<a@x.test>") == 250
    assert d.code("RCPT TO:<reject@x.test>") == 550


def _after_rset(d: Driver) -> None:
    _in_rcpt(d)
    assert d.code("RSET") == 250


def _after_message(d: Driver) -> None:
    d.greet()
    assert d.transaction("a@x.test", "b@x.test").startswith(b"250 ")


Setup = Callable[[Driver], None]

# (what the client did so far, the out-of-order command, the command that is then accepted,
#  showing the state did not change)
CASES: list[tuple[str, Setup, str, str, str]] = [
    ("MAIL before EHLO/HELO", _no_setup, "MAIL FROM:<a@x.test>", "EHLO c.test", "MAIL before"),
    ("RCPT before EHLO/HELO", _no_setup, "RCPT TO:<b@x.test>", "EHLO c.test", "RCPT before"),
    ("DATA before EHLO/HELO", _no_setup, "DATA", "HELO c.test", "DATA before"),
    ("RCPT before MAIL", _greeted, "RCPT TO:<b@x.test>", "MAIL FROM:<a@x.test>", "RCPT before"),
    ("DATA before MAIL", _greeted, "DATA", "MAIL FROM:<a@x.test>", "DATA before"),
    ("DATA before any RCPT", _in_mail, "DATA", "RCPT TO:<b@x.test>", "DATA before"),
    ("DATA after a rejected RCPT", _rcpt_rejected, "DATA", "RCPT TO:<b@x.test>", "DATA before"),
    ("MAIL inside a transaction", _in_mail, "MAIL FROM:<c@x.test>", "RCPT TO:<b@x.test>", "MAIL"),
    ("MAIL after RCPT", _in_rcpt, "MAIL FROM:<c@x.test>", "DATA", "MAIL"),
    ("RCPT after RSET", _after_rset, "RCPT TO:<b@x.test>", "MAIL FROM:<a@x.test>", "RCPT"),
    ("DATA after RSET", _after_rset, "DATA", "MAIL FROM:<a@x.test>", "DATA"),
    ("RCPT after a message", _after_message, "RCPT TO:<b@x.test>", "MAIL FROM:<a@x.test>", "RCPT"),
    ("DATA after a message", _after_message, "DATA", "MAIL FROM:<a@x.test>", "DATA"),
]


def _strict_with_rejecting_rcpt() -> Engine:
    # strict-503-ordering plus a rule refusing one address, for "DATA after a rejected RCPT".
    base = Engine(STRICT).scenario
    return Engine(
        {
            "server": {"require_helo": base.server.require_helo},
            "rules": [{"on": "rcpt", "match": "reject@*", "reply": "550 5.1.1 No such user"}],
        }
    )


@pytest.mark.parametrize(
    ("setup", "bad", "good", "detail"),
    [pytest.param(setup, bad, good, detail, id=name) for name, setup, bad, good, detail in CASES],
)
def test_out_of_order_gets_503_and_state_is_unchanged(
    strict: Engine, setup: Setup, bad: str, good: str, detail: str
) -> None:
    engine = _strict_with_rejecting_rcpt() if setup is _rcpt_rejected else strict
    d = engine.open()
    setup(d)
    before = len(d.violations)
    _refused(d, bad)
    assert len(d.violations) == before + 1
    violation = d.violations[-1]
    assert violation.kind == "bad-sequence"
    assert violation.detail.startswith(detail), violation
    assert violation.command == bad.split(" ")[0]
    assert violation.time == engine.clock.now()
    # Still in the same state: the right next command is accepted (250, or 354 for DATA).
    assert d.code(good) in (250, 354)
    assert len(d.violations) == before + 1


def test_refused_commands_do_not_change_the_message(strict: Engine) -> None:
    d = strict.open()
    d.connect()
    _refused(d, "MAIL FROM:<early@x.test>")
    d.send("EHLO c.test")
    assert d.code("MAIL FROM:<a@x.test>") == 250
    _refused(d, "MAIL FROM:<nested@x.test>")
    assert d.code("RCPT TO:<b@x.test>") == 250
    _refused(d, "MAIL FROM:<nested2@x.test>")
    assert d.code("RCPT TO:<c@x.test>") == 250
    assert d.code("DATA") == 354
    d.send(b"Subject: s\r\n\r\nbody\r\n")
    assert d.code(".") == 250
    (message,) = strict.journal.messages()
    assert message.mail_from == "a@x.test"
    assert message.rcpt_tos == ("b@x.test", "c@x.test")
    assert [v.kind for v in d.violations] == ["bad-sequence"] * 3


def test_strict_mail_before_helo_exact_reply(strict: Engine) -> None:
    d = strict.open()
    d.connect()
    assert d.reply("MAIL FROM:<a@x.test>") == b"503 5.5.1 Error: send HELO first\r\n"
    assert [(v.kind, v.detail, v.command) for v in d.violations] == [
        ("bad-sequence", "MAIL before HELO/EHLO", "MAIL")
    ]


def test_rcpt_before_mail_exact_reply(strict: Engine) -> None:
    d = strict.open()
    d.greet()
    assert d.reply("RCPT TO:<b@x.test>") == b"503 5.5.1 Error: need MAIL command\r\n"


def test_a_correct_client_gets_no_503_and_no_violations(strict: Engine) -> None:
    d = strict.open()
    d.greet()
    assert d.transaction("a@x.test", "b@x.test").startswith(b"250 ")
    assert d.code("RSET") == 250
    assert d.transaction("a@x.test", "c@x.test").startswith(b"250 ")
    d.send("QUIT")
    d.session.disconnected()
    assert 503 not in d.record.reply_codes
    assert d.violations == ()


ALWAYS_ALLOWED = {"NOOP": 250, "RSET": 250, "VRFY someone@x.test": 252, "HELP": 214}


def _states() -> list[tuple[str, Setup]]:
    return [
        ("before EHLO", _no_setup),
        ("after EHLO", _greeted),
        ("after MAIL", _in_mail),
        ("after RCPT", _in_rcpt),
        ("after RSET", _after_rset),
        ("after a message", _after_message),
    ]


@pytest.mark.parametrize("ref", [STRICT, "default"])
@pytest.mark.parametrize("command", list(ALWAYS_ALLOWED))
@pytest.mark.parametrize(("setup"), [pytest.param(s, id=n) for n, s in _states()])
def test_noop_rset_vrfy_help_are_never_503(ref: str, command: str, setup: Setup) -> None:
    engine = Engine(ref)
    d = engine.open()
    setup(d)
    before = d.violations
    assert d.code(command) == ALWAYS_ALLOWED[command]
    assert d.violations == before


@pytest.mark.parametrize("command", ["NOOP", "VRFY someone@x.test", "HELP"])
def test_noop_vrfy_help_keep_the_open_transaction(strict: Engine, command: str) -> None:
    d = strict.open()
    _in_rcpt(d)
    d.send(command)
    # Still in the transaction: DATA is accepted (RSET, by contrast, ends it).
    assert d.code("DATA") == 354
