"""The probe after ``pip install .`` alone (no ``[tls]``, so no trustme): the TLS cases were a
traceback mid-run (exit 1, as if the client failed, and no report written: every result lost),
and in pytest seven ScenarioError tracebacks (fresh9 F1). Now: the command refuses up front
(exit 2) naming the cases and both ways out; the pytest form skips them in one line each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from smtpfake.probe.cases import load_cases
from smtpfake.probe.judge import Verdict
from smtpfake.probe.runner import Options, needs_trustme, run_case

REPO = Path(__file__).resolve().parents[2]
TLS_CASES = [c.name for c in load_cases() if needs_trustme(c)]


def probe_without_trustme(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # a trustme whose import fails, first on the path: as if it were not installed
    (tmp_path / "trustme.py").write_text("raise ImportError('simulated: not installed')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    return subprocess.run(
        [sys.executable, "-m", "smtpfake", "probe", *args],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, cwd=REPO, env=env,
    )  # fmt: skip


def test_the_command_refuses_tls_cases_up_front_and_runs_without_them(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    done = probe_without_trustme(
        tmp_path, "--skip-tag", "waits", "--json", str(report), "--", "true"
    )
    assert (done.returncode, done.stdout) == (2, ""), done
    assert len(TLS_CASES) == 7  # the cases tagged tls (tests/probe/test_case_tags.py)
    said = (
        f"smtpfake probe: error: 7 selected case(s) serve TLS ({', '.join(TLS_CASES)}): each "
        "needs TLS, and so the 'trustme' package: pip install 'smtpfake[tls]' (or leave them "
        "out: --skip-tag tls)"
    )
    assert done.stderr.splitlines()[0] == said
    assert "Traceback" not in done.stderr
    # the way out it names works: the other cases run and the report is written
    done = probe_without_trustme(
        tmp_path, "--case", "default", "--case", "tls-required", "--skip-tag", "tls",
        "--json", str(report), "--", "true",
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr, done  # `true` sends nothing
    assert report.is_file()


def test_the_command_lines_own_mistakes_come_before_the_tls_cases_need(tmp_path: Path) -> None:
    # `smtpfake probe` alone, or a typo in the client, said "install trustme" first: after
    # installing it the user was told the real mistake
    for args, why in (
        ((), "give the client to run after --: smtpfake probe -- COMMAND"),
        (("--", "/nonexistent/client"), "the client /nonexistent/client: no such file"),
    ):
        done = probe_without_trustme(tmp_path, *args)
        assert (done.returncode, done.stdout) == (2, ""), done
        assert done.stderr.splitlines()[0] == f"smtpfake probe: error: {why}"


def test_run_case_of_a_tls_case_fails_with_why_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "trustme", None)  # import trustme fails, as uninstalled
    for name in ("tls-required", "454-tls-not-available"):  # a TLS server; a client told of TLS
        (case,) = [c for c in load_cases() if c.name == name]
        result = run_case(case, lambda target, timeout: pytest.fail("must not run"), Options())
        assert result.verdict is Verdict.FAIL
        assert result.reason == (
            "cannot serve this case here: needs TLS, and so the 'trustme' package: "
            "pip install 'smtpfake[tls]'"
        )


def test_the_pytest_form_skips_them_saying_what_to_install(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "trustme", None)
    pytester.makepyfile(
        """
        import pytest
        from smtpfake.probe.pytest_cases import check_case, probe_cases

        @pytest.mark.parametrize("case", probe_cases(names=["tls-required", "implicit-tls"]))
        def test_mailer(case):
            check_case(case, lambda target: pytest.fail("must not run"))
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        ["SKIPPED * probe case tls-required needs TLS, * pip install 'smtpfake?tls?'"]
    )
