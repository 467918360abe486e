"""The README's worked example of the probe in pytest runs as written: one test per case, the
known deviations as expected failures, and nothing else failing."""

from __future__ import annotations

import pytest

from smtpfake.probe.cases import WAITS, load_cases
from tests.test_readme import README, blocks


def test_the_worked_example_passes(pytester: pytest.Pytester) -> None:
    (example,) = [b for b in blocks("python") if "probe_cases" in b]
    pytester.makepyfile(test_mailer=example)
    result = pytester.runpytest("-p", "no:cacheprovider")
    runnable = [c for c in load_cases() if WAITS not in c.tags]
    known = example.count('": "')  # the KNOWN_DEVIATIONS entries, each strict: they must fail
    result.assert_outcomes(passed=len(runnable) - known, xfailed=known)


def test_the_readme_counts_the_cases_right() -> None:
    text = README.read_text(encoding="utf-8")
    cases = load_cases()
    waiting = [c for c in cases if WAITS in c.tags]
    assert f"each of {len(cases)} cases" in text
    assert f"the built-in\nlibrary has {len(cases)}, five of which wait on purpose" in text
    assert len(waiting) == 5, [c.name for c in waiting]
