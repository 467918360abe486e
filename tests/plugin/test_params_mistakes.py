"""A parameter value a scenario does not take, given through the plugin, is told where the user
wrote it (the marker's test file and line, or the ``use(...)`` call and its argument), in one line,
never at the scenario file's ``params:`` declaration: the file is fine, the setting is wrong."""

from __future__ import annotations

import pytest

from tests.support.sidecar import own_sidecar

pytest_plugins = ["pytester"]

MARKED = """\
import pytest

pytestmark = pytest.mark.smtpfake("greylisting", params={"delay": "1m"})


@pytest.mark.smtpfake(params={"dealy": 5})
def test_typo(smtpfake):
    pass


@pytest.mark.smtpfake("default", params={"delay": 1})
def test_none_declared(smtpfake):
    pass


@pytest.mark.smtpfake(params={"delay": "soon", "x": 1})
def test_two_bad(smtpfake):
    pass


def test_from_the_module(smtpfake):
    smtpfake.use("default", params={"delay": 1})


@pytest.mark.smtpfake(params={"dealy": 5})
class TestClass:
    def test_from_the_class(self, smtpfake):
        pass


@pytest.mark.parametrize("smtpfake", ["greylisting", "slow-greeting"], indirect=True)
@pytest.mark.smtpfake(params={"delay": -1})
def test_indirect(smtpfake):
    pass
"""

GREYLISTING_DEALY = (
    "dealy=5: this scenario has no parameter named 'dealy'; did you mean 'delay'? (declared: delay)"
)
# each at the marker's own line (below any other decorator), the marker as it is written there
MARKER_LINES = [
    "*ERROR at setup of test_typo*",
    """test_marked.py:6: @pytest.mark.smtpfake(params={"dealy": 5}) for scenario 'greylisting': """
    + GREYLISTING_DEALY,
    "*ERROR at setup of test_none_declared*",
    """test_marked.py:11: @pytest.mark.smtpfake("default", params={"delay": 1}): """
    "delay=1: this scenario declares no parameters named 'delay' (declared: none)",
    "*ERROR at setup of test_two_bad*",
    """test_marked.py:16: @pytest.mark.smtpfake(params={"delay": "soon", "x": 1}) for scenario """
    "'greylisting': delay=soon: expected a duration (seconds, or with a unit: 250ms, 30s, 5m, "
    "1h), got str 'soon'; x=1: this scenario has no parameter named 'x' (declared: delay)",
    # the class's params, for the module's scenario
    "*ERROR at setup of TestClass.test_from_the_class*",
    """test_marked.py:25: @pytest.mark.smtpfake(params={"dealy": 5}) for scenario 'greylisting': """
    + GREYLISTING_DEALY,
    # under @pytest.mark.parametrize: line 32, not the test's first decorator line (31)
    "*ERROR at setup of test_indirect[[]greylisting[]]*",
    """test_marked.py:32: @pytest.mark.smtpfake(params={"delay": -1}) for scenario """
    "'greylisting': delay=-1: must be at least 0.001, got -1",
    "*ERROR at setup of test_indirect[[]slow-greeting[]]*",
    """test_marked.py:32: @pytest.mark.smtpfake(params={"delay": -1}) for scenario """
    "'slow-greeting': delay=-1: must be at least 0, got -1",
]


def _no_file_position_no_traceback(out: str) -> None:
    assert ".yaml:" not in out, out  # not the scenario file's declaration
    assert "Traceback" not in out and "def smtpfake(" not in out and "pytest_plugin.py" not in out


def test_marker_params_are_told_at_the_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_marked=MARKED)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=6, failed=1)
    result.stdout.fnmatch_lines(MARKER_LINES)
    # the module's pytestmark gives its params to a test whose own call is told as a call
    result.stdout.fnmatch_lines(
        [
            "E   *ParamsError: use('default', params={'delay': 1}): delay=1: this scenario "
            "declares no parameters named 'delay' (declared: none)",
            "test_marked.py:22: ParamsError",
        ]
    )
    _no_file_position_no_traceback(result.stdout.str().split("short test summary")[0])


