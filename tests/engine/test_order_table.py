"""The one ordering table (engine/state.py ORDER): decide() on every command, phase and fact."""

from __future__ import annotations

import itertools

import pytest

from smtpfake.engine.state import ORDER, Facts, Phase, Refusal, Tolerated, decide

GREETED = Facts(greeted=True, esmtp=True)


@pytest.mark.parametrize(
    ("command", "phase", "after"),
    [
        ("MAIL", Phase.IDLE, Phase.MAIL),
        ("RCPT", Phase.MAIL, Phase.RCPT),
        ("RCPT", Phase.RCPT, Phase.RCPT),
        ("DATA", Phase.RCPT, Phase.IDLE),
        ("AUTH", Phase.IDLE, Phase.IDLE),
        ("STARTTLS", Phase.IDLE, Phase.IDLE),
        ("NOOP", Phase.RCPT, Phase.RCPT),  # no row: allowed, the phase kept
    ],
)
def test_accepted_commands_lead_to_the_tables_phase(
    command: str, phase: Phase, after: Phase
) -> None:
    assert decide(command, phase, GREETED) == (after, ())


@pytest.mark.parametrize(
    ("command", "phase", "facts", "text"),
    [
        ("MAIL", Phase.MAIL, GREETED, "Error: nested MAIL command"),
        ("RCPT", Phase.IDLE, GREETED, "Error: need MAIL command"),
        ("DATA", Phase.MAIL, GREETED, "Error: need RCPT command"),
        ("AUTH", Phase.RCPT, GREETED, "Error: AUTH not permitted during a mail transaction"),
        ("AUTH", Phase.IDLE, Facts(greeted=True), "Error: send EHLO first"),
        (
            "AUTH",
            Phase.IDLE,
            Facts(greeted=True, esmtp=True, authenticated=True),
            "Already authenticated",
        ),
        ("STARTTLS", Phase.IDLE, Facts(require_helo=True), "Error: send HELO first"),
        ("STARTTLS", Phase.IDLE, Facts(greeted=True, tls=True), "Error: TLS already active"),
    ],
)
def test_out_of_order_commands_get_the_tables_refusal(
    command: str, phase: Phase, facts: Facts, text: str
) -> None:
    outcome, tolerated = decide(command, phase, facts)
    assert isinstance(outcome, Refusal) and outcome.text == text and tolerated == ()


def test_tls_already_active_is_its_own_violation_kind() -> None:
    outcome, _ = decide("STARTTLS", Phase.IDLE, Facts(greeted=True, tls=True))
    assert isinstance(outcome, Refusal) and outcome.kind == "tls-already-active"


def test_mail_before_helo_is_tolerated_then_the_phase_rows_decide() -> None:
    assert decide("MAIL", Phase.IDLE, Facts()) == (
        Phase.MAIL,
        (Tolerated("no-helo", "MAIL before HELO/EHLO"),),
    )
    nested, tolerated = decide("MAIL", Phase.MAIL, Facts())
    assert isinstance(nested, Refusal) and nested.text == "Error: nested MAIL command"
    assert [t.kind for t in tolerated] == ["no-helo"]


def test_every_command_in_every_state_gets_exactly_one_verdict() -> None:
    commands = sorted({c for row in ORDER for c in row.commands})
    flags = list(itertools.product((False, True), repeat=5))
    for command, phase, bits in itertools.product(commands, Phase, flags):
        outcome, _ = decide(command, phase, Facts(*bits))
        assert isinstance(outcome, Phase | Refusal), (command, phase, bits)
        if isinstance(outcome, Phase) and command in ("MAIL", "DATA"):
            assert outcome is not phase, (command, phase, bits)  # a transaction opens or ends
