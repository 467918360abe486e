"""The ``seeded-chaos`` built-in on a real socket, with smtplib and a simple bounded retry loop:
the same seed gives the same faults run after run, another seed other faults, and a client that
retries transient failures delivers every message exactly once."""

from __future__ import annotations

import dataclasses
import smtplib
from collections import Counter
from dataclasses import dataclass

import pytest

from smtpfake.engine import FakeClock
from smtpfake.scenario import Scenario, resolve, scenario_files
from smtpfake.scenario.faults.delay import Delay
from smtpfake.server import Server

TIMEOUT = 5.0
MESSAGES = 25
MAX_ATTEMPTS = 10  # per message; with these probabilities far more than any seed below needs
FAULTS = {
    "greeting refused",
    "dropped at MAIL",
    "recipient deferred",
    "slow DATA",
    "transaction failed",
}


@dataclass(frozen=True)
class Run:
    codes: tuple[tuple[int, ...], ...]  # every session's reply codes, sessions in order
    subjects: Counter[str]  # the accepted messages' subjects
    attempts: tuple[int, ...]  # how many connections each message took
    fired: Counter[str]  # rule name -> how many replies it shaped
    violations: tuple[str, ...]


def quick(scenario: Scenario) -> Scenario:
    """The scenario with its DATA delay cut from 0.1-2 s to 1-20 ms, so the test runs in well
    under a second; the draws (and so the faults) are the same."""
    rules = tuple(
        dataclasses.replace(
            rule,
            faults=tuple(
                dataclasses.replace(f, min=0.001, max=0.02) if isinstance(f, Delay) else f
                for f in rule.faults
            ),
        )
        for rule in scenario.rules
    )
    assert rules != scenario.rules, "seeded-chaos has no delay any more"
    return dataclasses.replace(scenario, rules=rules)


def transient(code: int) -> bool:
    return 400 <= code < 500


def deliver(server: Server, subject: str) -> int:
    """Send one message, retrying on a new connection after each transient failure; the number
    of connections it took. A permanent failure fails the test: every fault here is transient."""
    body = f"Subject: {subject}\r\n\r\nchaos\r\n".encode()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
                refused = client.sendmail("a@x.test", ["b@y.test"], body)
            assert refused == {}
            return attempt
        except smtplib.SMTPServerDisconnected:
            continue
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            assert all(transient(c) for c in codes), exc
        except smtplib.SMTPResponseException as exc:  # 421 greeting, 451 after the data
            assert transient(exc.smtp_code), exc
    pytest.fail(f"{subject}: not delivered in {MAX_ATTEMPTS} attempts")


def run(scenario: Scenario, *, server_seed: int | None = None) -> Run:
    with Server(scenario, seed=server_seed, clock=FakeClock()) as server:
        attempts = tuple(deliver(server, f"message {i}") for i in range(MESSAGES))
        total = sum(attempts)
        ended = server.journal.wait(
            lambda j: [s for s in j.sessions() if s.ended is not None][total - 1 :],
            timeout=TIMEOUT,
        )
        assert ended, "not every session ended"
        sessions = server.sessions
        assert len(sessions) == total
        assert not server.errors, "\n".join(str(e) for e in server.errors)
        return Run(
            codes=tuple(s.reply_codes for s in sessions),
            subjects=Counter(m.subject for m in server.messages),
            attempts=attempts,
            fired=Counter(e.rule for s in sessions for e in s.transcript if e.rule),
            violations=tuple(str(v) for s in sessions for v in s.violations),
        )


@pytest.fixture(scope="module")
def chaos() -> Scenario:
    return quick(resolve("seeded-chaos"))


@pytest.fixture(scope="module")
def first(chaos: Scenario) -> Run:
    return run(chaos)


def test_the_builtin_is_listed_seeded_and_documented() -> None:
    assert "seeded-chaos" in scenario_files()
    scenario = resolve("seeded-chaos")
    assert scenario.seed is not None
    assert len(scenario.summary) <= 110 and "\n" not in scenario.summary
    assert "exactly once" in scenario.expect
    assert {r.name for r in scenario.rules} == FAULTS
    for rule in scenario.rules:
        assert rule.probability is not None and 0 < rule.probability <= 0.2


def test_a_retrying_client_delivers_every_message_exactly_once(first: Run) -> None:
    assert first.subjects == Counter({f"message {i}": 1 for i in range(MESSAGES)})
    assert max(first.attempts) > 1  # some message really needed a retry
    assert set(first.fired) == FAULTS  # every kind of fault happened at least once
    assert first.violations == ()  # and smtplib did nothing wrong meanwhile


def test_the_same_seed_gives_the_same_reply_codes(chaos: Scenario, first: Run) -> None:
    again = run(chaos)
    assert again.codes == first.codes
    assert again.attempts == first.attempts
    assert again.fired == first.fired


def test_another_seed_gives_other_faults_and_still_delivers_once(
    chaos: Scenario, first: Run
) -> None:
    assert chaos.seed is not None
    other = run(dataclasses.replace(chaos, seed=chaos.seed + 1))
    assert other.codes != first.codes
    assert other.subjects == first.subjects  # each message exactly once all the same
    assert other.violations == ()


def test_an_explicit_server_seed_overrides_the_scenarios_own(chaos: Scenario, first: Run) -> None:
    assert chaos.seed is not None
    assert run(chaos, server_seed=chaos.seed + 1).codes != first.codes
