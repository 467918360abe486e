"""Items 5, 6 and 9: scopes and ports; one usage error per bad setting; small things."""

from __future__ import annotations

import socket

import pytest

from tests.support.ports import free_ports

pytest_plugins = ["pytester"]


def test_session_and_module_scoped_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        @pytest.fixture(scope="module")
        def app_settings(smtpfake_session):
            # an app that reads its SMTP settings once, at start-up
            return {"EMAIL_HOST": smtpfake_session.host, "EMAIL_PORT": smtpfake_session.port}

        def test_one(app_settings, smtpfake):
            assert app_settings["EMAIL_PORT"] == smtpfake.port
            with smtplib.SMTP(app_settings["EMAIL_HOST"], app_settings["EMAIL_PORT"]) as c:
                c.noop()
            assert len(smtpfake.sessions) == 1

        def test_two_is_reset_but_same_port(app_settings, smtpfake):
            assert smtpfake.sessions == () and app_settings["EMAIL_PORT"] == smtpfake.port
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_a_tests_scenario_does_not_play_on_for_later_tests_on_the_session_server(
    pytester: pytest.Pytester,
) -> None:
    """A marker, an indirect parametrization or use() inside a test: after the test the server
    plays the run's scenario again, for a test that reaches it through smtpfake_session only
    (new-user pass: a session-scoped app fixture met the previous test's 421)."""
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        def send(server):
            with smtplib.SMTP(server.host, server.port, timeout=5) as c:
                c.sendmail("a@example.test", ["b@example.test"], b"Subject: x\\r\\n\\r\\nx\\r\\n")

        @pytest.mark.smtpfake(scenario="421-at-greeting")
        def test_marker(smtpfake):
            with pytest.raises(smtplib.SMTPConnectError):
                send(smtpfake)

        def test_after_marker(smtpfake_session):
            assert smtpfake_session.scenario_name == "default"
            send(smtpfake_session)

        @pytest.mark.parametrize("smtpfake", ["421-at-greeting"], indirect=True)
        def test_indirect(smtpfake):
            assert smtpfake.scenario_name == "421-at-greeting"

        def test_after_indirect(smtpfake_session):
            assert smtpfake_session.scenario_name == "default"

        def test_use_inside(smtpfake):
            smtpfake.use("slow-greeting", params={"delay": 0.01})

        def test_after_use(smtpfake_session):
            assert smtpfake_session.scenario_name == "default"
            send(smtpfake_session)
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=6)


