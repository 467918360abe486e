"""The README's worked example of the probe in pytest runs as written: one test per case, the
known deviations as expected failures, and nothing else failing."""

from __future__ import annotations

from typing import Any

import pytest

from smtpfake.probe.cases import WAITS, load_cases
from smtpfake.probe.pytest_cases import probe_cases
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


@pytest.mark.parametrize(
    ("selection", "problem"),
    [
        ({"names": ["defualt"]}, "probe_cases: no case named defualt (cases: "),
        ({"tags": ["wait"]}, "probe_cases: tags=: no case has the tag wait (tags: "),
        ({"skip_tags": ["wiats"]}, "probe_cases: skip_tags=: no case has the tag wiats (tags: "),
        ({"tags": ["waits"], "skip_tags": ["waits"]}, "probe_cases: the selection leaves no case"),
        ({"xfail": {"bare-lf-bodyy": "a typo"}}, "xfail names no case: bare-lf-bodyy"),
    ],
)
def test_a_selection_of_nothing_is_an_error_not_a_skipped_test(
    selection: dict[str, Any], problem: str
) -> None:
    """A misspelt name or tag gave an empty parametrization: the test was skipped and the run
    passed, where ``smtpfake probe`` refuses the same selection (exit 2)."""
    with pytest.raises(ValueError) as raised:
        probe_cases(**selection)
    assert str(raised.value).startswith(problem)
    # a good selection still selects
    assert [p.id for p in probe_cases(names=["default", "421-at-g*"])] == [
        "421-at-greeting",
        "421-at-greeting-once",
        "default",
    ]
