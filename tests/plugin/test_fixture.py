"""The pytest plugin, tested the way users meet it: pytester runs real test files."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_fixture_marker_parametrize_and_use(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        def test_default_accepts(smtpfake):
            assert smtpfake.host == "127.0.0.1" and smtpfake.port > 0
            with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
                body = b"Subject: hi\\r\\n\\r\\nbody\\r\\n"
                c.sendmail("a@x.test", ["b@y.test", "c@y.test"], body)
            m = smtpfake.wait_for_messages(1)[0]
            assert m.mail_from == "a@x.test"
            assert m.rcpt_tos == ("b@y.test", "c@y.test")
            assert m.data == b"Subject: hi\\r\\n\\r\\nbody\\r\\n"
            assert m.message["Subject"] == "hi"
            smtpfake.wait_for_sessions(1)
            smtpfake.assert_no_violations()

        def test_nothing_leaks(smtpfake):
            assert smtpfake.messages == () and smtpfake.sessions == ()
            assert smtpfake.scenario_name == "default"

        @pytest.mark.smtpfake(scenario="421-at-greeting")
        def test_marker(smtpfake):
            with pytest.raises(smtplib.SMTPConnectError) as info:
                smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5)
            assert info.value.smtp_code == 421

        @pytest.mark.parametrize("smtpfake", ["421-at-greeting", "421-mid-session"], indirect=True)
        def test_indirect(smtpfake):
            with pytest.raises((smtplib.SMTPException, OSError)):
                with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
                    c.sendmail("a@x.test", ["b@y.test"], b"x\\r\\n")
            assert smtpfake.messages == ()

        def test_use_inside(smtpfake):
            smtpfake.use({"rules": [{"on": "mail", "reply": "451 4.3.0 try later"}]})
            with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
                c.ehlo()
                assert c.mail("a@x.test")[0] == 451

        def test_counters_restart(smtpfake):
            smtpfake.use("421-at-greeting-once")
            with pytest.raises(smtplib.SMTPConnectError):
                smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5)
        """
    )
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)


def test_markers_on_module_class_and_function_combine(pytester: pytest.Pytester) -> None:
    """Each keyword comes from the closest marker that gives it: a function's seed= or params=
    keeps its module's scenario (the closest marker alone dropped it: the test played
    'default' with no word said)."""
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        pytestmark = pytest.mark.smtpfake("greylisting", params={"delay": 5})

        def rcpt(fake):
            with smtplib.SMTP(fake.host, fake.port, timeout=5) as smtp:
                smtp.ehlo()
                smtp.mail("a@example.test")
                return smtp.rcpt("b@example.test")[0]

        @pytest.mark.smtpfake(seed=3)
        def test_seed_keeps_the_modules_scenario_and_params(smtpfake):
            assert rcpt(smtpfake) == 451
            smtpfake.advance(5)
            assert rcpt(smtpfake) == 250

        @pytest.mark.smtpfake(params={"delay": 60})
        def test_params_of_the_function_win(smtpfake):
            assert rcpt(smtpfake) == 451
            smtpfake.advance(5)
            assert rcpt(smtpfake) == 451

        class TestOwn:
            pytestmark = pytest.mark.smtpfake(scenario="default")

            def test_a_class_scenario_wins(self, smtpfake):
                assert rcpt(smtpfake) == 250
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_async_test_with_aiosmtplib(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import aiosmtplib
        import pytest

        @pytest.mark.asyncio
        async def test_send(smtpfake):
            await aiosmtplib.send(
                "Subject: async\\r\\n\\r\\nhello\\r\\n",
                sender="a@x.test", recipients=["b@y.test"],
                hostname=smtpfake.host, port=smtpfake.port, timeout=5,
            )
            assert smtpfake.wait_for_messages(1)[0].message["Subject"] == "async"

        @pytest.mark.asyncio
        @pytest.mark.smtpfake(scenario="421-at-greeting")
        async def test_421(smtpfake):
            with pytest.raises(aiosmtplib.SMTPConnectError):
                client = aiosmtplib.SMTP(hostname=smtpfake.host, port=smtpfake.port, timeout=5)
                await client.connect()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_options_ini_cli_and_header(pytester: pytest.Pytester) -> None:
    scen = pytester.mkdir("myscenarios")
    (scen / "mine.yaml").write_text(
        "summary: mine\nexpect: x\nrules:\n  - on: helo\n    reply: 554 go away\n"
    )
    pytester.makeini("[pytest]\nsmtpfake_scenario_dirs = myscenarios\nsmtpfake_seed = 7\n")
    pytester.makepyfile(
        """
        import smtplib, pytest

        @pytest.mark.smtpfake(scenario="mine")
        def test_dir_scenario(smtpfake):
            with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
                assert c.helo("me")[0] == 554
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-scenario", "default")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "smtpfake: scenario=default host=127.0.0.1 port=free loop=* seed=7 "
            "scenario_dirs=*myscenarios"
        ]
    )
    bad = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-seed", "x")
    assert bad.ret != 0


def test_failure_report_has_transcript(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib
        def test_fails(smtpfake):
            with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
                c.noop()
            assert False, "client under test got it wrong"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*smtpfake transcript (default, 127.0.0.1:*)*", "*C: noop*", "*S: 250 2.0.0 Ok*"]
    )


def test_server_side_error_reaches_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib
        from smtpfake.scenario.faults import reply

        def test_bug(smtpfake, monkeypatch):
            def boom(self, plan, ctx):
                raise RuntimeError("bug inside smtpfake")
            monkeypatch.setattr(reply.ReplyWith, "apply", boom)
            smtpfake.use({"rules": [{"on": "noop", "reply": "250 fine"}]})
            with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
                code, _ = c.noop()
            assert code == 451
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*RuntimeError: bug inside smtpfake*"])