def test_module_marker_params_are_told_at_the_module(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_mod="""
        import pytest

        pytestmark = pytest.mark.smtpfake("greylisting", params={"dealy": 5})

        def test_a(smtpfake):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            """test_mod.py:3: @pytest.mark.smtpfake("greylisting", params={"dealy": 5}): """
            + GREYLISTING_DEALY
        ]
    )
    _no_file_position_no_traceback(result.stdout.str())


USE_CALLS = """\
import pytest
from smtpfake.scenario import ParamsError


def test_use(smtpfake):
    smtpfake.use("greylisting", params={"dealy": 5})


def test_use_dict(smtpfake):
    scenario = {
        "params": {"n": {"type": "int", "default": 1, "min": 1}},
        "rules": [{"on": "rcpt", "nth": "${n}", "reply": "451 4.7.1 later"}],
    }
    smtpfake.use(scenario, params={"n": 0})


def test_session_use(smtpfake_session):
    smtpfake_session.use("slow-greeting", params={"delay": "never"})


def test_caught(smtpfake):
    with pytest.raises(ParamsError) as caught:
        smtpfake.use("default", params={"x": 1})
    assert caught.value.settings == (
        "x=1: this scenario declares no parameters named 'x' (declared: none)",
    )
"""

USE_LINES = [
    [
        '>       smtpfake.use("greylisting", params={"dealy": 5})',
        "E       *ParamsError: use('greylisting', params={'dealy': 5}): " + GREYLISTING_DEALY,
        "test_use_calls.py:6: ParamsError",
    ],
    [
        '>       smtpfake.use(scenario, params={"n": 0})',
        "E       *ParamsError: use({...}, params={'n': 0}): n=0: must be at least 1, got 0",
        "test_use_calls.py:14: ParamsError",
    ],
    [
        '>       smtpfake_session.use("slow-greeting", params={"delay": "never"})',
        "E       *ParamsError: use('slow-greeting', params={'delay': 'never'}): delay=never: "
        "expected a duration (seconds, or with a unit: 250ms, 30s, 5m, 1h), got str 'never'",
        "test_use_calls.py:18: ParamsError",
    ],
]


def _check_use_calls(result: pytest.RunResult) -> None:
    result.assert_outcomes(failed=3, passed=1)
    for lines in USE_LINES:
        result.stdout.fnmatch_lines([line.replace("[", "[[]") for line in lines])
    out = result.stdout.str()
    assert ".yaml:" not in out and "def use(" not in out and "def __exit__" not in out


def test_use_params_name_the_call_and_its_argument(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_use_calls=USE_CALLS)
    _check_use_calls(pytester.runpytest("-p", "no:cacheprovider"))


def test_the_same_against_a_sidecar(pytester: pytest.Pytester) -> None:
    """The sidecar's 400 carries the values' own problems (``settings``), so the marker and the
    call read the same as in-process."""
    pytester.makepyfile(test_marked=MARKED, test_use_calls=USE_CALLS)
    with own_sidecar() as api:
        remote = ("-p", "no:cacheprovider", "--smtpfake-remote", api.url)
        marked = pytester.runpytest(*remote, "test_marked.py")
        calls = pytester.runpytest(*remote, "test_use_calls.py")
    marked.assert_outcomes(errors=6, failed=1)
    marked.stdout.fnmatch_lines(MARKER_LINES)
    _no_file_position_no_traceback(marked.stdout.str().split("short test summary")[0])
    _check_use_calls(calls)


def test_the_in_process_servers_own_use_names_the_call(pytester: pytest.Pytester) -> None:
    """``smtpfake_server.use(...)`` (the fixture's Server, as library users call it) tells a bad
    value as its call's, as ``smtpfake.use`` does: it was told at greylisting.yaml:14:3."""
    pytester.makepyfile(
        test_server_use="""
        import pytest
        from smtpfake.scenario import ParamsError

        def test_typo(smtpfake_server):
            smtpfake_server.use("greylisting", params={"dealy": 5})

        def test_caught(smtpfake_server):
            with pytest.raises(ParamsError) as caught:
                smtpfake_server.use("greylisting", params={"delay": "soon"})
            assert caught.value.settings[0].startswith("delay=soon: expected a duration")
            assert smtpfake_server.scenario.name == "default"  # nothing switched
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            '>       smtpfake_server.use("greylisting", params={"dealy": 5})',
            "E       *ParamsError: use('greylisting', params={'dealy': 5}): " + GREYLISTING_DEALY,
            "test_server_use.py:5: ParamsError",
        ]
    )
    out = result.stdout.str()
    assert ".yaml:" not in out and "def use(" not in out and "server.py" not in out, out
