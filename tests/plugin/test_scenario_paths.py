"""A scenario file named in a marker, a parameter or ``use()``: a relative path is read from
the directory pytest runs in (as ``open()`` reads it), not from the test file's folder; a
``pathlib.Path`` beside the test is the way to name one there. A new user's suite under
``tests/`` named ``scen/full.yaml`` beside its test and got "No such file"; the README said
neither."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

FULL = """\
summary: Every RCPT gets 452.
expect: Retry later.
rules:
  - on: rcpt
    reply: 452 4.2.2 Mailbox full
"""


def test_relative_paths_are_from_where_pytest_runs(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("tests", "scen").mkdir(parents=True)
    pytester.path.joinpath("tests", "scen", "full.yaml").write_text(FULL)
    pytester.path.joinpath("tests", "test_paths.py").write_text(
        """
import smtplib
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def refused(smtpfake):
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as smtp:
        smtp.ehlo()
        smtp.mail("a@example.test")
        return smtp.rcpt("b@example.test")[0]


@pytest.mark.smtpfake(scenario=HERE / "scen" / "full.yaml")
def test_a_path_beside_the_test(smtpfake):
    assert smtpfake.scenario_name == "full" and refused(smtpfake) == 452


@pytest.mark.smtpfake(scenario="tests/scen/full.yaml")
def test_relative_to_where_pytest_runs(smtpfake):
    assert refused(smtpfake) == 452


@pytest.mark.parametrize("smtpfake", [HERE / "scen" / "full.yaml"], indirect=True)
def test_parametrized_by_path(smtpfake):
    assert refused(smtpfake) == 452


def test_use_a_path(smtpfake):
    smtpfake.use(HERE / "scen" / "full.yaml")
    assert refused(smtpfake) == 452


@pytest.mark.smtpfake(scenario="scen/full.yaml")
def test_not_relative_to_the_test_file(smtpfake):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*scen/full.yaml*No such file or directory*"])
