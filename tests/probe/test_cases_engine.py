"""Every probe case at the engine level (sans-I/O, a fake clock): the careful reference client
passes it, as a one-shot and as a retrying client; the careless one fails the cases whose
checks say it must."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpfake.probe.cases import Case, load_cases, target_for
from smtpfake.probe.judge import Evidence, Verdict, judge_checks, verdict
from smtpfake.scenario.checks import ClientKind, Level
from tests.probe.careful import careful, careless
from tests.probe.channels import EngineChannel
from tests.support.engine import Engine

CASES = load_cases()
KINDS = list(ClientKind)


def _judge(case: Case, engine: Engine, kind: ClientKind, outcome: str) -> tuple[Verdict, str]:
    sessions = engine.journal.sessions()
    evidence = Evidence(sessions, outcome if kind is ClientKind.ONE_SHOT else None)
    grade, reason = verdict(judge_checks(case.checks.judge, kind, evidence), evidence)
    return grade, reason + "\n" + "\n".join(s.format() for s in sessions)


def _engine(case: Case) -> Engine:
    return Engine(case.scenario, seed=case.scenario.seed or 0)


def test_library_has_sixty_cases() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("kind", KINDS, ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_careful_client_passes(case: Case, kind: ClientKind, tmp_path: Path) -> None:
    engine = _engine(case)
    target = target_for(case, "127.0.0.1", 25, None, tmp_path)
    retrying = kind is ClientKind.RETRYING
    outcome = careful(lambda: EngineChannel(engine), target, lambda: engine.advance(400), retrying)
    grade, reason = _judge(case, engine, kind, outcome)
    assert grade in (Verdict.PASS, Verdict.INFORMATIONAL), reason


def _must(case: Case, kind: str) -> list[object]:
    return [c.value for c in case.checks.judge if c.kind == kind and c.level is Level.MUST]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_careless_one_shot_fails_where_delivered_is_wrong(case: Case, tmp_path: Path) -> None:
    """Reporting "delivered" whatever happened fails every case whose MUST outcome is not it."""
    engine = _engine(case)
    target = target_for(case, "127.0.0.1", 25, None, tmp_path)
    outcome = careless(lambda: EngineChannel(engine), target, retrying=False)
    grade, reason = _judge(case, engine, ClientKind.ONE_SHOT, outcome)
    wrong = any("delivered" not in value for value in _must(case, "outcome"))  # type: ignore[operator]
    if wrong:
        assert grade is Verdict.FAIL, reason
        assert "outcome" in reason


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_careless_retrying_fails_where_it_must_not_retry(case: Case, tmp_path: Path) -> None:
    """Connecting three times whatever happened fails every case with a MUST ``retried:
    false``, and every case where the server accepts and a MUST ``delivered`` forbids copies."""
    engine = _engine(case)
    target = target_for(case, "127.0.0.1", 25, None, tmp_path)
    careless(lambda: EngineChannel(engine), target, retrying=True)
    grade, reason = _judge(case, engine, ClientKind.RETRYING, "delivered")
    if False in _must(case, "retried"):
        assert grade is Verdict.FAIL, reason
    if len(engine.journal.messages()) > 1 and 1 in _must(case, "delivered"):
        assert grade is Verdict.FAIL, reason
