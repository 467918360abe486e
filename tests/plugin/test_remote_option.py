"""``--smtpfake-remote URL``: the same test file runs unchanged against a sidecar."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smtpfake.http import ApiServer
from smtpfake.scenario import scenario_files
from smtpfake.server import Server
from tests.support.ports import free_ports
from tests.support.sidecar import own_sidecar

pytest_plugins = ["pytester"]

SUITE = """
import smtplib
import pytest

def test_delivers(smtpfake):
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
        c.sendmail("a@x.test", ["b@y.test"], b"Subject: remote\\r\\n\\r\\nbody\\r\\n")
    (m,) = smtpfake.wait_for_messages(1)
    assert (m.mail_from, m.rcpt_tos, m.message["Subject"]) == ("a@x.test", ("b@y.test",), "remote")
    smtpfake.wait_for_sessions(1)
    smtpfake.assert_no_violations()

def test_isolated(smtpfake):
    assert list(smtpfake.messages) == [] and list(smtpfake.sessions) == []

@pytest.mark.smtpfake(scenario="421-at-greeting")
def test_marker(smtpfake):
    with pytest.raises(smtplib.SMTPConnectError):
        smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5)

def test_inline(smtpfake):
    smtpfake.use({"rules": [{"on": "mail", "reply": "451 4.3.0 later"}]})
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
        c.ehlo()
        assert c.mail("a@x.test")[0] == 451
