"""The probe cases that wait on purpose (tag ``waits``), over a real loopback socket with their
wait shortened through the scenario's parameters: the same careful and careless reference
clients as test_cases_wire.py, judged by each case's own checks. With these, every case in the
library has a wire test; a new waiting case without an entry in SHORT fails here."""

from __future__ import annotations

import time
from collections.abc import Mapping

import pytest

from smtpfake.probe.cases import WAITS, Case, Target, load_cases
from smtpfake.probe.judge import Verdict
from smtpfake.probe.pytest_cases import check_case, run_with
from smtpfake.scenario.checks import ClientKind
from smtpfake.scenario.loader import with_params
from tests.probe.careful import careful
from tests.probe.channels import SocketChannel
from tests.probe.test_cases_wire import DELIVERED_IS_WRONG, _connect, careless_send

#: case name -> parameters that shorten its wait to well under a second (seconds)
SHORT: Mapping[str, Mapping[str, float]] = {
    "slow-greeting": {"delay": 0.2},
    "slow-end-of-data": {"delay": 0.2},
    "hang-after-data": {"seconds": 0.2},
    "dripping-replies": {"interval": 0.001},
    "greylisting": {"delay": 0.2},
}

WAITING = [case for case in load_cases() if WAITS in case.tags]


def _short(case: Case) -> Case:
    return Case(with_params(case.scenario, SHORT[case.name]))


def _pause(case: Case) -> float:
    """How long the retrying client waits between attempts: past a greylisting delay."""
    return float(SHORT[case.name].get("delay", 0)) + 0.1 if case.name == "greylisting" else 0.0


def test_every_waiting_case_has_short_parameters() -> None:
    assert sorted(c.name for c in WAITING) == sorted(SHORT)


def test_short_parameters_change_the_wait() -> None:
    """The parameters reach the rules (a typo'd value would leave the built-in's minutes)."""
    for case in WAITING:
        short = _short(case).scenario
        assert short.rules != case.scenario.rules, case.name
        assert {p.name for p in short.params} >= set(SHORT[case.name]), case.name


@pytest.mark.parametrize("kind", list(ClientKind), ids=str)
@pytest.mark.parametrize("case", WAITING, ids=lambda c: c.name)
def test_careful_client_passes(case: Case, kind: ClientKind) -> None:
    retrying = kind is ClientKind.RETRYING
    pause = _pause(case)

    def send(target: Target) -> str:
        return careful(_connect(target), target, lambda: time.sleep(pause), retrying)

    result = check_case(_short(case), send, kind=kind, strict=True, timeout=20, budget=20)
    assert result.verdict in (Verdict.PASS, Verdict.INFORMATIONAL)


@pytest.mark.parametrize(
    "case", [c for c in WAITING if c.name in DELIVERED_IS_WRONG], ids=lambda c: c.name
)
def test_careless_client_fails_where_delivered_is_wrong(case: Case) -> None:
    result = run_with(_short(case), careless_send, timeout=20)
    assert result.verdict is Verdict.FAIL, result.transcript()
    assert "outcome" in result.reason


#: the cases whose MUST is to wait for a reply: a client that gives up sooner must fail them
MUST_WAIT = ["slow-greeting", "slow-end-of-data"]


@pytest.mark.parametrize("case", [c for c in WAITING if c.name in MUST_WAIT], ids=lambda c: c.name)
def test_impatient_client_fails_where_it_must_wait(case: Case) -> None:
    """The careful client with a read timeout well inside the shortened wait gives up and
    reports a transient failure: the wait happens on the wire, and the checks catch it."""

    def connect_impatient(target: Target) -> SocketChannel:
        channel = _connect(target)()
        channel.sock.settimeout(0.02)
        return channel

    def send(target: Target) -> str:
        return careful(lambda: connect_impatient(target), target, lambda: None, retrying=False)

    result = run_with(_short(case), send, timeout=20)
    assert result.verdict is Verdict.FAIL, result.transcript()
    failed = {(r.check.kind, r.found) for r in result.checks if not r.passed}
    assert ("outcome", "reported transient") in failed, result.transcript()


def test_a_client_retrying_before_the_greylisting_delay_is_not_strict() -> None:
    """greylisting's SHOULD (retry no sooner than the delay, RFC 6647 §2.1) can fail: the
    scenario sets server.retry_after to its delay, so a retry 0.02 s after the 451 is recorded
    as retry-too-soon; the client still delivers (its next retry waits long enough)."""
    (case,) = [c for c in WAITING if c.name == "greylisting"]
    pauses = iter([0.02, 0.5, 0.5, 0.5])

    def send(target: Target) -> str:
        return careful(_connect(target), target, lambda: time.sleep(next(pauses)), True)

    result = run_with(
        Case(with_params(case.scenario, {"delay": 0.3})), send, kind=ClientKind.RETRYING, timeout=20
    )
    assert result.verdict is Verdict.NON_STRICT, result.transcript()
    failed = [r for r in result.checks if not r.passed]
    assert [r.check.kind for r in failed] == ["forbid"], result.transcript()
    assert "retry-too-soon" in str(failed[0].check), result.transcript()
