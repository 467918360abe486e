"""The ``smtpfake`` command as people use it: real processes, exit codes, what they print."""

from __future__ import annotations

import json
import re
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smtpfake.scenario import scenario_files

from ..support.ports import free_ports

PROBLEM = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")


def smtpfake(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpfake", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_list_shows_every_built_in_with_its_summary() -> None:
    done = smtpfake("list")
    assert done.returncode == 0, done.stderr
    listed = dict(line.split(None, 1) for line in done.stdout.splitlines())
    assert set(listed) == set(scenario_files())
    assert listed["421-at-greeting-once"].startswith("The first connection is greeted with 421")


def test_list_adds_a_scenario_directory(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("summary: My own.\nexpect: Nothing special.\n")
    done = smtpfake("list", "--scenario-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert re.search(r"^mine\s+My own\.$", done.stdout, re.M)


def test_validate_accepts_valid_files() -> None:
    files = [str(p) for p in sorted(scenario_files().values())]
    done = smtpfake("validate", *files)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": ok") == len(files)


def test_validate_reports_every_problem_at_file_line_col_without_a_traceback(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "summary: s\n"
        "expect: e\n"
        "rules:\n"
        "  - on: rcp\n"  # line 4: unknown stage
        "    reply: 421 5.3.2 wrong class\n"  # line 5: enhanced class disagrees
        "  - on: mail\n"
        "    repyl: 250 ok\n"  # line 7: misspelt fault
    )
    good = tmp_path / "good.yaml"
    good.write_text("summary: s\nexpect: e\n")
    done = smtpfake("validate", str(good), str(bad))
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    problems = [PROBLEM.match(line) for line in done.stdout.splitlines() if "bad.yaml" in line]
    assert all(problems), done.stdout
    where = [(m["line"], m["col"]) for m in problems if m]
    assert where == [("4", "9"), ("5", "12"), ("7", "5")], done.stdout
    assert "did you mean 'rcpt'" in done.stdout and "did you mean 'reply'" in done.stdout
    assert f"{good}: ok" in done.stdout


def test_validate_a_missing_file_is_a_clear_problem(tmp_path: Path) -> None:
    done = smtpfake("validate", str(tmp_path / "nope.yaml"))
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    # no line:col: nothing in the file was read (serve --scenario and the plugin say the same)
    assert done.stdout == f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory\n"


def test_explain_puts_421_and_503_side_by_side() -> None:
    done = smtpfake("explain", "421", "503")
    assert done.returncode == 0, done.stderr
    name_row = next(line for line in done.stdout.splitlines() if line.startswith("Name"))
    assert "Service not available" in name_row and "Bad sequence of commands" in name_row
    assert "421 is transient" in done.stdout and "503 is permanent" in done.stdout


def test_explain_rejects_what_is_not_a_reply_code() -> None:
    done = smtpfake("explain", "42")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "'42'" in done.stderr


def test_show_prints_a_scenarios_rules() -> None:
    done = smtpfake("show", "421-mid-session")
    assert done.returncode == 0, done.stderr
    assert "expect:" in done.stdout and "rule 1 (on rcpt)" in done.stdout


def test_serve_plays_default_and_exits_0_on_sigint_within_a_second() -> None:
    port = free_ports(1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpfake", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until it listens (or the process dies)
        assert f"listening on 127.0.0.1:{port}" in first and "'default'" in first, first
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            assert smtp.ehlo()[0] == 250 and smtp.has_extn("pipelining")
            assert smtp.sendmail("a@x.test", ["b@y.test"], b"Subject: hi\r\n\r\nx\r\n") == {}
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - start < 1.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def test_serve_with_a_bad_scenario_exits_non_zero_with_the_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("summary: s\nexpect: e\nrules:\n  - on: helo\n    reply: 621 no\n")
    done = smtpfake("serve", "--scenario", str(bad), "--port", str(free_ports(1)), timeout=10)
    assert done.returncode != 0
    assert "Traceback" not in done.stdout + done.stderr
    assert re.search(rf"^{re.escape(str(bad))}:5:12: .*621", done.stderr, re.M), done.stderr


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_version_and_help(args: list[str]) -> None:
    done = smtpfake(*args)
    assert done.returncode == 0
    assert "smtpfake" in done.stdout


def test_serve_json_log_has_time_and_ts_on_every_line_listening_and_stopped_too() -> None:
    port = free_ports(1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpfake", "serve", "--port", str(port), "--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until it listens (or the process dies)
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            assert smtp.noop()[0] == 250
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    events = [json.loads(line) for line in [first, *rest.splitlines()]]
    assert [events[0]["event"], events[-1]["event"]] == ["listening", "stopped"]
    for event in events:
        assert event["time"].endswith("Z") and isinstance(event["ts"], float), event


def test_list_into_a_pipe_closed_early_exits_quietly() -> None:
    # `smtpfake list | head -1`: head closes the pipe after one line
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpfake", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        bufsize=0,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before it writes: every write hits a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=30) != 0
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_show_prints_each_rules_conditions_and_faults_and_the_server_settings() -> None:
    done = smtpfake("show", "greylisting")
    assert done.returncode == 0, done.stderr
    assert "greylisted: on rcpt, per client+sender+recipient, within 300" in done.stdout
    assert "reply 451 4.7.1 Greylisted" in done.stdout
    done = smtpfake("show", "strict-503-ordering")
    assert done.returncode == 0, done.stderr
    assert "require_helo: true" in done.stdout


def test_show_writes_a_raw_reply_with_a_bare_line_ending_on_its_rules_one_line(
    tmp_path: Path,
) -> None:
    """A ``raw`` reply holding LF or CR (the rules that test bare line endings) is shown
    double-quoted with escapes: PyYAML folded it over several lines, breaking "one line per
    rule" (fresh14 N1)."""
    scenario = tmp_path / "endings.yaml"
    scenario.write_text(
        "summary: x\nexpect: x\nrules:\n"
        ' - {on: noop, raw: "250 lf\\n"}\n'
        ' - {on: rset, raw: "250 a\\r\\n"}\n'
        ' - {on: vrfy, raw: "250-a\\n250 b\\r"}\n'
    )
    done = smtpfake("show", str(scenario))
    assert done.returncode == 0, done.stderr
    rules = done.stdout[done.stdout.index("  rule 1") :].splitlines()
    assert rules == [
        '  rule 1 (on noop): on noop: raw {data: "250 lf\\n"}',
        '  rule 2 (on rset): on rset: raw {data: "250 a\\r\\n"}',
        '  rule 3 (on vrfy): on vrfy: raw {data: "250-a\\n250 b\\r"}',
    ]


def test_explain_enhanced_codes_and_chinese() -> None:
    done = smtpfake("explain", "5.7.1", "4.7.1")
    assert done.returncode == 0, done.stderr
    assert "Key difference: 4.7.1 is transient (4.X.X)" in done.stdout
    zh = smtpfake("explain", "--lang", "zh", "421", "503")
    assert zh.returncode == 0, zh.stderr
    assert "主要区别" in zh.stdout and "何时使用哪个" in zh.stdout
    bad = smtpfake("explain", "6.1.1")
    assert bad.returncode == 2 and "is not an enhanced status code" in bad.stderr


def test_explain_refuses_an_enhanced_code_with_a_leading_zero() -> None:
    done = smtpfake("explain", "4.04.1")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "smtpfake explain: error: '4.04.1' is not an enhanced status code: its sub-codes must "
        "be written without leading zeros (RFC 3463 §2); did you mean 4.4.1?\n"
        "For more information, try 'smtpfake explain --help'.\n"
    )


def test_the_loop_choices_are_the_wires() -> None:
    from smtpfake import cli
    from smtpfake.wire import loops

    assert cli.LOOP_CHOICES == loops.CHOICES
