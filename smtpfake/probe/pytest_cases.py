"""The probe's cases in a user's pytest suite: one generated test per case, run against the
user's own send function, known deviations as expected failures.

```python
from smtpfake.probe.pytest_cases import check_case, probe_cases

@pytest.mark.parametrize("case", probe_cases(xfail={"error-at-quit": "why"}))
def test_mailer(case):
    check_case(case, my_send)   # my_send(target): send target.message; raise on failure
```

``send(target)`` gets a :class:`~smtpfake.probe.cases.Target` (host, port, tls, ca_file,
credentials, sender, recipients, message bytes). Returning means delivered (or return
"transient"/"permanent"); an exception is classified by :func:`smtpfake.probe.outcomes.classify`
(smtplib/aiosmtplib 4yz and lost connections transient, 5yz permanent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from smtpfake.probe.cases import WAITS, Case, Target, load_cases, select, selection_problem
from smtpfake.probe.judge import Verdict
from smtpfake.probe.reports.junit import details
from smtpfake.probe.runner import (
    NEEDS_TLS_EXTRA,
    CaseResult,
    Options,
    function_client,
    needs_trustme,
    run_case,
    trustme_missing,
)
from smtpfake.scenario.checks import ClientKind


def probe_cases(
    *,
    names: Sequence[str] = (),
    tags: Sequence[str] = (),
    skip_tags: Sequence[str] = (WAITS,),
    xfail: Mapping[str, str] | None = None,
    paths: Sequence[str | Path] = (),
    scenario_dirs: Sequence[str | Path] = (),
) -> list[Any]:
    """``pytest.param(case, id=NAME)`` for each selected case (the built-in library, plus
    ``scenario_dirs`` and ``paths``; by default without the cases that wait on purpose).
    ``xfail``: case name -> reason: a known deviation, marked ``xfail(strict=True)`` so that
    fixing it is noticed. A name in ``xfail`` that is no case is an error (ValueError), and so
    are a name, a tag or a selection that matches no case: the test would be skipped as an
    empty parametrization, a green run of nothing."""
    cases = load_cases(paths, scenario_dirs)
    known = {c.name for c in cases}
    unknown = sorted(set(xfail or {}) - known)
    if unknown:
        raise ValueError(f"xfail names no case: {', '.join(unknown)}")
    if problem := selection_problem(cases, names, tags, skip_tags, ("tags=", "skip_tags=")):
        raise ValueError(f"probe_cases: {problem}")
    params = []
    for case in select(cases, names, tags, skip_tags):
        reason = (xfail or {}).get(case.name)
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


def run_with(
    case: Case,
    send: Callable[[Target], object],
    *,
    kind: ClientKind = ClientKind.ONE_SHOT,
    timeout: float = 30.0,
    budget: float = 30.0,
) -> CaseResult:
    """Run ``send`` against the case once (a fresh server) and judge it. A TLS case without the
    optional ``trustme`` package is skipped, saying what to install."""
    if needs_trustme(case) and trustme_missing():
        pytest.skip(f"probe case {case.name} {NEEDS_TLS_EXTRA}")
    options = Options(
        kind=kind, timeout=timeout, budget=budget, settle=0.2, done_when_returned=True
    )
    return run_case(case, function_client(send), options)


def check_case(
    case: Case,
    send: Callable[[Target], object],
    *,
    kind: ClientKind = ClientKind.ONE_SHOT,
    strict: bool = False,
    timeout: float = 30.0,
    budget: float = 30.0,
) -> CaseResult:
    """Run and judge the case; fail the test (with every check, the send function's error and
    the transcript) when it fails, or with ``strict`` when it is only non-strict."""
    result = run_with(case, send, kind=kind, timeout=timeout, budget=budget)
    bad = {Verdict.FAIL, Verdict.NON_STRICT} if strict else {Verdict.FAIL}
    if result.verdict in bad:
        pytest.fail(f"probe case {case.name}: {details(result)}", pytrace=False)
    return result
