"""The SMTP transaction state machine as a table (RFC 5321 §4.1.4, §3.3).

Phases track the mail transaction only; whether HELO/EHLO was seen is a separate flag, because
§4.1.4 lets NOOP, RSET, VRFY, HELP and a new EHLO come at any time.
"""

from __future__ import annotations

import enum
import functools
from typing import TYPE_CHECKING

from smtpfake.frozen_dataclass import frozen_dataclass


class Phase(enum.Enum):
    IDLE = "idle"  # no transaction open
    MAIL = "mail"  # MAIL accepted, no recipient yet
    RCPT = "rcpt"  # at least one RCPT accepted

    # identity, as equality is: Enum's own hashes the name in a Python call, and the remembered
    # decide_on() hashes the phase for every MAIL, RCPT and DATA
    __hash__ = object.__hash__


class Mode(enum.Enum):
    COMMAND = "command"
    DATA = "data"
    AUTH = "auth"  # inside an AUTH exchange: lines are SASL responses, not commands
    CLOSED = "closed"


@frozen_dataclass
class Refusal:
    """The command is refused and the state does not change: ``code``/``enhanced``/``text`` is
    the reply, ``kind`` the violation recorded (``detail`` formatted with ``{cmd}``)."""

    text: str
    detail: str
    kind: str = "bad-sequence"
    code: int = 503
    enhanced: str = "5.5.1"


@frozen_dataclass
class Tolerated:
    """The command goes on, but against the RFC: ``kind`` is recorded (``detail`` as above)."""

    kind: str
    detail: str


@frozen_dataclass
class Facts:
    """What the session learnt that decides what may come next. ``greeted``: HELO or EHLO was
    accepted; ``esmtp``: it was EHLO; ``tls``: TLS is up; ``authenticated``: AUTH succeeded;
    ``require_helo``: the server setting."""

    greeted: bool = False
    esmtp: bool = False
    tls: bool = False
    authenticated: bool = False
    require_helo: bool = False


@frozen_dataclass
class When:
    """A row's condition: the phases it holds in (None: any) and the facts it needs (None:
    either way); ``text`` describes it in the README."""

    text: str
    phases: frozenset[Phase] | None = None
    greeted: bool | None = None
    esmtp: bool | None = None
    tls: bool | None = None
    authenticated: bool | None = None
    require_helo: bool | None = None

    def holds(self, phase: Phase, facts: Facts) -> bool:
        if self.phases is not None and phase not in self.phases:
            return False
        return all(getattr(facts, name) == wanted for name, wanted in self.checks)

    @functools.cached_property
    def checks(self) -> tuple[tuple[str, bool], ...]:
        """The facts this condition sets, made once (a command checks only those)."""
        named = (
            ("greeted", self.greeted),
            ("esmtp", self.esmtp),
            ("tls", self.tls),
            ("authenticated", self.authenticated),
            ("require_helo", self.require_helo),
        )
        return tuple((name, wanted) for name, wanted in named if wanted is not None)


@frozen_dataclass
class Order:
    """One row: for ``commands`` when ``when`` holds, ``outcome`` (the phase after acceptance, a
    refusal, or a tolerated mistake after which the rows below still apply)."""

    commands: frozenset[str]
    when: When
    outcome: Phase | Refusal | Tolerated


_IDLE = frozenset({Phase.IDLE})
_MAIL = frozenset({Phase.MAIL})
_RCPT = frozenset({Phase.RCPT})
_OPEN = frozenset({Phase.MAIL, Phase.RCPT})


def _cmds(*names: str) -> frozenset[str]:
    return frozenset(names)


