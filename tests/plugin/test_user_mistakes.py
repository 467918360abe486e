"""Mistakes a new user makes with the plugin's marker, each reported as one line naming what to
fix (bad settings: tests/plugin/test_scopes_and_settings.py)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

MARKED = """
import smtplib
import pytest

@pytest.mark.smtpfake({marker})
def test_marked(smtpfake):
    # runs only if the marker is accepted: proves which scenario is in force
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as smtp:
        smtp.ehlo()
        smtp.mail("a@example.test")
        code = smtp.rcpt("b@example.test")[0]
    assert code == 250
"""


@pytest.mark.parametrize(
    ("marker", "line"),
    [
        (
            'scenari="greylisting"',
            "unknown keyword 'scenari'; did you mean 'scenario'? "
            "(known: scenario, seed, params, delivery, handler)",
        ),
        (
            '"default", "greylisting"',
            "one scenario only: a name, a path or a dict, positional or as scenario=",
        ),
        (
            '"default", scenario="greylisting"',
            "one scenario only: a name, a path or a dict, positional or as scenario=",
        ),
        (
            # a seed outside what a scenario's seed: and serve --seed take (0 to 2^64-1)
            "seed=-1",
            "the seed must be an integer from 0 to 2^64-1",
        ),
        (
            '"greylisting", params=[("delay", 5)]',
            "params must be a dict of parameter names to values, got list",
        ),
    ],
)
def test_a_marker_that_would_do_nothing_fails_the_test_in_one_line(
    pytester: pytest.Pytester, marker: str, line: str
) -> None:
    pytester.makepyfile(MARKED.format(marker=marker))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    # at the marker's line, the marker as the user wrote it
    said = f"test_a_marker_*.py:4: @pytest.mark.smtpfake({marker}): {line}"
    result.stdout.fnmatch_lines([said.replace("[", "[[]")])
    assert "Traceback" not in result.stdout.str()
    assert "def _check_marker" not in result.stdout.str()


def test_a_good_marker_still_works(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MARKED.format(marker='scenario="default", seed=3, params={}'))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_an_existing_scenario_dir_is_used(pytester: pytest.Pytester) -> None:
    pytester.mkdir("mine")
    pytester.path.joinpath("mine", "refuse.yaml").write_text(
        "summary: s\nexpect: e\nrules:\n  - on: rcpt\n    reply: 550 5.1.1 no\n"
    )
    pytester.makepyfile(
        """
        import smtplib
        def test_a(smtpfake):
            with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as smtp:
                smtp.ehlo()
                smtp.mail("a@example.test")
                assert smtp.rcpt("b@example.test")[0] == 550
        """
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--smtpfake-scenario-dir", "mine", "--smtpfake-scenario", "refuse"
    )
    result.assert_outcomes(passed=1)


def test_a_bad_inline_scenario_fails_at_the_tests_own_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_bad_use(smtpfake):
            smtpfake.use({"rules": [{"on": "rcpt", "reply": {"code": 45}}]})
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            ">       smtpfake.use(*",
            "E       *ScenarioError: rules[[]1[]].reply.code: reply code must be three digits*",
            "test_a_bad_inline_scenario_fails_at_the_tests_own_line.py:2: ScenarioError",
        ]
    )
    assert "contextlib" not in result.stdout.str()
    assert "def use(" not in result.stdout.str()


@pytest.mark.parametrize(
    ("scenario", "said"),
    [
        (
            "greylistng",
            "no scenario named 'greylistng'; did you mean 'greylisting'? "
            "(`smtpfake list` names all *)",
        ),
        # no made-up line:col: nothing in the file was read
        ("scen/full.yaml", "scen/full.yaml: cannot read: No such file or directory"),
    ],
    ids=["misspelt-name", "missing-file"],
)
def test_a_bad_scenario_in_overridden_settings_is_one_usage_error(
    pytester: pytest.Pytester, scenario: str, said: str
) -> None:
    pytester.makeconftest(
        f"""
        import pytest
        from smtpfake.pytest_plugin import Settings

        @pytest.fixture(scope="session")
        def smtpfake_settings():
            return Settings(scenario="{scenario}")
        """
    )
    pytester.makepyfile("def test_a(smtpfake):\n    pass\n\ndef test_b(smtpfake):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: smtpfake: Settings(scenario='{scenario}') (smtpfake_settings in *): {said}"]
    )
    out = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in out and "def smtpfake_backend" not in out
    assert f"{scenario}:1:1" not in out


def test_parametrizing_the_session_fixture_is_one_line_not_a_scenario_ignored(
    pytester: pytest.Pytester,
) -> None:
    """It was accepted (with a readable id) and did nothing: the test met the default scenario."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("smtpfake_session", ["421-at-greeting"], indirect=True)
        def test_x(smtpfake_session):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "parametrize('smtpfake_session', [[]'421-at-greeting', ...[]], indirect=True): a "
            "scenario is picked for the function-scoped `smtpfake` only; parametrize that*"
        ]
    )
    assert "Traceback" not in result.stdout.str()
