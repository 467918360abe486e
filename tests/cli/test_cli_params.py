"""Scenario parameters from the command line: ``list`` and ``show`` print them, ``--param`` sets
them, and a name or value the scenario does not take is a usage error of the option."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smtpfake import cli, cli_parser
from smtpfake.server import Server

from ..support.ports import free_ports
from .test_cli import smtpfake

#: what a duration is, in every error about one (a flag's, an environment variable's)
DURATION_IS = "seconds, or a duration with its unit (250ms, 30s, 5m, 1h)"


def test_list_prints_the_parameters_in_force() -> None:
    done = smtpfake("list")
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("greylisting "))
    assert "300s or more" in line and line.endswith("[params: delay=300]")


def test_show_prints_parameters_and_sets_them() -> None:
    done = smtpfake("show", "rate-limit", "--param", "count=4", "--param", "window=2m")
    assert done.returncode == 0, done.stderr
    assert "  param count = 4 (int, default 10, >= 1): MAIL commands allowed" in done.stdout
    assert "  param window = 120 (duration, default 60, >= 0.001)" in done.stdout
    assert "  param per_connection = 3 (int, >= 1): messages allowed on one connection" in (
        done.stdout
    )
    assert "per-minute limit: on mail, after 4, window 120:" in done.stdout


def test_a_bad_param_is_a_usage_error_of_the_option() -> None:
    """A value the scenario does not take is the command line's mistake, told as the option's
    (two lines, exit 2), not at a place in the scenario's (maybe installed) file."""
    done = smtpfake("show", "greylisting", "--param", "delay=soon")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(
        "smtpfake show: error: --param delay=soon: expected a duration (seconds, or with a unit:"
    ), done.stderr
    assert done.stderr.endswith("\nFor more information, try 'smtpfake show --help'.\n")
    done = smtpfake("show", "greylisting", "--param", "delay=-5")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    # the real problem: the sign, not the form ("expected a duration ... got str '-5'")
    assert re.search(r"--param delay=-5: must be at least [0-9.]+, got -5\n", done.stderr)
    done = smtpfake("serve", "--port", str(free_ports(1)), "--param", "nope=1", timeout=10)
    assert done.returncode == 2 and "default.yaml" not in done.stderr
    assert done.stderr == (
        "smtpfake serve: error: --param nope=1: this scenario declares no parameters named "
        "'nope' (declared: none)\nFor more information, try 'smtpfake serve --help'.\n"
    )
    done = smtpfake("show", "greylisting", "--param", "dealy=5", "--param", "delay=x")
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == (
        "smtpfake show: error: --param dealy=5: this scenario has no parameter named 'dealy'; "
        "did you mean 'delay'? (declared: delay); --param delay=x: expected a duration "
        "(seconds, or with a unit: 250ms, 30s, 5m, 1h), got str 'x'"
    )
    done = smtpfake("serve", "--param", "delay")
    assert done.returncode == 2
    assert "argument --param: expected NAME=VALUE (e.g. delay=5), got 'delay'" in done.stderr


def test_a_param_from_the_environment_is_told_as_the_variables() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "smtpfake", "serve", "--port", str(free_ports(1))],
        capture_output=True,
        text=True,
        timeout=10,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "SMTPFAKE_PARAMS": "nope=1"},
    )
    assert done.returncode == 2
    assert done.stderr.startswith("smtpfake serve: error: SMTPFAKE_PARAMS nope=1: this scenario ")


def test_a_scenario_file_with_its_own_problem_still_says_where(tmp_path: Path) -> None:
    """A problem in the file itself and a bad --param: every problem at file:line:col."""
    path = tmp_path / "mine.yaml"
    path.write_text(
        "summary: Mine.\nexpect: Nothing.\nparams:\n  d: {type: int, default: 1}\n"
        "rules:\n  - {on: mial, delay: '${d}'}\n"
    )
    done = smtpfake("show", str(path), "--param", "d=x")
    assert done.returncode == 2 and "error:" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"{path}:4:3: parameter 'd' set to 'x': expected a whole number")
    assert lines[1].startswith(f"{path}:6:")


