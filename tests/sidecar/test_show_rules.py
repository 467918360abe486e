"""``smtpfake show NAME --remote URL`` and ``--journal FILE``: each rule's hits and near misses
over the sessions a real sidecar recorded, in the words of a failing test's report."""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from smtpfake.remote import RemoteSmtpFake
from smtpfake.serialize import session_to_json

from .conftest import REPO, TIMEOUT, Sidecar, call

SCENARIO = """\
summary: hits and near misses
expect: n/a
rules:
  - name: second mail
    on: mail
    nth: 2
    reply: 451 4.7.1 second mail
  - name: greylisted
    on: rcpt
    first: 1
    reply: 451 4.7.1 greylisted
"""


def _show(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpfake", "show", *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
    )


def _send(car: Sidecar) -> None:
    """Two sessions: the first RCPT is greylisted, the second gets through and delivers (the
    API lists a session's messages as summaries, without data: show read them whole and
    crashed with KeyError: 'data_base64')."""
    for attempt in range(2):
        with smtplib.SMTP(car.smtp_host, car.smtp_port, timeout=TIMEOUT) as smtp:
            smtp.ehlo("client.test")
            smtp.mail("a@x.test")
            code, _ = smtp.rcpt("b@y.test")
            assert code == (451 if attempt == 0 else 250)
            if attempt:
                assert smtp.data(b"Subject: kept\r\n\r\nhi\r\n")[0] == 250