def test_fixed_port_flag_and_ini(pytester: pytest.Pytester) -> None:
    port = free_ports(1)
    pytester.makepyfile(f"def test_p(smtpfake):\n    assert smtpfake.port == {port}\n")
    flag = pytester.runpytest("-p", "no:cacheprovider", f"--smtpfake-port={port}")
    flag.assert_outcomes(passed=1)
    flag.stdout.fnmatch_lines([f"smtpfake: * port={port} *"])
    pytester.makeini(f"[pytest]\nsmtpfake_port = {port}\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--smtpfake-seed", "x"],
            "smtpfake: --smtpfake-seed (ini smtpfake_seed): expected an integer, got 'x'",
        ),
        (
            # the range a scenario's seed: and serve --seed take
            ["--smtpfake-seed", "-1"],
            "smtpfake: --smtpfake-seed (ini smtpfake_seed): must be at least 0, got -1",
        ),
        (
            # a Maildir that cannot be made: one line, not an INTERNALERROR traceback
            ["--smtpfake-delivery", "maildir:no-such-dir/mail"],
            "smtpfake: --smtpfake-delivery (ini smtpfake_delivery): cannot use the Maildir "
            "'no-such-dir/mail': *No such file or directory*",
        ),
        (
            ["--smtpfake-port", "70000"],
            "smtpfake: --smtpfake-port (ini smtpfake_port): 70000 is not a port (0-65535)",
        ),
        (
            ["--smtpfake-scenario", "421-at-greting"],
            "smtpfake: --smtpfake-scenario (ini smtpfake_scenario): *did you mean '421-at-gree*",
        ),
        (
            ["--smtpfake-remote", "ftp://x"],
            "smtpfake: --smtpfake-remote (ini smtpfake_remote): expected the sidecar's API URL*",
        ),
        (
            ["--smtpfake-scenario-dir", "no-such-dir"],
            "smtpfake: --smtpfake-scenario-dir (ini smtpfake_scenario_dirs): "
            "'no-such-dir' is not a directory",
        ),
        (
            ["--smtpfake-remote-wait", "-3"],
            "smtpfake: --smtpfake-remote-wait (ini smtpfake_remote_wait): "
            "expected seconds from 0 to 3600, got -3",
        ),
        (
            ["--smtpfake-remote-wait", "nan"],
            "smtpfake: --smtpfake-remote-wait (ini smtpfake_remote_wait): "
            "expected seconds from 0 to 3600, got nan",
        ),
        (
            # .invalid never resolves (RFC 2606): no traffic leaves the machine
            ["--smtpfake-host", "nosuch.invalid"],
            "smtpfake: --smtpfake-host/--smtpfake-port (ini smtpfake_host/smtpfake_port): "
            "cannot listen on nosuch.invalid:0: *",
        ),
    ],
)
def test_bad_setting_is_one_usage_error(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    pytester.makepyfile("def test_a(smtpfake):\n    pass\n\ndef test_b(smtpfake):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert result.stderr.str().count("ERROR:") == 1


@pytest.mark.parametrize(
    ("ini", "args", "value"),
    [
        ("5", ["--smtpfake-seed", "-1"], "-1"),
        ("-2", [], "-2"),
        ("-2", ["--smtpfake-seed", "3"], ""),
    ],
)
def test_a_seed_out_of_range_names_its_setting_first(
    pytester: pytest.Pytester, ini: str, args: list[str], value: str
) -> None:
    """With an ini value too (issue 11): the setting first, as every other setting's error
    says it; it was ``--smtpfake-seed: must be at least 0, got -1 (ini smtpfake_seed)``. The
    flag wins over the ini key: a good flag hides a bad ini value."""
    pytester.makeini(f"[pytest]\nsmtpfake_seed = {ini}\n")
    pytester.makepyfile("def test_a(smtpfake):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    if not value:
        result.assert_outcomes(passed=1)
        return
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == (
        f"ERROR: smtpfake: --smtpfake-seed (ini smtpfake_seed): must be at least 0, got {value}"
    )


def test_help_shows_defaults_in_words(pytester: pytest.Pytester) -> None:
    # argparse wraps help to the terminal's width: read it with the wrapping undone
    out = " ".join(pytester.runpytest("--help").stdout.str().split())
    assert "default default" not in out and "default: the built-in 'default'" in out
    assert "--smtpfake-port" in out


def test_header_without_seed_says_per_scenario(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        ["smtpfake: scenario=default host=127.0.0.1 port=free loop=* seed=per scenario"]
    )
    assert "seed= " not in result.stdout.str()


def test_marker_typo_reported_once_without_a_made_up_position(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.smtpfake(scenario="421-at-greting")
        def test_typo(smtpfake):
            pass
        """
    )
    # -rN: the short summary repeats the message when the terminal is wide enough
    # (COLUMNS differs between machines); what is counted is the error report itself.
    result = pytester.runpytest("-p", "no:cacheprovider", "-rN")
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert out.count("no scenario named '421-at-greting'") == 1
    assert "421-at-greting:1:1" not in out
    # at the marker that named it (the decorator's line)
    result.stdout.fnmatch_lines(
        [
            "test_marker_typo_reported_once_without_a_made_up_position.py:2: "
            """@pytest.mark.smtpfake(scenario="421-at-greting"): no scenario named """
            "'421-at-greting'; did "
            "you mean '421-at-greeting'? (`smtpfake list` names all *)"
        ]
    )


def test_non_integer_marker_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.smtpfake(seed="x")
        def test_seed(smtpfake):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(['*@pytest.mark.smtpfake(seed="x"): the seed must be an integer*'])
    assert "ValueError" not in result.stdout.str()


def test_dict_parameters_get_readable_ids(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        FULL = {"rules": [{"on": "rcpt", "reply": "452 4.2.2 full"}]}
        NAMED = {"name": "greylist", "rules": [{"on": "rcpt", "reply": "451 later"}]}
        # the YAML's other spellings: a list of stages, a reply as a mapping (the id was
        # "['mail', 'rcpt']-{'code':", cut at the first space of a dict's repr)
        SPELT = {"rules": [{"on": ["mail", "rcpt"], "reply": {"code": 451, "text": "x"}}]}

        @pytest.mark.parametrize("smtpfake", [FULL, NAMED, SPELT, "default"], indirect=True)
        def test_ids(smtpfake):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*test_ids[[]rcpt-452[]] PASSED*",
            "*test_ids[[]greylist[]] PASSED*",
            "*test_ids[[]mail,rcpt-451[]] PASSED*",
            "*test_ids[[]default[]] PASSED*",
        ]
    )


def test_marker_without_the_fixture_warns(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.smtpfake(scenario="421-at-greeting")
        def test_forgot():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*SmtpfakeWarning: @pytest.mark.smtpfake has no effect*"])


def test_a_stray_marker_under_W_error_fails_that_test_alone(pytester: pytest.Pytester) -> None:
    # warned at collection it was an INTERNALERROR ending the run; and a test that takes the
    # fixture by getfixturevalue does use the marker: no warning for it
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.smtpfake(scenario="421-at-greeting")
        def test_forgot():
            pass

        @pytest.mark.smtpfake(scenario="greylisting")
        def test_dynamic(request):
            assert request.getfixturevalue("smtpfake").scenario_name == "greylisting"

        def test_other():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "error::pytest.PytestWarning")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_forgot*",
            "E *SmtpfakeWarning: @pytest.mark.smtpfake has no effect*",
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str()


def test_inline_dict_errors_name_the_key_path(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_bad(smtpfake):
            smtpfake.use({"rules": [{"on": "rcpt", "reply": "45x nope"}]})

        import pytest
        BAD = {"rules": [{"on": "rcpt", "rply": "452 x"}]}
        @pytest.mark.parametrize("smtpfake", [BAD], indirect=True)
        def test_bad_param(smtpfake):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, errors=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        ["*cannot load scenario (inline dict): rules[[]1[]]: unknown key 'rply'; did you mean*"]
    )
    assert "<inline>:" not in out
    result.stdout.fnmatch_lines(["*ScenarioError: rules[[]1[]].reply: a reply starts with its*"])


def test_a_taken_port_is_one_usage_error(pytester: pytest.Pytester) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        pytester.makepyfile("def test_a(smtpfake):\n    pass\n")
        result = pytester.runpytest("-p", "no:cacheprovider", f"--smtpfake-port={port}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: smtpfake: --smtpfake-host/--smtpfake-port *cannot listen on 127.0.0.1:{port}*"]
    )


def test_a_workers_taken_port_is_one_usage_error_from_the_main_process(
    pytester: pytest.Pytester,
) -> None:
    # under pytest-xdist worker gw1 listens on N+1: the main process checks it before any worker
    # starts, where a UsageError would crash the worker with a traceback and the run go on
    pytest.importorskip("xdist")
    # the worker's port taken, the main process's free: the error must name the worker's
    second = free_ports(2) + 1
    with socket.create_server(("127.0.0.1", second)):
        pytester.makepyfile("def test_a(smtpfake):\n    pass\n")
        result = pytester.runpytest(
            "-p", "no:cacheprovider", "-n", "2", f"--smtpfake-port={second - 1}"
        )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: smtpfake: --smtpfake-host/--smtpfake-port (ini smtpfake_host/smtpfake_port): "
            f"cannot listen on 127.0.0.1:{second}: * (under pytest-xdist worker gw1 listens on "
            f"{second - 1}+1)"
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_the_header_says_when_a_conftest_overrides_the_settings(pytester: pytest.Pytester) -> None:
    """The header showed the flags' scenario and seed as if in force, while the conftest's
    Settings (the README's "set them in code") decided."""
    pytester.makeconftest(
        """
        import pytest
        from smtpfake.pytest_plugin import Settings

        @pytest.fixture(scope="session")
        def smtpfake_settings():
            return Settings(scenario="strict-503-ordering", seed=5)
        """
    )
    pytester.makepyfile(
        "def test_a(smtpfake):\n    assert smtpfake.scenario_name == 'strict-503-ordering'\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "smtpfake: scenario=strict-503-ordering * seed=5 "
            "(in force: smtpfake_settings in conftest.py)"
        ]
    )


def test_a_pooled_connection_ended_by_the_reset_is_in_the_tests_record(
    pytester: pytest.Pytester,
) -> None:
    # an app's connection pool, opened once on the session server, meets each test's reset
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        @pytest.fixture(scope="module")
        def pooled(smtpfake_session):
            client = smtplib.SMTP(smtpfake_session.host, smtpfake_session.port, timeout=5)
            client.ehlo("pool.test")
            yield client
            client.close()

        def test_the_reset_said_421_and_the_record_shows_it(pooled, smtpfake):
            assert pooled.noop()[0] == 421  # waiting in its socket since the reset
            (dropped,) = smtpfake.sessions
            assert [e.text for e in dropped.transcript] == [
                "421 4.3.2 smtpfake.test Service not available, closing transmission channel",
                "(connection closed: server reset)",
            ]
            assert dropped.violations == ()
            smtpfake.assert_no_violations()
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