@contextlib.contextmanager
def serving(*args: str) -> Iterator[int]:
    """``smtpfake serve`` on a free port, until the block ends; yields the port."""
    port = free_ports(1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpfake", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until it listens (or the process dies)
        assert f"listening on 127.0.0.1:{port}" in first, first
        yield port
    finally:
        proc.terminate()
        proc.communicate(timeout=5)  # waits, and closes the pipes


def test_serve_with_a_param_greylists_for_that_long() -> None:
    # delay=1: the reply said "in 1 seconds"
    with (
        serving("--scenario", "greylisting", "--param", "delay=1") as port,
        smtplib.SMTP("127.0.0.1", port, timeout=5) as client,
    ):
        client.ehlo()
        client.mail("a@x.test")
        assert client.rcpt("b@y.test") == (451, b"4.7.1 Greylisted, please try again in 1s")


def test_params_and_clock_from_the_environment() -> None:
    args = cli_parser.build_parser().parse_args(["serve"])
    # a manual clock moves only through the API: without it, a usage error (test_serve_needs_api)
    env = {
        "SMTPFAKE_PARAMS": "delay=5 count=3",
        "SMTPFAKE_CLOCK": "manual",
        "SMTPFAKE_API_PORT": "0",
    }
    cfg = cli._serve_settings(args, env)
    assert (cfg["params"], cfg["clock"]) == ({"delay": "5", "count": "3"}, "manual")
    flagged = cli_parser.build_parser().parse_args(
        ["serve", "--param", "delay=9", "--clock", "system"]
    )
    cfg = cli._serve_settings(flagged, env)  # a flag wins
    assert (cfg["params"], cfg["clock"]) == ({"delay": "9"}, "system")
    for bad in ({"SMTPFAKE_PARAMS": "delay"}, {"SMTPFAKE_CLOCK": "fast"}):
        with pytest.raises(cli._ConfigError):
            cli._serve_settings(args, bad)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Server]:
    """The Servers ``cli.main(["serve", ...])`` makes, each kept instead of served."""
    seen: list[Server] = []

    async def serve(
        self: Server, stop: asyncio.Event, ready: Callable[[], None] | None = None
    ) -> None:
        seen.append(self)

    monkeypatch.setattr(Server, "serve", serve)
    return seen


def test_serve_with_a_manual_clock(monkeypatch: pytest.MonkeyPatch, served: list[Server]) -> None:
    monkeypatch.delenv("SMTPFAKE_CLOCK", raising=False)
    assert cli.main(["serve", "--port", "0", "--clock", "manual", "--api-port", "0"]) == 0
    (server,) = served
    before = server.now()
    assert server.now() == before  # stands still
    assert server.advance(300) == before + 300


def test_serve_idle_timeout_flag_and_environment(served: list[Server]) -> None:
    args = cli_parser.build_parser().parse_args(["serve", "--idle-timeout", "0.5"])
    assert cli._serve_settings(args, {})["idle_timeout"] == 0.5
    plain = cli_parser.build_parser().parse_args(["serve"])
    assert cli._serve_settings(plain, {})["idle_timeout"] == 300.0
    assert cli._serve_settings(plain, {"SMTPFAKE_IDLE_TIMEOUT": "2.5"})["idle_timeout"] == 2.5
    for bad in ("soon", "0"):
        with pytest.raises(cli._ConfigError, match="SMTPFAKE_IDLE_TIMEOUT"):
            cli._serve_settings(plain, {"SMTPFAKE_IDLE_TIMEOUT": bad})
    # durations as scenarios, --param and the API write them
    assert cli._serve_settings(plain, {"SMTPFAKE_IDLE_TIMEOUT": "5m"})["idle_timeout"] == 300.0
    units = cli_parser.build_parser().parse_args(["serve", "--idle-timeout", "250ms"])
    assert cli._serve_settings(units, {})["idle_timeout"] == 0.25
    assert cli.main(["serve", "--port", "0", "--idle-timeout", "7"]) == 0
    assert served[0].idle_timeout == 7.0