def _report(out: str) -> list[str]:
    """The lines after the scenario: "rule hits and near misses in ..." and the rules."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("rule hits and near misses"))
    return lines[start:]


@pytest.fixture
def recorded(sidecar: Sidecar, tmp_path: Path) -> Path:
    path = tmp_path / "hits.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    RemoteSmtpFake(sidecar.url).use(path, seed=0)
    _send(sidecar)
    return path


def test_show_remote_prints_each_rules_hits_and_near_misses(
    sidecar: Sidecar, recorded: Path
) -> None:
    result = _show(str(recorded), "--remote", sidecar.url)
    assert result.returncode == 0, result.stderr
    report = _report(result.stdout)
    assert report == [
        f"rule hits and near misses in 2 session(s) from {sidecar.url}/api/sessions:",
        "  second mail x0",
        "    ? MAIL a@x.test: second mail: nth: wanted 2, was 1",
        "    ? MAIL a@x.test: second mail: nth: wanted 2, was 1",
        "  greylisted x1",
        "    ? RCPT b@y.test: greylisted: first: wanted at most 1, was 2",
    ]
    # the scenario itself comes first, as plain `show` prints it
    plain = _show(str(recorded))
    assert result.stdout.startswith(plain.stdout.rstrip("\n") + "\n")


def test_the_words_are_the_failure_reports(sidecar: Sidecar, recorded: Path) -> None:
    """Every near miss and hit a failing test's report gives (SessionRecord.format) is in show's
    report, word for word."""
    out = _show(str(recorded), "--remote", sidecar.url).stdout
    for session in RemoteSmtpFake(sidecar.url).sessions:
        for line in session.format().splitlines():
            line = line.strip()
            if line.startswith("? "):
                assert f"    {line}" in out.splitlines()
            elif line.startswith("rules fired: "):
                for hit in line.removeprefix("rules fired: ").split(", "):
                    assert f"  {hit}" in out.splitlines()


def test_show_journal_reads_the_saved_sessions(
    sidecar: Sidecar, recorded: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "sessions.json"
    listed = call(sidecar.url, "GET", "/api/sessions").body
    assert "data_base64" not in listed["sessions"][1]["messages"][0]  # a summary
    saved.write_text(json.dumps(listed), encoding="utf-8")
    remote = _report(_show(str(recorded), "--remote", sidecar.url).stdout)
    from_file = _show(str(recorded), "--journal", str(saved))
    assert from_file.returncode == 0, from_file.stderr
    assert _report(from_file.stdout)[1:] == remote[1:]
    assert (
        _report(from_file.stdout)[0] == f"rule hits and near misses in 2 session(s) from {saved}:"
    )
    # a list of sessions, on standard input
    sessions = json.loads(saved.read_text(encoding="utf-8"))["sessions"]
    piped = _show(str(recorded), "--journal", "-", stdin=json.dumps(sessions))
    assert _report(piped.stdout)[1:] == remote[1:]
    # as session_to_json writes them from a test: messages whole, with their data
    whole = [session_to_json(s) for s in RemoteSmtpFake(sidecar.url).sessions]
    assert "data_base64" in whole[1]["messages"][0]
    piped = _show(str(recorded), "--journal", "-", stdin=json.dumps(whole))
    assert _report(piped.stdout)[1:] == remote[1:], piped.stderr


def test_show_remote_without_a_name_shows_the_scenario_in_force(
    sidecar: Sidecar, recorded: Path
) -> None:
    result = _show("--remote", sidecar.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(call(sidecar.url, "GET", "/api/scenario").body["show"])
    assert "  greylisted x1" in result.stdout.splitlines()


def test_bad_sources_are_one_line_without_a_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"sessions": [{"index": 1}]}', encoding="utf-8")
    number = tmp_path / "number.json"
    number.write_text("[1]", encoding="utf-8")
    # a file read that holds no journal is the option's mistake: said as argparse says one,
    # what is wrong in the user's words (not a Python exception's name)
    for path, words in (
        (broken, "not JSON: Expecting property name"),
        (wrong, "session 1 is not a session as GET /api/sessions gives it (it has no 'peer')"),
        (number, "session 1 is not a session as GET /api/sessions gives it (a JSON number, "),
    ):
        result = _show("default", "--journal", str(path))
        assert (result.returncode, result.stdout) == (2, ""), result.stderr
        first, second = result.stderr.splitlines()
        assert first.startswith(f"smtpfake show: error: --journal: {path}: {words}"), first
        assert second == "For more information, try 'smtpfake show --help'."
        assert "Error" not in first
    for args, words in (
        (["default", "--remote", "http://127.0.0.1:1"], "cannot reach the smtpfake sidecar"),
    ):
        result = _show(*args)
        assert result.returncode == 2, (args, result.stdout)
        assert words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    # a file that cannot be read, or no source at all, is a mistake on the command line: said as
    # argparse says one (tests/cli/test_cli_usage_errors.py has the unreadable --journal's words)
    result = _show()
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "smtpfake show: error: name a scenario (NAME or PATH), or give --remote URL\n"
        "For more information, try 'smtpfake show --help'.\n"
    )
    # so is a --remote that is no URL (tests/cli/test_cli_usage_shape.py)
    result = _show("default", "--remote", "ftp://x")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "smtpfake show: error: --remote: expected the sidecar's API URL like "
        "http://127.0.0.1:8025, got 'ftp://x'\n"
        "For more information, try 'smtpfake show --help'.\n"
    )


def test_the_report_caps_near_misses_and_keeps_other_rules_apart() -> None:
    """Past 20 near misses a rule says how many more; a label that holds ": " is one rule; a
    rule the scenario does not have (sessions of another one) gets its own lines."""
    from smtpfake.engine.records import Outcome
    from smtpfake.journal import NEAR_MISSES_SHOWN, SessionRecord, rules_report

    misses = ("a: b: nth: wanted 2, was 1", "other: tls: wanted true, was false")
    outcomes = tuple(
        Outcome(time=0.0, stage="rcpt", argument=f"u{i}@x.test", fired="a", why=misses)
        for i in range(NEAR_MISSES_SHOWN + 3)
    )
    session = SessionRecord(1, "127.0.0.1", 0.0, 1.0, (), (), (), outcomes=outcomes)
    report = rules_report(["a", "a: b"], [session], "REST")
    assert report[0] == f"a x{NEAR_MISSES_SHOWN + 3}"
    assert report[1] == "a: b x0"
    assert report[2] == "  ? RCPT u0@x.test: a: b: nth: wanted 2, was 1"
    assert report[2 + NEAR_MISSES_SHOWN] == "  ? ... and 3 more (REST)"
    assert report[3 + NEAR_MISSES_SHOWN] == (
        "not rules of this scenario (these sessions ran another one):"
    )
    assert report[4 + NEAR_MISSES_SHOWN] == "other x0"
    assert report[5 + NEAR_MISSES_SHOWN] == "  ? RCPT u0@x.test: other: tls: wanted true, was false"


def test_a_near_miss_quoting_a_clients_control_bytes_shows_them(tmp_path: Path) -> None:
    """A near miss quotes the client's argument: an ESC sequence in it was printed as it was,
    clearing and recolouring the terminal of whoever ran ``smtpfake show``."""
    from smtpfake.server import Server

    path = tmp_path / "refuse.yaml"
    path.write_text(
        "summary: s\nexpect: e\nrules:\n  - {name: bob, on: rcpt, match: bob@*, reply: 550 no}\n",
        encoding="utf-8",
    )
    with Server(str(path)) as server, smtplib.SMTP(server.host, server.port, timeout=5) as c:
        c.ehlo()
        c.mail("a@x.test")
        c.docmd("RCPT TO:<\x1b[2J\x1b[31mred@y.test>")
        c.quit()
        server.journal.wait(lambda j: j.counts().sessions_ended == 1, TIMEOUT)
        saved = json.dumps([session_to_json(s) for s in server.sessions])
    result = _show(str(path), "--journal", "-", stdin=saved)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "? RCPT \\x1b[2J\\x1b[31mred@y.test: bob: match" in result.stdout


def test_a_scenario_without_rules_says_so(tmp_path: Path) -> None:
    """``show default --journal`` printed its "rule hits and near misses in 1 session(s)" header
    over nothing, as if the report had been cut off."""
    from smtpfake.server import Server

    with Server("default") as server, smtplib.SMTP(server.host, server.port, timeout=5) as c:
        c.noop()
        c.quit()
        server.journal.wait(lambda j: j.counts().sessions_ended == 1, TIMEOUT)
        saved = json.dumps([session_to_json(s) for s in server.sessions])
    result = _show("default", "--journal", "-", stdin=saved)
    assert result.returncode == 0, result.stderr
    assert _report(result.stdout) == [
        "rule hits and near misses in 1 session(s) from standard input:",
        "  none: the scenario has no rules, and no rule shaped these sessions",
    ]


def test_a_misspelt_name_is_a_usage_error_without_a_made_up_position() -> None:
    result = _show("greylistin")
    assert result.returncode == 2
    error, hint = result.stderr.splitlines()
    assert error.startswith(
        "smtpfake show: error: no scenario named 'greylistin'; did you mean 'greylisting'?"
    ), result.stderr
    assert hint == "For more information, try 'smtpfake show --help'."


def test_a_missing_or_wrong_token_names_the_option_that_gives_it(
    sidecar_factory: Callable[..., Sidecar],
) -> None:
    # it was "smtpfake show: smtpfake sidecar: 401: missing or wrong bearer token", naming nothing
    car = sidecar_factory("--port", "0", "--api-port", "0", "--api-token", "sesame")
    for extra in ((), ("--api-token", "wrong")):
        result = _show("--remote", car.url, *extra)
        assert (result.returncode, result.stdout) == (2, "")
        first = result.stderr.splitlines()[0]
        assert first.startswith("smtpfake show: error: --api-token/SMTPFAKE_API_TOKEN: "), first
        assert "401" in first
    assert _show("--remote", car.url, "--api-token", "sesame").returncode == 0


def test_a_token_with_a_trailing_newline_gets_in_and_a_space_inside_is_a_usage_error(
    sidecar_factory: Callable[..., Sidecar],
) -> None:
    """Both sides drop a secret file's last newline (serve's SMTPFAKE_API_TOKEN and show's);
    show printed a raw "Invalid header value b'Bearer sesame\\n'" naming nothing (fresh15 F4)."""
    car = sidecar_factory(
        "--port", "0", "--api-port", "0", env={"SMTPFAKE_API_TOKEN": "sesame\r\n"}
    )
    assert _show("--remote", car.url, "--api-token", "sesame\n").returncode == 0
    assert _show("--remote", car.url, "--api-token", "sesame").returncode == 0
    result = _show("--remote", car.url, "--api-token", "ses ame")
    assert (result.returncode, result.stdout) == (2, "")
    first = result.stderr.splitlines()[0]
    assert first.startswith(
        "smtpfake show: error: --api-token/SMTPFAKE_API_TOKEN: the token holds U+0020"
    ), first
