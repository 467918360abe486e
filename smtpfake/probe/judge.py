"""Judging one case: a scenario's checks against what the client did (the journal's sessions,
and for a one-shot client the outcome it reported). Pure functions over frozen data.

Verdicts as Autobahn's test suite grades WebSocket clients: ``pass``; ``non-strict`` (only
SHOULD checks failed); ``fail`` (a MUST check failed, or the client could not be run);
``informational`` (every check that applies is informational).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from smtpfake.journal import SessionRecord
from smtpfake.scenario.checks import Check, ClientKind, Level


class Verdict(str, enum.Enum):
    PASS = "pass"
    NON_STRICT = "non-strict"
    FAIL = "fail"
    INFORMATIONAL = "informational"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Evidence:
    """What a case run left: the sessions, and for a one-shot client what it reported."""

    sessions: tuple[SessionRecord, ...]
    #: "delivered" / "transient" / "permanent"; None: a retrying client, or no report
    outcome: str | None = None
    exit_status: int | None = None  # the command's (negative: killed by that signal)
    #: the client had to be stopped: it outlived the per-case timeout (one-shot) or ran to the
    #: end of the time budget (retrying, where that is normal)
    timed_out: bool = False
    error: str = ""  # the client could not be run at all (not found, not executable...)

    @property
    def delivered(self) -> int:
        """Messages accepted, bounces left out (a null reverse-path, MAIL FROM:<>: an MTA's
        delivery status notification, RFC 5321 §4.5.5, is not the message)."""
        return sum(1 for s in self.sessions for m in s.messages if m.mail_from)

    @property
    def attempts(self) -> tuple[SessionRecord, ...]:
        """The client's connections, less those that only carried bounces."""
        return tuple(s for s in self.sessions if not _only_bounces(s))

    @property
    def verbs(self) -> tuple[str, ...]:
        """The command verbs the client sent, over all sessions (notes in parentheses and
        message data are not commands)."""
        return tuple(
            c.split(" ", 1)[0].upper() for s in self.sessions for c in s.commands if c[:1] != "("
        )

    def violation_kinds(self) -> tuple[str, ...]:
        return tuple(v.kind for s in self.sessions for v in s.violations)

    def reported(self) -> str:
        """How the one-shot client's report reads in a reason."""
        if self.error:
            return f"could not run: {self.error}"
        if self.timed_out:
            return "did not exit in time (stopped by the probe)"
        status = f" ({exit_text(self.exit_status)})" if self.exit_status is not None else ""
        return f"reported {self.outcome or 'nothing'}{status}"


def exit_text(status: int) -> str:
    """``exit 2``; a negative status (a POSIX child killed by a signal, as subprocess gives it)
    as ``killed by signal 11 (SIGSEGV)``: "exit -11" told a user nothing."""
    if status >= 0:
        return f"exit {status}"
    import signal

    try:
        name = f" ({signal.Signals(-status).name})"
    except ValueError:
        name = ""
    return f"killed by signal {-status}{name}"


@dataclass(frozen=True)
class CheckResult:
    check: Check
    passed: bool
    found: str  # what the client did, in a few words

    @property
    def line(self) -> str:
        """``MUST outcome: transient -> reported delivered (exit 0) [RFC 5321 §4.2.1]``"""
        mark = "ok" if self.passed else self.check.level.value.upper()
        return f"{mark} {self.check} -> {self.found} [{self.check.rfc}]"


def _delivered(check: Check, ev: Evidence) -> tuple[bool, str]:
    return ev.delivered == check.value, f"delivered {ev.delivered} time(s)"


def _outcome(check: Check, ev: Evidence) -> tuple[bool, str]:
    return ev.outcome in check.names and not ev.timed_out, ev.reported()


def _only_bounces(session: SessionRecord) -> bool:
    mails = [c for c in session.commands if c[:10].upper() == "MAIL FROM:"]
    return bool(mails) and all(c[10:].lstrip().startswith("<>") for c in mails)


def _retried(check: Check, ev: Evidence) -> tuple[bool, str]:
    n = len(ev.attempts)
    return (n > 1) == check.value, f"connected {n} time(s)"


def _no_violations(check: Check, ev: Evidence) -> tuple[bool, str]:
    bad = [k for k in ev.violation_kinds() if k not in check.names]
    return not bad, f"recorded {', '.join(dict.fromkeys(bad))}" if bad else "no violations"


def _forbid(check: Check, ev: Evidence) -> tuple[bool, str]:
    bad = [k for k in ev.violation_kinds() if k in check.names]
    return not bad, f"recorded {', '.join(dict.fromkeys(bad))}" if bad else "none of them"


def _never_sent(check: Check, ev: Evidence) -> tuple[bool, str]:
    sent = [v for v in ev.verbs if v in check.names]
    return not sent, f"sent {', '.join(dict.fromkeys(sent))}" if sent else "never sent"


def _max_connections(check: Check, ev: Evidence) -> tuple[bool, str]:
    n = len(ev.attempts)
    return n <= check.count, f"connected {n} time(s)"


#: one judge per check kind (scenario/checks.py CHECK_KINDS); a test keeps the two in step
JUDGES: dict[str, Callable[[Check, Evidence], tuple[bool, str]]] = {
    "delivered": _delivered,
    "outcome": _outcome,
    "retried": _retried,
    "no-violations": _no_violations,
    "forbid": _forbid,
    "never-sent": _never_sent,
    "max-connections": _max_connections,
}


def judge_checks(
    checks: tuple[Check, ...], client: ClientKind, ev: Evidence
) -> tuple[CheckResult, ...]:
    """Each check that applies to this kind of client, judged on the evidence."""
    results = []
    for check in checks:
        if check.applies_to(client):
            passed, found = JUDGES[check.kind](check, ev)
            results.append(CheckResult(check, passed, found))
    return tuple(results)


def verdict(results: tuple[CheckResult, ...], ev: Evidence) -> tuple[Verdict, str]:
    """The case's verdict and a one-line reason (the first failed check, by weight)."""
    if ev.error:
        return Verdict.FAIL, f"the client could not be run: {ev.error}"
    for level, grade in ((Level.MUST, Verdict.FAIL), (Level.SHOULD, Verdict.NON_STRICT)):
        failed = [r for r in results if not r.passed and r.check.level is level]
        if failed:
            first = failed[0]
            more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
            return grade, f"expected {first.check}; {first.found} [{first.check.rfc}]{more}"
    if results and all(r.check.level is Level.INFO for r in results):
        notes = "; ".join(f"{r.check}: {r.found}" for r in results if not r.passed)
        return Verdict.INFORMATIONAL, notes or "as expected"
    return Verdict.PASS, f"{len(results)} check(s) passed"