@pytest.mark.parametrize(
    ("flag", "var", "key"),
    [
        ("--grace-period", "SMTPFAKE_GRACE_PERIOD", "grace_period"),
        ("--stop-grace-period", "SMTPFAKE_STOP_GRACE_PERIOD", "stop_grace_period"),
    ],
)
def test_serve_grace_periods_flag_and_environment(
    monkeypatch: pytest.MonkeyPatch, served: list[Server], flag: str, var: str, key: str
) -> None:
    plain = cli_parser.build_parser().parse_args(["serve"])
    assert cli._serve_settings(plain, {})[key] is None  # Server's default
    assert cli._serve_settings(plain, {var: "2.5"})[key] == 2.5
    assert cli._serve_settings(plain, {var: "0"})[key] == 0.0  # 0: close at once
    flagged = cli_parser.build_parser().parse_args(["serve", flag, "0.5"])
    assert cli._serve_settings(flagged, {var: "2.5"})[key] == 0.5  # the flag wins
    for bad in ("soon", "-1", "nan", "1e9"):
        with pytest.raises(cli._ConfigError, match=f"^{flag}/{var}: |^{var}="):
            cli._serve_settings(plain, {var: bad})
    monkeypatch.delenv(var, raising=False)
    assert cli.main(["serve", "--port", "0", flag, "7"]) == 0
    assert cli.main(["serve", "--port", "0"]) == 0
    assert (getattr(served[0], key), getattr(served[1], key)) == (7.0, getattr(Server(), key))


@pytest.mark.parametrize(
    ("given", "said"),
    [
        # what a duration is, as SMTPFAKE_IDLE_TIMEOUT's error says it
        ("inf", f"argument --idle-timeout: expected {DURATION_IS}, got 'inf'"),
        ("5 minutes", f"argument --idle-timeout: expected {DURATION_IS}, got '5 minutes'"),
        # the range Server() holds it to: it was told as a problem of --deliver/SMTPFAKE_DELIVER
        ("90000", "--idle-timeout/SMTPFAKE_IDLE_TIMEOUT: must be at most 86400 seconds, got 90000"),
        ("25h", "--idle-timeout/SMTPFAKE_IDLE_TIMEOUT: must be at most 86400 seconds, got 90000"),
    ],
)
def test_a_bad_idle_timeout_is_one_line_naming_it(given: str, said: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "smtpfake", "serve", "--port", "0", "--idle-timeout", given],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done
    assert done.stderr.splitlines()[0].endswith(said), done.stderr
    assert "DELIVER" not in done.stderr


@pytest.mark.parametrize(
    ("flag", "var"),
    [
        ("--grace-period", "SMTPFAKE_GRACE_PERIOD"),
        ("--stop-grace-period", "SMTPFAKE_STOP_GRACE_PERIOD"),
    ],
)
def test_a_bad_grace_period_says_what_a_duration_is(flag: str, var: str) -> None:
    said = {}
    for how, args, env in (("flag", [flag, "2d"], {}), ("variable", [], {var: "2d"})):
        done = subprocess.run(
            [sys.executable, "-m", "smtpfake", "serve", "--port", "0", *args],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin", **env},
        )
        assert done.returncode == 2, done
        assert "Traceback" not in done.stderr, done.stderr
        said[how] = done.stderr.splitlines()[0]
    assert said["flag"].endswith(f"argument {flag}: expected {DURATION_IS}, got '2d'"), said
    flag_is = f"(the environment's {flag})"
    assert said["variable"].endswith(f"{var}='2d' {flag_is}: expected {DURATION_IS}"), said


def test_serve_idle_timeout_with_a_unit_on_the_wire() -> None:
    with (
        serving("--idle-timeout", "250ms") as port,
        smtplib.SMTP("127.0.0.1", port, timeout=5) as client,
    ):
        assert client.ehlo()[0] == 250
        time.sleep(0.5)  # longer than 250 ms: the server closed the silent connection
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()


def test_serve_silent_idle_drop_on_the_wire() -> None:
    with (
        serving("--scenario", "silent-idle-drop", "--param", "seconds=0.2") as port,
        smtplib.SMTP("127.0.0.1", port, timeout=5) as client,
    ):
        assert client.ehlo()[0] == 250
        time.sleep(0.4)  # longer than the idle time: the server drops the connection
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()