"""


@pytest.fixture
def sidecar() -> Iterator[tuple[Server, ApiServer]]:
    with own_sidecar() as api:
        yield api.server, api


def test_same_suite_in_process_and_against_a_sidecar(
    pytester: pytest.Pytester, sidecar: tuple[Server, ApiServer]
) -> None:
    server, api = sidecar
    pytester.makepyfile(test_suite=SUITE)
    local = pytester.runpytest("-p", "no:cacheprovider")
    local.assert_outcomes(passed=4)
    remote = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-remote", api.url)
    remote.assert_outcomes(passed=4)
    remote.stdout.fnmatch_lines([f"smtpfake: scenario=default remote={api.url} *"])
    # the remote run really went to the sidecar, on a server of its own made on demand (and
    # deleted at the end), so the sidecar's own server saw none of it
    assert (api.fleet.made, list(api.fleet.instances)) == (1, ["main"])
    assert server.sessions == ()


def test_smtpfake_server_against_a_sidecar_fails_in_one_line(
    pytester: pytest.Pytester, sidecar: tuple[Server, ApiServer]
) -> None:
    _, api = sidecar
    pytester.makepyfile(
        test_suite="def test_x(smtpfake_server):\n    pass\n\ndef test_y(smtpfake):\n    pass\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-remote", api.url)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*smtpfake_server is the in-process Server, and --smtpfake-remote*"]
    )
    assert "def smtpfake_server" not in result.stdout.str()


def test_unreachable_sidecar_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite="def test_x(smtpfake):\n    pass\n")
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--smtpfake-remote",
        "http://127.0.0.1:9",
        "--smtpfake-remote-wait",
        "0.3",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    # one line naming the setting, no traceback, before any test ran
    result.stderr.fnmatch_lines(
        ["ERROR: smtpfake: --smtpfake-remote http://127.0.0.1:9: cannot reach*(waited 0.3s*"]
    )
    assert "Traceback" not in result.stderr.str() and "test_x" not in result.stdout.str()


@pytest.mark.parametrize(
    ("flag", "value"), [("--smtpfake-remote-token", "abc"), ("--smtpfake-remote-wait", "3")]
)
def test_a_sidecar_setting_without_a_sidecar_is_a_usage_error(
    pytester: pytest.Pytester, flag: str, value: str
) -> None:
    """It was silently ignored, and the run went in-process unawares (fresh15)."""
    pytester.makepyfile(test_suite="def test_x(smtpfake):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", flag, value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    key = flag.removeprefix("--").replace("-", "_")
    result.stderr.fnmatch_lines([f"ERROR: smtpfake: {flag} (ini {key}): needs --smtpfake-remote"])


def test_start_up_waits_for_a_sidecar_still_starting(pytester: pytest.Pytester) -> None:
    import threading

    port = free_ports(1)
    server = Server("default")
    api = ApiServer(server, port=port)

    def start_late() -> None:
        api.start()  # the API answers 503 until SMTP listens
        server.start()

    late = threading.Timer(0.5, start_late)
    late.start()
    try:
        pytester.makepyfile(test_suite="def test_x(smtpfake):\n    assert smtpfake.port > 0\n")
        result = pytester.runpytest(
            "-p", "no:cacheprovider", "--smtpfake-remote", api.url, "--smtpfake-remote-wait", "20"
        )
        result.assert_outcomes(passed=1)
    finally:
        late.join()
        api.stop()
        server.stop()


@pytest.mark.parametrize("given", [[], ["--smtpfake-remote-token", "wrong"]])
def test_a_missing_or_wrong_token_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, given: list[str]
) -> None:
    # /api/health needs no token, so start-up also makes a call that does
    monkeypatch.delenv("SMTPFAKE_API_TOKEN", raising=False)
    with own_sidecar(token="right") as api:
        pytester.makepyfile(test_suite="def test_x(smtpfake):\n    pass\n")
        result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-remote", api.url, *given)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            [f"ERROR: smtpfake: --smtpfake-remote-token: {api.url} refused it: *401*token*"]
        )
        assert "Traceback" not in result.stderr.str() and "test_x" not in result.stdout.str()
        right = pytester.runpytest(
            "-p", "no:cacheprovider", "--smtpfake-remote", api.url,
            "--smtpfake-remote-token", "right",
        )  # fmt: skip
        right.assert_outcomes(passed=1)


def test_a_token_from_a_secret_file_works_and_one_no_header_can_carry_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token read from a secret file ends in a newline: pytest stopped with 64 lines of
    INTERNALERROR (http.client's "Invalid header value"); the surrounding whitespace is
    dropped, as serve drops it, and a token with a space inside is one usage error (fresh15
    F4)."""
    with own_sidecar(token="right") as api:
        pytester.makepyfile(test_suite="def test_x(smtpfake):\n    pass\n")
        monkeypatch.setenv("SMTPFAKE_API_TOKEN", "right\n")
        result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-remote", api.url)
        result.assert_outcomes(passed=1)
        monkeypatch.setenv("SMTPFAKE_API_TOKEN", "ri ght")
        result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-remote", api.url)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            ["ERROR: smtpfake: SMTPFAKE_API_TOKEN: the token holds U+0020 ' ': *RFC 6750*"]
        )
        monkeypatch.delenv("SMTPFAKE_API_TOKEN")
        result = pytester.runpytest(
            "-p", "no:cacheprovider", "--smtpfake-remote", api.url,
            "--smtpfake-remote-token", "right\x01",
        )  # fmt: skip
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            ["ERROR: smtpfake: --smtpfake-remote-token (ini smtpfake_remote_token): *U+0001*"]
        )
        assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_a_misspelt_scenario_against_a_sidecar_is_one_usage_error(
    pytester: pytest.Pytester, sidecar: tuple[Server, ApiServer]
) -> None:
    # checked against the sidecar's own library once at start-up: no error in every test, no
    # server made on the sidecar, nothing sent to its shared server
    server, api = sidecar
    pytester.makepyfile(
        test_suite="def test_x(smtpfake):\n    pass\ndef test_y(smtpfake):\n    pass\n"
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--smtpfake-remote", api.url,
        "--smtpfake-scenario", "421-at-greting",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: smtpfake: --smtpfake-scenario (ini smtpfake_scenario): the sidecar at "
            f"{api.url} has no scenario named '421-at-greting'; did you mean '421-at-greeting'? "
            # the sidecar's own list, as `smtpfake list` is pointed at in-process
            f"(`GET {api.url.rstrip('/')}/api/scenarios` names all {len(scenario_files())})"
        ]
    )
    err = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in err and err.count("421-at-greting") == 1
    assert (api.fleet.made, server.sessions) == (0, ())


def test_a_sidecar_scenario_name_is_accepted_and_a_bad_local_file_refused(
    pytester: pytest.Pytester, sidecar: tuple[Server, ApiServer]
) -> None:
    _, api = sidecar
    pytester.makepyfile(test_suite="def test_x(smtpfake):\n    pass\n")
    ok = pytester.runpytest(
        "-p", "no:cacheprovider", "--smtpfake-remote", api.url,
        "--smtpfake-scenario", "421-at-greeting",
    )  # fmt: skip
    ok.assert_outcomes(passed=1)
    bad = pytester.makefile(".yaml", broken="rules:\n  - on: rcpt\n    reply: 99 nope\n")
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--smtpfake-remote", api.url,
        "--smtpfake-scenario", str(bad),
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: smtpfake: --smtpfake-scenario (ini smtpfake_scenario): ",
            f"{bad}:3:12: rules?1?.reply: reply code*",
        ]
    )


