"""The README's worked example of the probe in pytest runs as written: one test per case, the
known deviations as expected failures, and nothing else failing."""

from __future__ import annotations

from pathlib import Path
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


def test_the_readmes_smtplib_summary_is_the_matrixs() -> None:
    """The README's example run said "65 pass, 4 non-strict" after the record came to see
    smtplib's QUIT after a 421 (two cases turned non-strict in the matrix, not in the README).
    The matrix is kept true by test_matrix.py; the README's line is held to it here."""
    matrix = (README.parent / "docs" / "probe-matrix.md").read_text(encoding="utf-8")
    cases = load_cases()
    rows = [
        [cell.strip(" *") for cell in line.strip("|").split("|")] for line in matrix.splitlines()
    ]
    header = next(r for r in rows if r[:2] == ["case", "smtplib"])
    names = {c.name for c in cases}
    smtplib_verdict = {r[0]: r[header.index("smtplib")] for r in rows if r[0] in names}
    assert set(smtplib_verdict) == names
    waiting = {c.name for c in cases if WAITS in c.tags}
    ran = [v for name, v in smtplib_verdict.items() if name not in waiting]
    counts = {v: ran.count(v) for v in ("pass", "non-strict", "fail")}
    line = (
        f"{len(ran)} cases: {counts['pass']} pass, {counts['non-strict']} non-strict, "
        f"{counts['fail']} fail"
    )
    assert line in README.read_text(encoding="utf-8")


def test_a_file_without_checks_is_an_error_not_left_out(tmp_path: Path) -> None:
    """``probe_cases(paths=[...])`` dropped a file without ``checks:``: the user's case was
    never run, and nothing said so."""
    mine = tmp_path / "mine.yaml"
    mine.write_text("summary: s\nexpect: e\n")
    with pytest.raises(ValueError, match=r"mine\.yaml: no checks: judge: to judge a client by"):
        probe_cases(paths=[mine])


@pytest.mark.parametrize(
    ("selection", "problem"),
    [
        (
            {"names": ["defualt"]},
            "probe_cases: no case named defualt; did you mean 'default'? (cases: ",
        ),
        ({"names": ["nosuch*"]}, "probe_cases: no case named nosuch* (cases: "),
        (
            {"tags": ["wait"]},
            "probe_cases: tags=: no case has the tag wait; did you mean 'waits'? (tags: ",
        ),
        (
            {"skip_tags": ["wiats"]},
            "probe_cases: skip_tags=: no case has the tag wiats; did you mean 'waits'? (tags: ",
        ),
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
