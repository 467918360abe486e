"""A bad argument to a fixture method is the test's mistake: its traceback ends at the test's
line, with no frame of smtpfake's own (in-process and against a sidecar)."""

from __future__ import annotations

import pytest

from tests.support.sidecar import own_sidecar

pytest_plugins = ["pytester"]

SUITE = """
def test_seed_not_a_number(smtpfake):
    smtpfake.use("default", seed="x")

def test_seed_negative(smtpfake):
    smtpfake.use("default", seed=-1)

def test_scenario_not_a_scenario(smtpfake):
    smtpfake.use(5)

def test_clock_backwards(smtpfake):
    smtpfake.advance(-1)
"""

IN_PROCESS = [
    "E   TypeError: use(seed='x'): expected None or a whole number from 0 to 2^64-1, not a str",
    "E   ValueError: use(seed=-1): expected None or a whole number from 0 to 2^64-1, got -1",
    "E   TypeError: use(5): a scenario is a name, a YAML path, a dict or a Scenario, not a int",
    "E   ValueError: advance(seconds=-1): expected seconds from 0 to 86400, got -1",
]


def _frames(out: str) -> list[str]:
    """The traceback's location lines (``path:line: in function``) outside the test file."""
    return [ln for ln in out.splitlines() if ": in " in ln and not ln.startswith("test_suite.py")]


def test_in_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "--tb=short")
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(IN_PROCESS, consecutive=False)
    assert _frames(result.stdout.str()) == []
    assert result.stdout.str().count("test_suite.py:") >= 4


def test_against_a_sidecar(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_suite="def test_clock_backwards(smtpfake):\n    smtpfake.advance(-1)\n\n"
        "def test_clock_in_words(smtpfake):\n    smtpfake.advance('soon')\n"
    )
    with own_sidecar() as api:
        result = pytester.runpytest(
            "-p", "no:cacheprovider", "--tb=short", "--smtpfake-remote", api.url
        )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            # checked before the request, as in-process (tests/plugin/test_helper_arguments.py)
            "E   ValueError: advance(seconds=-1): expected seconds from 0 to 86400, got -1",
            "E   TypeError: advance(seconds='soon'): expected seconds from 0 to 86400, not a str",
        ]
    )
    assert _frames(result.stdout.str()) == []
