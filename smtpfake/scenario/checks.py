"""The ``checks:`` of a scenario: what ``smtpfake probe`` judges a client on, and what it tells
the client to do. Frozen data; the probe (smtpfake/probe/judge.py) evaluates it.

A check is one line of the scenario's ``expect`` made mechanical: ``delivered: 1``,
``outcome: transient``, ``retried: true``... Each names the RFC section it comes from and a
level, as Autobahn's test suite grades WebSocket clients: MUST (a failure fails the case),
SHOULD (a failure makes it "non-strict") and informational (reported, never fails).
"""

from __future__ import annotations

import enum
from dataclasses import field
from typing import TYPE_CHECKING

from smtpfake.frozen_dataclass import frozen_dataclass

if TYPE_CHECKING:
    from smtpfake.scenario.model import Location


class Level(str, enum.Enum):
    """How much a failed check weighs (RFC 2119 words)."""

    MUST = "must"
    SHOULD = "should"
    INFO = "info"

    def __str__(self) -> str:
        return self.value


class ClientKind(str, enum.Enum):
    """One-shot: sends one message and exits; judged on that attempt and its exit status.
    Retrying: a queue or MTA, given a time budget; judged on what it did in that time."""

    ONE_SHOT = "one-shot"
    RETRYING = "retrying"

    def __str__(self) -> str:
        return self.value


#: the one-shot outcome classes, from the client's exit status (sendmail's 0 / 75 / other)
OUTCOMES: tuple[str, ...] = ("delivered", "transient", "permanent")

#: what a check's value may be: a count, a yes/no, or names (outcomes, violation kinds, verbs)
CheckValue = int | bool | tuple[str, ...]

#: check kind -> (what its value is, the clients it applies to, what it asserts). The reader
#: validates values from the first column; judge.py has one function per kind.
CHECK_KINDS: dict[str, tuple[str, tuple[ClientKind, ...], str]] = {
    "delivered": (
        "count",
        (ClientKind.ONE_SHOT, ClientKind.RETRYING),
        "exactly this many messages accepted (250 after the final '.'), over all connections",
    ),
    "outcome": (
        "outcomes",
        (ClientKind.ONE_SHOT,),
        "the one-shot client reported one of these: delivered, transient, permanent",
    ),
    "retried": (
        "flag",
        (ClientKind.RETRYING,),
        "true: the client connected again after the failure; false: it did not",
    ),
    "no-violations": (
        "names",
        (ClientKind.ONE_SHOT, ClientKind.RETRYING),
        "no protocol violation recorded, except the kinds listed (true: none allowed)",
    ),
    "forbid": (
        "names",
        (ClientKind.ONE_SHOT, ClientKind.RETRYING),
        "no violation of these kinds (e.g. sent-after-close, no-quit, retry-too-soon)",
    ),
    "never-sent": (
        "names",
        (ClientKind.ONE_SHOT, ClientKind.RETRYING),
        "the client never sent a command with one of these verbs (e.g. AUTH in clear text)",
    ),
    "max-connections": (
        "count",
        (ClientKind.ONE_SHOT, ClientKind.RETRYING),
        "the client connected at most this many times (no retry loop)",
    ),
}


@frozen_dataclass
class Check:
    """One judged expectation: ``kind`` (a key of CHECK_KINDS) with its ``value``."""

    kind: str
    value: CheckValue
    rfc: str  # the section it comes from, e.g. "RFC 5321 §4.5.4.1"
    level: Level = Level.MUST
    clients: tuple[ClientKind, ...] = (ClientKind.ONE_SHOT, ClientKind.RETRYING)
    location: Location | None = field(default=None, compare=False)

    @property
    def count(self) -> int:
        """The value of a count check (delivered, max-connections)."""
        assert isinstance(self.value, int) and not isinstance(self.value, bool), self
        return self.value

    @property
    def names(self) -> tuple[str, ...]:
        """The value of a check that lists names (outcome, no-violations, forbid, never-sent)."""
        assert isinstance(self.value, tuple), self
        return self.value

    def applies_to(self, client: ClientKind) -> bool:
        return client in self.clients

    def __str__(self) -> str:
        value = self.value
        if value == () and self.kind == "no-violations":
            return "no-violations: true"
        shown = ", ".join(value) if isinstance(value, tuple) else str(value).lower()
        return f"{self.kind}: {shown}"


#: the bodies a case can ask the client to send (``client.message``); probe/messages.py has them
MESSAGE_NAMES: tuple[str, ...] = (
    "plain",
    "eight-bit",
    "bare-lf",
    "bare-cr",
    "large",
    "long-line",
)
TLS_MODES: tuple[str, ...] = ("none", "starttls", "implicit")


@frozen_dataclass
class ClientInput:
    """What the probe tells the client to do (environment variables and ``{placeholders}``).
    ``tls``/``auth`` None: from the scenario's server settings."""

    sender: str = "sender@probe.test"
    recipients: tuple[str, ...] = ("rcpt@probe.test",)
    message: str = "plain"  # one of MESSAGE_NAMES
    tls: str | None = None  # one of TLS_MODES
    auth: bool | None = None  # give the client a username and password


@frozen_dataclass
class Checks:
    """A scenario's ``checks:``. Empty ``judge``: the probe skips the scenario."""

    judge: tuple[Check, ...] = ()
    client: ClientInput = field(default_factory=ClientInput)  # not made at import
    #: free words for ``--tag``; "waits" marks a case that waits on purpose (left out with
    #: ``--skip-tag waits``)
    tags: tuple[str, ...] = ()