SCENARIO_SUITE = """
import pytest


@pytest.mark.smtpfake("greylisting", params={"delay": 7})
def test_scenario(smtpfake):
    described = smtpfake.scenario
    assert described["name"] == smtpfake.scenario_name == "greylisting"
    assert [p["value"] for p in described["params"] if p["name"] == "delay"] == [7]
    assert described["smtp"] == {"host": smtpfake.host, "port": smtpfake.port}
    assert [r["label"] for r in described["rules"]] and described["show"]
    assert smtpfake.scenario() == described  # the older method's spelling still reads
    with open("keys.txt", "a") as keys:
        keys.write(f"{sorted(described)}\\n")
"""


def test_the_fixtures_scenario_is_the_same_in_process_and_against_a_sidecar(
    pytester: pytest.Pytester, sidecar: tuple[Server, ApiServer]
) -> None:
    _, api = sidecar
    pytester.makepyfile(test_scenario=SCENARIO_SUITE)
    for remote in ([], ["--smtpfake-remote", api.url]):
        pytester.runpytest("-p", "no:cacheprovider", *remote).assert_outcomes(passed=1)
    local, remote = (pytester.path / "keys.txt").read_text().splitlines()
    assert local == remote


def test_a_sidecar_gone_between_the_reset_and_the_use_is_one_line(
    pytester: pytest.Pytester,
) -> None:
    """The fixture's setup resets its server, then plays the test's scenario: a sidecar that
    went between the two was a 280-line chained traceback (fresh15 F6), where one gone before
    the reset is one line. The conftest makes the first use() find it gone."""
    pytester.makeconftest(
        """
from smtpfake.remote import RemoteSmtpFake, SidecarUnreachable

real = RemoteSmtpFake.use
calls = []

def use(self, *args, **kwargs):
    calls.append(1)
    if len(calls) == 1:  # the first test's setup
        raise SidecarUnreachable(self.url, ConnectionRefusedError(111, "Connection refused"))
    return real(self, *args, **kwargs)

def pytest_configure(config):
    RemoteSmtpFake.use = use

def pytest_unconfigure(config):
    RemoteSmtpFake.use = real
"""
    )
    pytester.makepyfile(test_suite="def test_x(smtpfake):\n    pass\n")
    with own_sidecar() as api:
        result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-remote", api.url)
    out = result.stdout.str()
    assert "Traceback" not in out and "SidecarUnreachable" not in out, out[-3000:]
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"smtpfake: --smtpfake-remote {api.url}: cannot reach the sidecar: *refused*"]
    )


def test_a_wait_that_times_out_says_the_same_both_ways_with_the_transcript_once(
    pytester: pytest.Pytester, sidecar: tuple[Server, ApiServer]
) -> None:
    """Against a sidecar the TimeoutError carried the transcript, which the report's section
    prints too (twice), and its words were the sidecar's own (fresh15 F5)."""
    _, api = sidecar
    pytester.makepyfile(
        test_waits="""
import smtplib

def _send(smtpfake):
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as s:
        s.sendmail("a@example.test", ["b@example.test"], b"Subject: once\\r\\n\\r\\nx\\r\\n")

def test_messages(smtpfake):
    _send(smtpfake)
    smtpfake.wait_for_messages(2, timeout=0.5)

def test_sessions(smtpfake):
    _send(smtpfake)
    smtpfake.wait_for_sessions(2, timeout=0.5)
"""
    )
    said = []
    for extra in ([], ["--smtpfake-remote", api.url]):
        result = pytester.runpytest("-p", "no:cacheprovider", *extra)
        result.assert_outcomes(failed=2)
        out = result.stdout.str()
        assert out.count("S: 220 ") == 2, out  # one transcript a failing test: its section's
        said.append([line[1:].strip() for line in result.stdout.lines if line.startswith("E ")])
    assert said[0] == said[1]
    assert said[0] == [
        "TimeoutError: waited 0.5s for 2 message(s), got 1",
        "TimeoutError: waited 0.5s for 2 finished session(s), got 1",
    ]
