"""``--smtpfake-port`` / ``--smtpfake-host`` (ini and Settings forms) with ``--smtpfake-remote``:
the fixture's server is on the sidecar, so naming an address is a usage error, not ignored (as
is a loop in Settings: tests/plugin/test_loop_setting.py has the flag's)."""

from __future__ import annotations

import pytest

from tests.support.sidecar import own_sidecar

pytest_plugins = ["pytester"]

TEST = "def test_x(smtpfake):\n    print('fixture port', smtpfake.port)\n"
WHY = "where the in-process server listens; with --smtpfake-remote the fixture's server is on *"


@pytest.mark.parametrize(
    ("args", "ini", "flag"),
    [
        (["--smtpfake-port", "2600"], "", "port"),
        (["--smtpfake-host", "0.0.0.0"], "", "host"),
        ([], "smtpfake_port = 2600", "port"),
        ([], "smtpfake_host = 0.0.0.0", "host"),
    ],
)
def test_an_address_with_a_sidecar_is_a_usage_error(
    pytester: pytest.Pytester, args: list[str], ini: str, flag: str
) -> None:
    pytester.makepyfile(test_suite=TEST)
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    with own_sidecar() as api:
        result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-remote", api.url, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: smtpfake: --smtpfake-{flag} (ini smtpfake_{flag}): {WHY}"]
    )
    assert "fixture port" not in result.stdout.str()


@pytest.mark.parametrize(
    ("setting", "why"),
    [
        ("port=2600", WHY),
        ("host='0.0.0.0'", WHY),
        ("loop='asyncio'", "the in-process server's event loop; with --smtpfake-remote the *"),
    ],
)
def test_an_address_or_loop_in_settings_with_a_sidecar_fails_each_test_in_one_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, setting: str, why: str
) -> None:
    # an smtpfake_settings that takes a fixture is made at first use: checked then
    pytester.makeconftest(
        "import os, pytest\nfrom smtpfake.pytest_plugin import Settings\n\n"
        '@pytest.fixture(scope="session")\ndef smtpfake_settings(tmp_path_factory):\n'
        f"    return Settings(remote=os.environ['SIDECAR_URL'], {setting})\n"
    )
    pytester.makepyfile(test_suite=TEST)
    with own_sidecar() as api:
        monkeypatch.setenv("SIDECAR_URL", api.url)
        result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"smtpfake: Settings({setting}): {why}"])
    assert "Traceback" not in result.stdout.str() and "fixture port" not in result.stdout.str()
