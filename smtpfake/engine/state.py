"""The SMTP transaction state machine as a table (RFC 5321 §4.1.4, §3.3).

Phases track the mail transaction only; whether HELO/EHLO was seen is a separate flag, because
§4.1.4 lets NOOP, RSET, VRFY, HELP and a new EHLO come at any time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Phase(enum.Enum):
    IDLE = "idle"  # no transaction open
    MAIL = "mail"  # MAIL accepted, no recipient yet
    RCPT = "rcpt"  # at least one RCPT accepted


class Mode(enum.Enum):
    COMMAND = "command"
    DATA = "data"
    AUTH = "auth"  # inside an AUTH exchange: lines are SASL responses, not commands
    CLOSED = "closed"


@dataclass(frozen=True)
class Refusal:
    """A 503: the command is out of order; the state does not change."""

    text: str
    detail: str


_NEED_MAIL = Refusal("Error: need MAIL command", "{cmd} before MAIL")
_NEED_RCPT = Refusal("Error: need RCPT command", "DATA before any accepted RCPT")
_NESTED = Refusal("Error: nested MAIL command", "MAIL inside an open transaction")
HELO_FIRST = Refusal("Error: send HELO first", "{cmd} before HELO/EHLO")
# RFC 4954 §4: AUTH is an EHLO extension, once per session, never inside a transaction.
EHLO_FIRST = Refusal("Error: send EHLO first", "{cmd} before EHLO")
AUTH_TWICE = Refusal("Already authenticated", "AUTH after a successful AUTH")
_AUTH_IN_TRANSACTION = Refusal(
    "Error: AUTH not permitted during a mail transaction", "AUTH inside a mail transaction"
)

#: (command, phase) -> the phase after acceptance, or the refusal. Commands not listed are
#: allowed in every phase (HELO, EHLO, RSET, NOOP, VRFY, HELP, EXPN, QUIT).
TRANSITIONS: dict[tuple[str, Phase], Phase | Refusal] = {
    ("MAIL", Phase.IDLE): Phase.MAIL,
    ("MAIL", Phase.MAIL): _NESTED,
    ("MAIL", Phase.RCPT): _NESTED,
    ("RCPT", Phase.IDLE): _NEED_MAIL,
    ("RCPT", Phase.MAIL): Phase.RCPT,
    ("RCPT", Phase.RCPT): Phase.RCPT,
    ("DATA", Phase.IDLE): _NEED_MAIL,
    ("DATA", Phase.MAIL): _NEED_RCPT,
    ("DATA", Phase.RCPT): Phase.IDLE,  # after the message the transaction is over
    ("AUTH", Phase.MAIL): _AUTH_IN_TRANSACTION,
    ("AUTH", Phase.RCPT): _AUTH_IN_TRANSACTION,
}

#: commands that need HELO/EHLO first when the server is strict (RFC 5321 §4.1.4)
NEEDS_HELO = frozenset({"MAIL", "RCPT", "DATA"})


def transition(command: str, phase: Phase) -> Phase | Refusal:
    return TRANSITIONS.get((command, phase), phase)


#: the refusals that depend on what the session learnt rather than the transaction's phase:
#: (commands, when, refusal). The command handlers apply them; the README's command-order
#: section is generated from these tables (order_table_markdown()).
FACT_REFUSALS: tuple[tuple[str, str, Refusal], ...] = (
    ("MAIL, RCPT, DATA", "before HELO/EHLO, with `require_helo`", HELO_FIRST),
    ("AUTH", "before EHLO (HELO does not offer extensions)", EHLO_FIRST),
    ("AUTH", "after a successful AUTH", AUTH_TWICE),
)


def order_table_markdown() -> str:
    """The command-order rules as a Markdown table (RFC 5321 §4.1.4, RFC 4954 §4)."""
    rows = ["| command | when | outcome |", "| --- | --- | --- |"]
    for (command, phase), outcome in TRANSITIONS.items():
        when = {
            Phase.IDLE: "no transaction",
            Phase.MAIL: "after MAIL",
            Phase.RCPT: "after an accepted RCPT",
        }[phase]
        if isinstance(outcome, Refusal):
            result = f"`503 5.5.1 {outcome.text}`, `bad-sequence`"
        else:
            result = f"accepted; then: {_PHASE_TEXT[outcome]}"
        rows.append(f"| {command} | {when} | {result} |")
    for commands, when, refusal in FACT_REFUSALS:
        rows.append(f"| {commands} | {when} | `503 5.5.1 {refusal.text}`, `bad-sequence` |")
    without = "| MAIL | before HELO/EHLO, without `require_helo` |"
    rows.append(f"{without} accepted (as Postfix does), `no-helo` |")
    rows.append("| HELO, EHLO, RSET, NOOP, VRFY, HELP, EXPN, QUIT | any time | answered |")
    return "\n".join(rows)


_PHASE_TEXT = {
    Phase.IDLE: "no transaction (DATA: the message, then a new transaction)",
    Phase.MAIL: "MAIL accepted, RCPT next",
    Phase.RCPT: "RCPT accepted, more RCPT or DATA",
}
