"""Settings made in code (an overridden ``smtpfake_settings``, ``Server(seed=)``) get the checks
the flags get: one usage error naming the field, at start-up when the override can be made then
(else once, at first use); the report header shows the settings in force, and a flag the code
overrides is warned about (fresh9 F5, F6)."""

from __future__ import annotations

import re
import socket

import pytest

from smtpfake.server import Server

pytest_plugins = ["pytester"]

TWO_TESTS = "def test_a(smtpfake):\n    pass\n\ndef test_b(smtpfake):\n    pass\n"


def conftest(settings: str, *, needs: str = "") -> str:
    return (
        "import pytest\nfrom smtpfake.pytest_plugin import Settings\n\n"
        f'@pytest.fixture(scope="session")\ndef smtpfake_settings({needs}):\n'
        f"    return Settings({settings})\n"
    )


BAD = {
    "seed=-1": "Settings(seed=-1): expected None or a whole number from 0 to 2^64-1",
    "seed='x'": "Settings(seed='x'): expected None or a whole number from 0 to 2^64-1",
    "seed=2**64": "Settings(seed=18446744073709551616): expected None or a whole number *",
    "port=99999": "Settings(port=99999): expected a port number 0-65535",
    "scenario='defualt'": "Settings(scenario='defualt') (smtpfake_settings in conftest.py): no "
    "scenario named 'defualt'; did you mean 'default'?*",
}


@pytest.mark.parametrize("settings", BAD)
def test_a_bad_setting_in_code_is_one_usage_error_at_start_up(
    pytester: pytest.Pytester, settings: str
) -> None:
    pytester.makeconftest(conftest(settings))
    pytester.makepyfile(TWO_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: smtpfake: {BAD[settings]}*"])
    out = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in out and "passed" not in out


@pytest.mark.parametrize("settings", ["seed=-1", "port=99999", "scenario='defualt'"])
def test_one_made_at_first_use_is_the_error_of_the_tests_that_use_it(
    pytester: pytest.Pytester, settings: str
) -> None:
    # taking another fixture, the override cannot be made at start-up: its mistake is the error
    # of each test that uses the fixtures, in one line, as pytest does for a broken fixture; a
    # test that does not use smtpfake runs
    pytester.makeconftest(conftest(settings, needs="tmp_path_factory"))
    pytester.makepyfile(TWO_TESTS + "\ndef test_without_smtpfake():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=2)
    said = BAD[settings].split(":")[0].split(" ")[0]
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_a*",
            f"smtpfake: {said}*",
            "*ERROR at setup of test_b*",
            f"smtpfake: {said}*",
        ]
    )
    out = result.stdout.str()
    assert "Traceback" not in out and "OverflowError" not in out
    assert "smtpfake_settings in conftest.py" in out


def test_the_header_shows_the_settings_in_force_and_warns_of_an_ignored_flag(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(conftest('scenario="strict-503-ordering", seed=5'))
    pytester.makepyfile(
        "def test_a(smtpfake):\n    assert smtpfake.scenario_name == 'strict-503-ordering'\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-scenario", "421-at-greeting")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "smtpfake: scenario=strict-503-ordering * seed=5 "
            "(in force: smtpfake_settings in conftest.py)",
            "*SmtpfakeWarning: smtpfake: --smtpfake-scenario 421-at-greeting is ignored: "
            "smtpfake_settings in conftest.py sets it*",
        ]
    )
    assert "scenario=421-at-greeting" not in result.stdout.str()


def test_made_at_first_use_the_header_says_so_and_the_ignored_flag_warns(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(conftest('scenario="strict-503-ordering"', needs="tmp_path_factory"))
    pytester.makepyfile("def test_a(smtpfake):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-seed", "3")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "smtpfake: * (flags and ini keys; smtpfake_settings in conftest.py is made at "
            "first use)",
            "*smtpfake: --smtpfake-seed 3 is ignored: smtpfake_settings in conftest.py sets it*",
        ]
    )


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"seed": -1}, "Server(seed=): must be at least 0, got -1"),
        ({"seed": "x"}, "Server(seed=): expected a whole number, got 'x'"),
        (
            {"seed": 2**64},
            "Server(seed=): must be at most 18446744073709551615, got 18446744073709551616",
        ),
        ({"port": 99999}, "Server(port=): must be at most 65535, got 99999"),
    ],
)
def test_server_checks_its_seed_and_port(given: dict[str, object], said: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(said)}"):
        Server("default", **given)  # type: ignore[arg-type]
    with (
        Server("default") as server,
        pytest.raises(ValueError, match=re.escape("use(seed=-1): expected None or a whole")),
    ):
        server.use("default", seed=-1)


def test_an_override_made_at_start_up_runs_once(pytester: pytest.Pytester) -> None:
    # start-up makes it (to check it and show it); the fixtures use that value, not a second call
    pytester.makeconftest(
        "import pytest\nfrom pathlib import Path\nfrom smtpfake.pytest_plugin import Settings\n\n"
        '@pytest.fixture(scope="session")\ndef smtpfake_settings(pytestconfig):\n'
        '    with Path("calls.txt").open("a") as calls:\n        calls.write("call\\n")\n'
        '    return Settings(scenario="strict-503-ordering")\n'
    )
    pytester.makepyfile(
        "def test_a(smtpfake):\n    assert smtpfake.scenario_name == 'strict-503-ordering'\n\n"
        "def test_b(smtpfake, smtpfake_session, smtpfake_server):\n    pass\n"
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    assert (pytester.path / "calls.txt").read_text() == "call\n"


def taken_port() -> tuple[socket.socket, int]:
    taken = socket.create_server(("127.0.0.1", 0))
    return taken, taken.getsockname()[1]


@pytest.mark.parametrize("needs", ["", "tmp_path_factory"])
def test_a_port_in_code_is_named_as_written(pytester: pytest.Pytester, needs: str) -> None:
    # at start-up (a usage error) and at first use (each test's error): the field, not the flag
    taken, port = taken_port()
    with taken:
        pytester.makeconftest(conftest(f"port={port}", needs=needs))
        pytester.makepyfile(TWO_TESTS)
        result = pytester.runpytest("-p", "no:cacheprovider")
    said = (
        f"smtpfake: Settings(host='127.0.0.1', port={port}) (smtpfake_settings in conftest.py): "
        f"cannot listen on 127.0.0.1:{port}: *"
    )
    if needs:
        result.assert_outcomes(errors=2)
        result.stdout.fnmatch_lines([said])
    else:
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"ERROR: {said}"])
    assert "--smtpfake-" not in result.stdout.str() + result.stderr.str()


def test_a_sidecar_in_code_is_named_as_written(pytester: pytest.Pytester) -> None:
    taken, port = taken_port()
    taken.close()  # nothing listens there now: refused at once
    url = f"http://127.0.0.1:{port}"
    pytester.makeconftest(conftest(f"remote={url!r}, remote_wait=0"))
    pytester.makepyfile(TWO_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: smtpfake: Settings(remote='{url}') (smtpfake_settings in conftest.py): * "
            "(waited 0s, see Settings(remote_wait=...))"
        ]
    )
    assert "--smtpfake-" not in result.stdout.str() + result.stderr.str()
