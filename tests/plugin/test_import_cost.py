"""Item 1: a suite that never asks for the fixture does not load the server stack."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_plugin_loads_without_the_server_stack(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_nothing_heavy_was_imported():
            ours = sorted(m for m in sys.modules if m.startswith("smtpfake"))
            # the plugin module alone: what its fixtures do is in modules loaded on first use
            assert ours == ["smtpfake", "smtpfake.pytest_plugin"]
            for heavy in ("yaml", "aiosmtpd", "urllib.request"):
                assert heavy not in sys.modules, heavy

        def test_no_hook_runs_in_each_test(pytestconfig):
            # the transcript's report hook is added by the first test that uses the fixture
            hook = pytestconfig.pluginmanager.hook.pytest_runtest_makereport
            assert not [h for h in hook.get_hookimpls() if "smtpfake" in h.plugin_name]
        """
    )
    # a fresh interpreter, so what this test process imported does not count
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:smtpd")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["smtpfake: scenario=default *"])


def test_the_fixture_still_loads_it_on_first_use(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_uses_it(smtpfake):
            assert "smtpfake.server" in sys.modules and smtpfake.port > 0
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
