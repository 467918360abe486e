"""Every built-in case's ``checks: tags`` say what the case needs, read from what its scenario
uses, so ``--skip-tag`` leaves out exactly the cases a client cannot take. ``no-starttls`` was
tagged tls though it serves none (and tells the client none): ``--skip-tag tls``, the way out
for a client without TLS (or a probe without trustme), dropped the one case such a client should
be judged on; ``530-no-credentials`` was tagged auth though its client is given no credentials,
the case a client without AUTH should be judged on."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smtpfake.probe.cases import Case, load_cases
from smtpfake.probe.runner import needs_trustme
from smtpfake.scenario.faults.close import CloseAfter, Disconnect, ResetConnection
from smtpfake.scenario.faults.delay import Delay
from smtpfake.scenario.faults.pacing import Drip
from smtpfake.scenario.faults.reply import ReplyWith
from smtpfake.scenario.faults.silence import Abort, Hang
from smtpfake.scenario.model import Stage

CASES = load_cases()
#: a wait the README calls "on purpose": the slow cases take at least this long
SLOW = 10.0


def _waits(case: Case) -> bool:
    """A greeting, reply or retry held back SLOW seconds or more; or every reply dripped slowly
    enough that a session's few hundred octets take that long (at 0.02 s an octet or more)."""
    server = case.scenario.server
    if server.retry_after is not None and server.retry_after >= SLOW:
        return True
    for rule in case.scenario.rules:
        for fault in rule.faults:
            if isinstance(fault, Hang | Delay):
                held = max(fault.seconds or 0.0, getattr(fault, "max", None) or 0.0)
            elif isinstance(fault, Drip) and Stage.ANY in rule.stages:
                held = SLOW if fault.interval / fault.bytes >= 0.02 else 0.0
            else:
                held = 0.0
            if held >= SLOW:
                return True
    return False


def _duplicate_trap(case: Case) -> bool:
    """After the final "." or at QUIT (the message may already be delivered), the server
    closes, resets, hangs, waits or answers 421: a client that takes this for a failure sends
    the message twice."""
    ends = (CloseAfter, Disconnect, ResetConnection, Abort, Hang, Delay)
    for rule in case.scenario.rules:
        if rule.stages & {Stage.END_OF_DATA, Stage.QUIT}:
            for fault in rule.faults:
                if isinstance(fault, ends) or (isinstance(fault, ReplyWith) and fault.code == 421):
                    return True
    return False


#: tag -> what the case's scenario uses when it carries the tag (and only then)
TAGS: dict[str, Callable[[Case], bool]] = {
    # the client is told to use TLS (STARTTLS or implicit), or the server serves it
    "tls": needs_trustme,
    # the client is given credentials to AUTH with
    "auth": lambda case: case.credentials is not None,
    "waits": _waits,
    "duplicate-trap": _duplicate_trap,
    # the server ends an idle connection on its own: the verdict depends on the client's speed
    "timing": lambda case: case.scenario.server.idle_timeout is not None,
    # a check forbids what a pipelining client gets wrong
    "pipelining": lambda case: any(
        check.kind == "forbid" and "bad-pipelining" in str(check.value)
        for check in case.checks.judge
    ),
    # the server reads a bare CR as a line end (as the servers the smuggling research fooled)
    "smuggling": lambda case: case.scenario.server.bare_cr == "clean",
}


def test_every_tag_a_case_has_is_one_of_those_checked() -> None:
    assert sorted({t for case in CASES for t in case.tags}) == sorted(TAGS)


@pytest.mark.parametrize("tag", list(TAGS))
def test_a_case_has_the_tag_exactly_when_its_scenario_needs_it(tag: str) -> None:
    tagged = [case.name for case in CASES if tag in case.tags]
    needing = [case.name for case in CASES if TAGS[tag](case)]
    assert tagged == needing


def test_skip_tag_tls_keeps_the_case_a_client_without_tls_is_judged_on() -> None:
    kept = [case.name for case in CASES if "tls" not in case.tags]
    assert "no-starttls" in kept
    assert not any(needs_trustme(case) for case in CASES if case.name in kept)