#: The one ordering table, ``ORDER`` (RFC 5321 §4.1.4, §3.3; RFC 4954 §4; RFC 3207 §4): the first
#: row that holds decides, but a Tolerated row records its mistake and lets the rows below decide.
#: Commands with no row that holds are allowed and keep the phase (HELO, EHLO, RSET, NOOP,
#: VRFY, HELP, EXPN, QUIT). The command handlers (commands.py) apply it through
#: ``Session.sequence``; the README's command-order section is generated from it.
#: Made on first use, with its refusals (start-up time: its rows are the first records of their
#: classes, which dataclasses then processes; a session needs it at its first MAIL, RCPT, DATA,
#: AUTH or STARTTLS). ``ORDER`` is read from the module as before (PEP 562).
@functools.cache
def _order() -> tuple[Order, ...]:
    need_mail = Refusal("Error: need MAIL command", "{cmd} before MAIL")
    need_rcpt = Refusal("Error: need RCPT command", "DATA before any accepted RCPT")
    nested = Refusal("Error: nested MAIL command", "MAIL inside an open transaction")
    helo_first = Refusal("Error: send HELO first", "{cmd} before HELO/EHLO")
    # RFC 4954 §4: AUTH is an EHLO extension, once per session, never inside a transaction.
    ehlo_first = Refusal("Error: send EHLO first", "{cmd} before EHLO")
    auth_twice = Refusal("Already authenticated", "AUTH after a successful AUTH")
    auth_in_transaction = Refusal(
        "Error: AUTH not permitted during a mail transaction", "AUTH inside a mail transaction"
    )
    # RFC 3207 §4: no STARTTLS once TLS is up.
    tls_active = Refusal(
        "Error: TLS already active",
        "STARTTLS with TLS already active (RFC 3207 §4.2)",
        kind="tls-already-active",
    )
    # Accepted (as Postfix does by default), but still against RFC 5321 §4.1.4.
    no_helo = Tolerated("no-helo", "MAIL before HELO/EHLO")
    return (
        Order(_cmds("STARTTLS"), When("with TLS already active", tls=True), tls_active),
        Order(
            _cmds("MAIL", "RCPT", "DATA", "STARTTLS"),
            When("before HELO/EHLO, with `require_helo`", greeted=False, require_helo=True),
            helo_first,
        ),
        Order(
            _cmds("MAIL"),
            When("before HELO/EHLO, without `require_helo`", greeted=False, require_helo=False),
            no_helo,
        ),
        Order(
            _cmds("AUTH"),
            When("before EHLO (HELO does not offer extensions)", esmtp=False),
            ehlo_first,
        ),
        Order(_cmds("AUTH"), When("after a successful AUTH", authenticated=True), auth_twice),
        Order(_cmds("AUTH"), When("inside a transaction", phases=_OPEN), auth_in_transaction),
        Order(_cmds("MAIL"), When("no transaction", phases=_IDLE), Phase.MAIL),
        Order(_cmds("MAIL"), When("inside a transaction", phases=_OPEN), nested),
        Order(_cmds("RCPT"), When("no transaction", phases=_IDLE), need_mail),
        Order(_cmds("RCPT"), When("after MAIL or an accepted RCPT", phases=_OPEN), Phase.RCPT),
        Order(_cmds("DATA"), When("no transaction", phases=_IDLE), need_mail),
        Order(_cmds("DATA"), When("after MAIL, no accepted RCPT", phases=_MAIL), need_rcpt),
        # after the message the transaction is over
        Order(_cmds("DATA"), When("after an accepted RCPT", phases=_RCPT), Phase.IDLE),
    )


@functools.cache
def _by_command() -> dict[str, tuple[Order, ...]]:
    """ORDER's rows by the command they are for, in order."""
    return {
        name: tuple(row for row in _order() if name in row.commands)
        for name in sorted({name for row in _order() for name in row.commands})
    }


if TYPE_CHECKING:
    ORDER: tuple[Order, ...]


def __getattr__(name: str) -> object:
    """``ORDER``, made on first use; AttributeError for any other name."""
    if name == "ORDER":
        return _order()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def decide(
    command: str, phase: Phase, facts: Facts
) -> tuple[Phase | Refusal, tuple[Tolerated, ...]]:
    """What ``command`` (upper case) may do now: the phase after acceptance or the refusal, and
    the tolerated mistakes it makes on the way (each a violation to record)."""
    tolerated: list[Tolerated] = []
    for row in _by_command().get(command, ()):
        if not row.when.holds(phase, facts):
            continue
        if isinstance(row.outcome, Tolerated):
            tolerated.append(row.outcome)
            continue
        return row.outcome, tuple(tolerated)
    return phase, tuple(tolerated)


@functools.lru_cache(maxsize=1024)
def decide_on(
    command: str,
    phase: Phase,
    greeted: bool,
    esmtp: bool,
    tls: bool,
    authenticated: bool,
    require_helo: bool,
) -> tuple[Phase | Refusal, tuple[Tolerated, ...]]:
    """decide() with the facts spelled out, remembered: the table is fixed, so the verdict
    depends on these alone (a command asks it once, with no Facts made)."""
    return decide(command, phase, Facts(greeted, esmtp, tls, authenticated, require_helo))


def order_table_markdown() -> str:
    """The ordering table as Markdown, row by row (RFC 5321 §4.1.4, RFC 4954 §4)."""
    rows = ["| command | when | outcome |", "| --- | --- | --- |"]
    for row in _order():
        outcome = row.outcome
        if isinstance(outcome, Refusal):
            result = f"`{outcome.code} {outcome.enhanced} {outcome.text}`, `{outcome.kind}`"
        elif isinstance(outcome, Tolerated):
            result = f"accepted (as Postfix does), `{outcome.kind}`"
        else:
            result = f"accepted; then: {_PHASE_TEXT[outcome]}"
        rows.append(f"| {', '.join(sorted(row.commands))} | {row.when.text} | {result} |")
    rows.append("| HELO, EHLO, RSET, NOOP, VRFY, HELP, EXPN, QUIT | any time | answered |")
    return "\n".join(rows)


_PHASE_TEXT = {
    Phase.IDLE: "no transaction (DATA: the message, then a new transaction)",
    Phase.MAIL: "MAIL accepted, RCPT next",
    Phase.RCPT: "RCPT accepted, more RCPT or DATA",
}
