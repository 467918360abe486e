"""Every probe case over a real loopback socket, through the pytest helper (one generated test
per case): the careful reference client passes; the careless one fails where it must. A few
cases also as a retrying client. The cases that wait on purpose (a 30 s greeting, 20 s before
the 250, a hang, dripping replies) are in test_waiting_cases_wire.py, their waits shortened
through their parameters."""

from __future__ import annotations

import ssl

import pytest

from smtpfake.probe.cases import Case, Target, load_cases
from smtpfake.probe.judge import Verdict
from smtpfake.probe.pytest_cases import check_case, probe_cases, run_with
from smtpfake.scenario.checks import ClientKind, Level
from tests.probe.careful import Connect, careful, careless
from tests.probe.channels import SocketChannel


def _connect(target: Target) -> Connect:
    context = ssl.create_default_context(cafile=target.ca_file or None)
    return lambda: SocketChannel(target.host, target.port, context, target.tls == "implicit")


def careful_send(target: Target) -> str:
    return careful(_connect(target), target, wait=lambda: None, retrying=False)


def careful_retrying(target: Target) -> str:
    return careful(_connect(target), target, wait=lambda: None, retrying=True)


def careless_send(target: Target) -> str:
    return careless(_connect(target), target, retrying=False)


#: the cases that do not wait on purpose, and greylisting, which waits only for a retrying client
ON_THE_WIRE = [*probe_cases(), *probe_cases(names=["greylisting"], skip_tags=())]


@pytest.mark.parametrize("case", ON_THE_WIRE)
def test_careful_client_passes(case: Case) -> None:
    result = check_case(case, careful_send, strict=True, timeout=20)
    assert result.verdict is Verdict.PASS


#: the cases where reporting "delivered" breaks a MUST
DELIVERED_IS_WRONG = [
    case.name
    for case in load_cases()
    if any(
        c.kind == "outcome" and c.level is Level.MUST and "delivered" not in c.names
        for c in case.checks.judge
    )
]


@pytest.mark.parametrize("case", probe_cases(names=DELIVERED_IS_WRONG))
def test_careless_client_fails_where_delivered_is_wrong(case: Case) -> None:
    result = run_with(case, careless_send, timeout=20)
    assert result.verdict is Verdict.FAIL, result.transcript()
    assert "outcome" in result.reason


@pytest.mark.parametrize(
    "case",
    probe_cases(
        names=["421-at-greeting-once", "421-after-dot", "554-after-data", "close-mid-data"]
    ),
)
def test_careful_retrying_client_passes(case: Case) -> None:
    check_case(case, careful_retrying, kind=ClientKind.RETRYING, strict=True, budget=20)
