"""A scenario that asks for TLS and names no certificate, through the plugin (``pytester``):
smtpfake generates one with a throwaway CA that the test trusts (``smtpfake.client_ssl_context()``,
hostname checks on), whichever way the scenario is chosen (marker, ``use()``, parametrization,
the ``smtpfake_scenario`` setting). Without the optional ``trustme`` package each way gives the
one clear error that says what to install: at the marker, in one line; as the setting, one
usage error at start-up (not a traceback in every test)."""

from __future__ import annotations

import sys

import pytest

pytest_plugins = ["pytester"]

SUITE = """\
import smtplib

import pytest


def deliver(smtpfake):
    with smtplib.SMTP("localhost", smtpfake.port, timeout=5) as client:
        assert client.starttls(context=smtpfake.client_ssl_context())[0] == 220
        client.sendmail("a@x.test", ["b@y.test"], b"Subject: over TLS\\r\\n\\r\\nhi\\r\\n")
    (session,) = smtpfake.sessions
    assert session.tls
    smtpfake.assert_delivered(1, subject="over TLS")


@pytest.mark.smtpfake("tls-required")
def test_marker(smtpfake):
    deliver(smtpfake)


def test_use(smtpfake):
    smtpfake.use("tls-required")
    deliver(smtpfake)


@pytest.mark.parametrize("smtpfake", ["tls-required"], indirect=True)
def test_parametrized(smtpfake):
    deliver(smtpfake)
"""

SETTING = """\
import smtplib


def test_the_setting(smtpfake):
    assert smtpfake.scenario_name == "tls-required"
    with smtplib.SMTP("localhost", smtpfake.port, timeout=5) as client:
        assert client.starttls(context=smtpfake.client_ssl_context())[0] == 220
        client.ehlo("client.test")
    assert smtpfake.sessions[0].tls
"""

MISSING = (
    "tls-required.yaml:13:5: server.tls: no certificate is given, so smtpfake generates one, "
    "which needs the 'trustme' package: pip install 'smtpfake[tls]' (or give certificate: and "
    "key: PEM files)"
).replace("[tls]", "[[]tls[]]")  # (an fnmatch pattern: [ starts a set)


def test_a_generated_certificate_whichever_way_the_scenario_is_chosen(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)
    pytester.makepyfile(test_suite=SETTING)
    result = pytester.runpytest("-p", "no:cacheprovider", "-o", "smtpfake_scenario=tls-required")
    result.assert_outcomes(passed=1)


def test_without_trustme_each_way_says_what_to_install(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "trustme", None)  # import trustme now fails, as uninstalled
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_marker*",
            f"""test_suite.py:15: @pytest.mark.smtpfake("tls-required"): *{MISSING}""",
            "*ERROR at setup of test_parametrized*",
            f"smtpfake: cannot load scenario tls-required: *{MISSING}",
            # use() raises the ScenarioError at the test's own call (the README's choice)
            f"E *ScenarioError: *{MISSING}",
        ],
        consecutive=False,
    )
    assert "During handling" not in result.stdout.str()

    # as the setting: one usage error at start-up, no test run
    pytester.makepyfile(test_suite=SETTING)
    result = pytester.runpytest("-p", "no:cacheprovider", "-o", "smtpfake_scenario=tls-required")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: smtpfake: --smtpfake-scenario (ini smtpfake_scenario): *{MISSING}"]
    )
    assert "Traceback" not in result.stderr.str() + result.stdout.str()

    # in code (an overridden smtpfake_settings): the same one usage error at start-up
    pytester.makeconftest(
        """
        import pytest
        from smtpfake.pytest_plugin import Settings

        @pytest.fixture(scope="session")
        def smtpfake_settings():
            return Settings(scenario="tls-required")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: smtpfake: Settings(scenario='tls-required') (smtpfake_settings in "
            f"conftest.py): *{MISSING}"
        ]
    )
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
