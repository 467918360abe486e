"""The README's conftest.py that sets the plugin's settings in code runs as written: a new user
had to find ``Settings`` in ``smtpfake.pytest_plugin`` by reading the source."""

from __future__ import annotations

import pytest

from tests.test_readme import blocks

pytest_plugins = ["pytester"]


def test_the_readmes_settings_conftest_is_in_force(pytester: pytest.Pytester) -> None:
    [conftest] = [b for b in blocks("python") if b.startswith("# conftest.py\n")]
    pytester.makeconftest(conftest)
    pytester.makepyfile(
        """
        import smtplib

        def test_the_settings_scenario_and_limits(smtpfake):
            assert smtpfake.scenario_name == "strict-503-ordering"
            with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
                c.ehlo()
                for i in range(101):
                    c.sendmail("a@x.test", [f"b{i}@y.test"], b"Subject: x\\r\\n\\r\\nx\\r\\n")
            assert len(smtpfake.messages) == 100
            assert smtpfake.counts.messages_dropped == 1
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["smtpfake: scenario=strict-503-ordering *(in force: smtpfake_settings in conftest.py)"]
    )
