"""A marker's mistake is told at the marker's own line, the marker as the user wrote it there:
below other decorators (pytest reports a test at its first), spread over lines, in a class's
``pytestmark``, inside ``pytest.param(marks=...)``; and a scenario file a marker names is told
at its true place (no made-up ``file:1:1:``: the file as a whole, or the line:col at fault)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SUITE = """\
import pytest
from pytest import mark


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("n", [1])
@pytest.mark.smtpfake("greylisting", seed="7")
def test_seed_under_two(smtpfake, n):
    pass


@pytest.mark.filterwarnings("ignore")
@pytest.mark.smtpfake(
    "greylisting",
    params={"dealy": 5},
)
def test_spread_over_lines(smtpfake):
    pass


class TestInClass:
    pytestmark = [pytest.mark.filterwarnings("ignore"), mark.smtpfake("default", sede=1)]

    def test_a(self, smtpfake):
        pass


@pytest.mark.parametrize(
    "n",
    [
        1,
        pytest.param(2, marks=pytest.mark.smtpfake(scenario="default", seeds=3)),
    ],
)
def test_in_a_param(smtpfake, n):
    pass


@pytest.mark.filterwarnings("ignore")
@pytest.mark.smtpfake("empty.yaml")
def test_empty_file(smtpfake):
    pass


@pytest.mark.filterwarnings("ignore")
@pytest.mark.smtpfake("bell.yaml")
def test_bad_character(smtpfake):
    pass
"""

KNOWN = "(known: scenario, seed, params, delivery, handler)"


def test_each_marker_is_told_at_its_own_line_as_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.path.joinpath("empty.yaml").write_text("# to do\n", encoding="utf-8")
    pytester.path.joinpath("bell.yaml").write_text("summary: s\nexpect: \x07\n", encoding="utf-8")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=6)
    lines = [
        "*ERROR at setup of test_seed_under_two*",
        """test_suite.py:7: @pytest.mark.smtpfake("greylisting", seed="7"): the seed must be an """
        "integer from 0 to 2^64-1",
        "*ERROR at setup of test_spread_over_lines*",
        """test_suite.py:13: @pytest.mark.smtpfake("greylisting", params={"dealy": 5}): """
        "dealy=5: this scenario has no parameter named 'dealy'; did you mean 'delay'? "
        "(declared: delay)",
        "*ERROR at setup of TestInClass.test_a*",
        f"""test_suite.py:22: @mark.smtpfake("default", sede=1): unknown keyword 'sede'; did """
        f"you mean 'seed'? {KNOWN}",
        "*ERROR at setup of test_in_a_param[[]2[]]*",
        f"""test_suite.py:32: @pytest.mark.smtpfake(scenario="default", seeds=3): unknown """
        f"keyword 'seeds'; did you mean 'seed'? {KNOWN}",
        "*ERROR at setup of test_empty_file*",
        """test_suite.py:40: @pytest.mark.smtpfake("empty.yaml"): empty.yaml: the file is """
        "empty",
        "*ERROR at setup of test_bad_character*",
        """test_suite.py:46: @pytest.mark.smtpfake("bell.yaml"): bell.yaml:2:9: invalid YAML: """
        "unacceptable character #x0007: special characters are not allowed",
    ]
    result.stdout.fnmatch_lines(lines)
    out = result.stdout.str()
    assert ":1:1" not in out and "Traceback" not in out, out


VARIABLES = """\
import pytest

import markers
from markers import IMPORTED

SLOW = pytest.mark.smtpfake(
    "greylisting",
    params={"dealy": 5},
)


@pytest.mark.parametrize("n", [1])
@SLOW
def test_first(smtpfake, n):
    pass


@pytest.mark.filterwarnings("ignore")
@SLOW
def test_second(smtpfake):
    pass


@IMPORTED
def test_imported(smtpfake):
    pass


class TestModule:
    pytestmark = [markers.BY_MODULE]

    def test_a(self, smtpfake):
        pass


@markers.made()
def test_made_by_a_call(smtpfake):
    pass


MADE = markers.made()


@pytest.mark.filterwarnings("ignore")
@MADE
def test_made_elsewhere(smtpfake):
    pass
"""

MARKERS = """\
import pytest


def made():
    return pytest.mark.smtpfake("default", seeds=3)


IMPORTED = pytest.mark.smtpfake("default", sede=1)
BY_MODULE = pytest.mark.smtpfake("greylisting", seed=-1)
"""


def test_a_marker_kept_in_a_variable_is_told_at_its_assignment(
    pytester: pytest.Pytester,
) -> None:
    """``SLOW = pytest.mark.smtpfake(...)``, then ``@SLOW``: the mistake is at the assignment,
    as written there, for every test that uses it; in the module it was imported from too. A
    marker the source does not show (made by a call) is told at the decorator that names it,
    with its values."""
    pytester.makepyfile(test_vars=VARIABLES, markers=MARKERS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=6)
    slow = (
        """test_vars.py:6: SLOW = pytest.mark.smtpfake("greylisting", params={"dealy": 5}): """
        "dealy=5: this scenario has no parameter named 'dealy'; did you mean 'delay'? "
        "(declared: delay)"
    )
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_first[[]1[]]*",
            slow,
            "*ERROR at setup of test_second*",
            slow,
            "*ERROR at setup of test_imported*",
            f"""markers.py:8: IMPORTED = pytest.mark.smtpfake("default", sede=1): unknown """
            f"keyword 'sede'; did you mean 'seed'? {KNOWN}",
            "*ERROR at setup of TestModule.test_a*",
            """markers.py:9: BY_MODULE = pytest.mark.smtpfake("greylisting", seed=-1): the """
            "seed must be an integer from 0 to 2^64-1",
            "*ERROR at setup of test_made_by_a_call*",
            # no assignment to point at: the test's first decorator, the marker from its values
            f"test_vars.py:36: @pytest.mark.smtpfake('default', seeds=3): unknown keyword "
            f"'seeds'; did you mean 'seed'? {KNOWN}",
            "*ERROR at setup of test_made_elsewhere*",
            f"test_vars.py:45: @MADE (pytest.mark.smtpfake('default', seeds=3)): unknown "
            f"keyword 'seeds'; did you mean 'seed'? {KNOWN}",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_marker_in_a_list_kept_in_a_variable_is_told_at_its_own_assignment(
    pytester: pytest.Pytester,
) -> None:
    """``BOTH = [LOCAL]``, then ``pytestmark = BOTH``: told at LOCAL's assignment, as
    ``pytestmark = LOCAL`` and ``pytestmark = [LOCAL]`` are (was the pytestmark line, with a
    decorator nobody wrote; new-user pass)."""
    pytester.makepyfile(
        test_listvar="""
        import pytest

        LOCAL = pytest.mark.smtpfake("greylistng")
        BOTH = [LOCAL]


        class TestDirect:
            pytestmark = LOCAL

            def test_a(self, smtpfake):
                pass


        class TestList:
            pytestmark = [LOCAL]

            def test_b(self, smtpfake):
                pass


        class TestListVar:
            pytestmark = BOTH

            def test_c(self, smtpfake):
                pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=3)
    told = [line for line in result.stdout.lines if line.startswith("test_listvar.py:")]
    assert len(told) == 3, result.stdout.str()
    assert all(
        line.startswith('test_listvar.py:3: LOCAL = pytest.mark.smtpfake("greylistng"): ')
        for line in told
    ), told
