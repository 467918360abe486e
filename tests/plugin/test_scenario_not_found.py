"""A scenario the plugin cannot get - a misspelt name, a file that is not there - is one line
naming where the user wrote it (the option and its ini key, the marker, the parametrization, the
``use()`` call; a conftest's Settings: tests/plugin/test_user_mistakes.py), with no made-up
``name:1:1:`` position (a name has no file; a file that cannot be read has no line), no
traceback, and the same words as ``smtpfake serve`` / ``validate``
(tests/cli/test_cli_usage_errors.py). After a close match the ~80 names give way to a pointer
to ``smtpfake list``; with no close match the names are the help, and stay."""

from __future__ import annotations

import contextlib

import pytest

from smtpfake.scenario import scenario_files
from tests.support.sidecar import own_sidecar

pytest_plugins = ["pytester"]

COUNT = len(scenario_files())
POINTER = f"(`smtpfake list` names all {COUNT})"
MISSING = "scen/full.yaml: cannot read: No such file or directory"
SETTING = "ERROR: smtpfake: --smtpfake-scenario (ini smtpfake_scenario): "


def _one_line_no_position(out: str, name: str) -> None:
    assert f"{name}:1:1" not in out, out
    assert "Traceback" not in out and "pytest_plugin" not in out, out


@pytest.mark.parametrize("where", ["flag", "ini"])
@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("defualt", f"no scenario named 'defualt'; did you mean 'default'? {POINTER}"),
        ("scen/full.yaml", MISSING),
    ],
    ids=["misspelt-name", "missing-file"],
)
def test_the_default_scenario_setting_is_one_usage_error_naming_it(
    pytester: pytest.Pytester, where: str, value: str, said: str
) -> None:
    pytester.makepyfile("def test_a(smtpfake):\n    pass\n\ndef test_b(smtpfake):\n    pass\n")
    if where == "ini":
        pytester.makeini(f"[pytest]\nsmtpfake_scenario = {value}\n")
        result = pytester.runpytest("-p", "no:cacheprovider")
    else:
        result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-scenario", value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == SETTING + said
    assert result.stderr.str().count(value) == 1  # said once, not in each test
    _one_line_no_position(result.stdout.str() + result.stderr.str(), value)
    assert "known:" not in result.stderr.str()


def test_a_name_with_no_close_match_keeps_the_list(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(smtpfake):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-scenario", "zzzqqq")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    known = ", ".join(sorted(scenario_files()))
    assert result.stderr.lines[0] == SETTING + f"no scenario named 'zzzqqq' (known: {known})"


def test_the_pointer_names_the_scenario_dir_option_when_one_is_set(
    pytester: pytest.Pytester,
) -> None:
    folder = pytester.mkdir("mine")
    (folder / "orders.yaml").write_text("summary: s\nexpect: e\n")
    pytester.makepyfile("def test_a(smtpfake):\n    pass\n")
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--smtpfake-scenario-dir", str(folder),
        "--smtpfake-scenario", "ordrs",
    )  # fmt: skip
    assert result.stderr.lines[0] == SETTING + (
        "no scenario named 'ordrs'; did you mean 'orders'? "
        f"(`smtpfake list --scenario-dir DIR` names all {COUNT + 1})"
    )


SUITE = """\
import pytest


@pytest.mark.smtpfake("scen/full.yaml")
def test_marker_file(smtpfake):
    pass


@pytest.mark.smtpfake("defualt")
def test_marker_name(smtpfake):
    pass


@pytest.mark.smtpfake(scenario="zzzqqq")
def test_marker_far(smtpfake):
    pass


@pytest.mark.parametrize("smtpfake", ["scen/full.yaml", "defualt"], indirect=True)
def test_indirect(smtpfake):
    pass


def test_use(smtpfake):
    smtpfake.use("scen/full.yaml")
"""


@pytest.mark.parametrize("remote", [False, True], ids=["in-process", "sidecar"])
def test_markers_parameters_and_use_say_it_where_it_was_written(
    pytester: pytest.Pytester, remote: bool
) -> None:
    """Against a sidecar too: its 404 for a name and the client's reading of a local file say
    the same words."""
    pytester.makepyfile(test_suite=SUITE)
    with contextlib.ExitStack() as stack:
        args = ["-p", "no:cacheprovider", "-rN"]
        if remote:
            args += ["--smtpfake-remote", stack.enter_context(own_sidecar()).url]
        result = pytester.runpytest(*args)
    result.assert_outcomes(errors=5, failed=1)
    out = result.stdout.str()
    known = ", ".join(sorted(scenario_files()))
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_marker_file*",
            # the marker as written
            f'test_suite.py:4: @pytest.mark.smtpfake("scen/full.yaml"): {MISSING}',
            "*ERROR at setup of test_marker_name*",
            """test_suite.py:9: @pytest.mark.smtpfake("defualt"): no scenario named 'defualt'; """
            f"did you mean 'default'? {POINTER}",
            "*ERROR at setup of test_marker_far*",
            f"""test_suite.py:14: @pytest.mark.smtpfake(scenario="zzzqqq"): no scenario named """
            f"'zzzqqq' (known: {known})",
            "*ERROR at setup of test_indirect[[]scen/full.yaml[]]*",
            f"smtpfake: cannot load scenario {MISSING}",
            "*ERROR at setup of test_indirect[[]defualt[]]*",
            "smtpfake: cannot load scenario defualt: no scenario named 'defualt'; did you mean "
            f"'default'? {POINTER}",
            "*_ test_use _*",
            '>       smtpfake.use("scen/full.yaml")',
            f"E       *ScenarioError: {MISSING}",
            "test_suite.py:25: ScenarioError",
        ]
    )
    # the call's line and the error: not the loader's frames that found it
    assert "library.py" not in out and "loader.py" not in out
    _one_line_no_position(out, "scen/full.yaml")
    _one_line_no_position(out, "defualt")
    assert out.count("known:") == 1  # only where no name is close


@pytest.mark.parametrize("where", ["flag", "ini"])
def test_a_port_out_of_range_names_its_flag_and_ini_key(
    pytester: pytest.Pytester, where: str
) -> None:
    pytester.makepyfile("def test_a(smtpfake):\n    pass\n")
    if where == "ini":
        pytester.makeini("[pytest]\nsmtpfake_port = 99999\n")
        result = pytester.runpytest("-p", "no:cacheprovider")
    else:
        result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-port", "99999")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == (
        "ERROR: smtpfake: --smtpfake-port (ini smtpfake_port): 99999 is not a port (0-65535)"
    )
