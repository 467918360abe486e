"""``smtpfake probe`` as people run it: a real process, real client commands, exit statuses,
the terminal table and the JUnit, HTML and JSON reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SMTPLIB_CLIENT = str(REPO / "scripts" / "probe_clients" / "smtplib_send.py")
PY = sys.executable
#: a client that reads the greeting (if any) and exits 0, which means "delivered"
CONNECT_AND_EXIT_0 = (
    "import os, socket; s = socket.create_connection((os.environ['SMTP_HOST'], "
    "int(os.environ['SMTP_PORT']))); s.recv(100)"
)


def probe(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "smtpfake", "probe", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
    )


def rows(stdout: str) -> dict[str, str]:
    """case -> verdict, from the terminal table."""
    lines = stdout.splitlines()
    assert lines[0].split() == ["case", "verdict", "reason"], stdout
    return {line.split()[0]: line.split()[1] for line in lines[1:-1]}


def test_a_good_client_passes_and_the_exit_status_is_0() -> None:
    done = probe("--case", "default", "--case", "421-at-greeting", "--", PY, SMTPLIB_CLIENT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert rows(done.stdout) == {"421-at-greeting": "pass", "default": "pass"}
    assert done.stdout.splitlines()[-1] == "2 cases: 2 pass"


def test_a_client_that_does_nothing_fails_and_the_exit_status_is_1() -> None:
    """Exit 0 is "delivered", but nothing arrived: the delivered check fails."""
    done = probe("--case", "default", "--", "true")
    assert done.returncode == 1
    assert rows(done.stdout) == {"default": "fail"}
    assert "expected delivered: 1; delivered 0 time(s)" in done.stdout


def test_a_client_killed_by_a_signal_is_told_so(tmp_path: Path) -> None:
    """A crashing client (SIGSEGV) read "reported permanent (exit -11)" (fresh15)."""
    crash = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    js = tmp_path / "r.json"
    done = probe("--case", "421-at-greeting", "--json", str(js), "--", PY, "-c", crash)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "killed by signal..." in done.stdout  # (the table cuts the reason)
    (case,) = json.loads(js.read_text())["cases"]
    assert "reported permanent (killed by signal 11 (SIGSEGV))" in case["reason"], case


def test_reports_one_case_per_entry(tmp_path: Path) -> None:
    junit, html, js = tmp_path / "r.xml", tmp_path / "r.html", tmp_path / "r.json"
    done = probe(
        "--case", "421-at-*", "--case", "default", "--junit", str(junit), "--html", str(html),
        "--json", str(js), "-j", "3", "--", PY, "-c", CONNECT_AND_EXIT_0,
    )  # fmt: skip
    assert done.returncode == 1  # nothing is delivered, so "default" fails
    suite = ET.parse(junit).getroot()
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {
        "default", "421-at-greeting", "421-at-greeting-once", "421-at-ehlo", "421-at-mail",
        "421-at-data",
    }  # fmt: skip
    failure = cases["421-at-greeting"].find("failure")
    assert failure is not None and failure.text is not None
    assert "S: 421 smtpfake.test Service not available" in failure.text  # the transcript
    assert "MUST outcome: transient -> reported delivered (exit 0)" in failure.text
    assert suite.get("failures") == str(sum(c.find("failure") is not None for c in cases.values()))
    doc = json.loads(js.read_text())
    by_name = {c["case"]: c for c in doc["cases"]}
    assert by_name["default"]["verdict"] == "fail"
    assert by_name["default"]["exit_status"] == 0
    assert by_name["421-at-greeting"]["sessions"][0]["transcript"][0]["side"] == "server"
    check = by_name["421-at-greeting"]["checks"][0]
    assert check["rfc"].startswith("RFC 5321") and check["level"] == "must"
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert 'href="#421-at-greeting"' in page and 'id="421-at-greeting"' in page
    assert "<script" not in page and "src=" not in page and "http" not in page.split("<body>")[0]


def test_everything_in_the_html_report_is_escaped(tmp_path: Path) -> None:
    case = tmp_path / "evil.yaml"
    case.write_text(
        "summary: '<script>alert(1)</script> & co'\n"
        "expect: deliver <b>once</b>\n"
        "checks:\n  judge:\n    - delivered: 1\n      rfc: RFC <5321>\n"
    )
    html = tmp_path / "r.html"
    client = "import sys; print('<img src=x>'); sys.exit(0)"
    done = probe(
        "--scenario", str(case), "--case", "evil", "--html", str(html), "--", PY, "-c", client
    )
    assert done.returncode == 1
    page = html.read_text()
    assert "<script>alert" not in page and "<img" not in page and "<b>once" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    assert "&lt;img src=x&gt;" in page and "RFC &lt;5321&gt;" in page


#: a client that sends an octet that is not UTF-8, an ESC and a line that reads like a note, prints
#: a colour, then leaves in the middle of the dripped reply to its EHLO
RUDE_CLIENT = (
    "import os, socket, sys; print('\\x1b[31mred'); "
    "s = socket.create_connection((os.environ['SMTP_HOST'], int(os.environ['SMTP_PORT']))); "
    "s.recv(100); s.sendall(b'EHLO \\xff\\x1b[2J\\r\\n(client closed the connection)\\r\\n'); "
    "s.recv(4); s.close(); sys.exit(75)"
)


def test_the_reports_show_a_rude_clients_octets_and_notes_as_the_record_has_them(
    tmp_path: Path,
) -> None:
    """Octets that are not UTF-8 and control characters (the client's and its output's) are
    shown as \\xNN in every report, never written raw nor a traceback; the JSON report's
    entries are the API's (note, delivered/written); the HTML says what was not delivered."""
    case = tmp_path / "slow-ehlo.yaml"
    case.write_text(
        "summary: s\nexpect: e\nrules:\n  - on: ehlo\n    drip: {bytes: 5, interval: 0.2}\n"
        "checks:\n  judge:\n    - delivered: 1\n      rfc: RFC 5321\n"
    )
    junit, html, js = tmp_path / "r.xml", tmp_path / "r.html", tmp_path / "r.json"
    done = probe(
        "--scenario", str(case), "--case", "slow-ehlo", "--junit", str(junit), "--html",
        str(html), "--json", str(js), "--", PY, "-c", RUDE_CLIENT,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # a failed case, not a crash
    assert "Traceback" not in done.stderr
    failure = ET.parse(junit).getroot().find("testcase/failure")  # well-formed XML
    assert failure is not None and failure.text is not None
    assert "C: EHLO \\xff\\x1b[2J" in failure.text and "\\x1b[31mred" in failure.text
    assert "C: (client closed the connection)" in failure.text  # a line, not the close's note
    assert "(not delivered: 5 octets written; " in failure.text  # and the lines not sent
    [session] = json.loads(js.read_text(encoding="utf-8"))["cases"][0]["sessions"]
    ehlo, note_like, reply, unknown, close = session["transcript"][1:6]
    assert ehlo["text"] == "EHLO \\xff\x1b[2J" and "note" not in ehlo
    assert note_like["text"] == "(client closed the connection)" and "note" not in note_like
    assert reply["delivered"] is False and reply["written"] == 5
    # the line behind the dripping reply: acted on, its 500 recorded never sent (fresh14 F4)
    assert unknown["text"].startswith("500 ") and unknown["written"] == 0
    assert close["note"] is True and close["event"] is True
    assert {v["kind"] for v in session["violations"]} >= {"bad-pipelining"}
    assert all(isinstance(v["time"], float) for v in session["violations"])
    page = html.read_text(encoding="utf-8")
    assert "C: EHLO \\xff\\x1b[2J" in page and "\x1b" not in page
    assert "(not delivered: 5 octets written; " in page and "\\x1b[31mred" in page


#: a client whose own output holds colours, octets that are not UTF-8 and a BEL (on stderr)
NOISY_CLIENT = (
    "import sys; sys.stdout.buffer.write(b'hello \\x1b[31mRED\\xff\\xfe done\\n'); "
    "sys.stdout.flush(); sys.stderr.buffer.write(b'err \\x1b]0;title\\x07\\n'); sys.exit(75)"
)


def test_every_report_keeps_the_clients_own_octets_that_are_not_utf8_as_xnn(
    tmp_path: Path,
) -> None:
    """The client's output as the record has it: 0xFF as \\xff in every report (never U+FFFD,
    the octet lost); its ESC and BEL shown as \\xNN in the JUnit and HTML and the terminal, kept
    as characters in the JSON (as GET /api/sessions keeps a client's), which escapes them."""
    junit, html, js = tmp_path / "r.xml", tmp_path / "r.html", tmp_path / "r.json"
    done = probe(
        "--case", "421-at-greeting", "--junit", str(junit), "--html", str(html),
        "--json", str(js), "--", PY, "-c", NOISY_CLIENT,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    shown = ("hello \\x1b[31mRED\\xff\\xfe done", "err \\x1b]0;title\\x07")
    [case] = ET.parse(junit).getroot().iter("testcase")  # well-formed XML
    text = "".join(case.itertext())
    page = html.read_text(encoding="utf-8")
    for report in (text, page):
        assert all(line in report for line in shown), report
        assert "\ufffd" not in report and "\x1b" not in report and "\x07" not in report
    raw = js.read_text(encoding="utf-8")
    assert "\ufffd" not in raw and "\\u001b" in raw  # JSON's own escape: no raw ESC in the file
    output = json.loads(raw)["cases"][0]["output"]
    assert "hello \x1b[31mRED\\xff\\xfe done\n" in output and "err \x1b]0;title\x07\n" in output


def test_a_command_named_by_octets_that_are_not_utf8_is_shown_in_every_report(
    tmp_path: Path,
) -> None:
    """A client command that cannot run, named by a file name that is not UTF-8 and holds an
    ESC: the reason (in the terminal, JUnit, HTML, JSON) and the HTML's title show \\xNN. The
    file is there and executable, so the probe runs it; the kernel refuses its format."""
    junit, html, js = tmp_path / "r.xml", tmp_path / "r.html", tmp_path / "r.json"
    name = b"./cl\xffi\x1b[2Jent"  # short: the terminal's table cuts a long reason
    with open(bytes(tmp_path) + name[1:], "wb") as program:
        program.write(b"\x00\x01 no shebang, no ELF: exec fails with ENOEXEC\n")
    os.chmod(bytes(tmp_path) + name[1:], 0o755)
    done = subprocess.run(
        [PY, "-m", "smtpfake", "probe", "--case", "default", "--junit", str(junit),
         "--html", str(html), "--json", str(js), "--", name],
        capture_output=True, timeout=60, stdin=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # the case failed; every report written
    assert b"Traceback" not in done.stderr, done.stderr
    shown = "./cl\\xffi\\x1b[2Jent"
    assert shown.encode() in done.stdout and b"\x1b" not in done.stdout
    failure = ET.parse(junit).getroot().find("testcase/failure")
    assert failure is not None and failure.text is not None
    assert shown in failure.get("message", "") and shown in failure.text
    page = html.read_text(encoding="utf-8")
    assert page.count(shown) >= 3 and "\x1b" not in page  # title, heading, index, reason
    reason = json.loads(js.read_text(encoding="utf-8"))["cases"][0]["reason"]
    assert "./cl\\xffi\x1b[2Jent" in reason
    # one that is not there at all is refused before any case, shown the same way
    done = subprocess.run(
        [PY, "-m", "smtpfake", "probe", "--case", "default", "--",
         b"/nonexistent/cl\xffi\x1b[2Jent"],
        capture_output=True, timeout=60, stdin=subprocess.DEVNULL, cwd=REPO,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (2, b""), done.stderr
    assert done.stderr.splitlines()[0] == (
        b"smtpfake probe: error: the client /nonexistent/cl\\xffi\\x1b[2Jent: no such file"
    )


def test_the_client_gets_the_environment_and_placeholders(tmp_path: Path) -> None:
    js = tmp_path / "r.json"
    client = (
        "import os, sys; print(sys.argv[1:]); "
        "print({k: v for k, v in sorted(os.environ.items()) if k.startswith('SMTP_')})"
    )
    done = probe(
        "--case", "550-one-recipient-unknown", "--json", str(js), "--",
        PY, "-c", client, "{host}:{port}", "{to}", "{url}",
    )  # fmt: skip
    assert done.returncode == 1
    out = json.loads(js.read_text())["cases"][0]["output"]
    argv_line, env_line = out.splitlines()[:2]
    env = eval(env_line)  # the repr of a dict of str
    assert eval(argv_line) == [
        f"127.0.0.1:{env['SMTP_PORT']}",
        "rcpt@probe.test,unknown@probe.test",
        f"smtp://127.0.0.1:{env['SMTP_PORT']}",
    ]
    assert env["SMTP_HOST"] == "127.0.0.1" and env["SMTP_TLS"] == "none"
    assert (
        env["SMTP_FROM"] == "sender@probe.test" and env["SMTP_CASE"] == "550-one-recipient-unknown"
    )
    assert Path(env["SMTP_MESSAGE_FILE"]).name == "550-one-recipient-unknown.eml"


def test_tls_and_auth_cases_give_a_ca_file_and_credentials(tmp_path: Path) -> None:
    js = tmp_path / "r.json"
    client = (
        "import os, ssl; c = ssl.create_default_context(cafile=os.environ['SMTP_CA_FILE']); "
        "print(os.environ['SMTP_TLS'], os.environ['SMTP_USER'], os.environ['SMTP_PASSWORD'])"
    )
    done = probe("--case", "538-auth-needs-tls", "--json", str(js), "--", PY, "-c", client)
    assert done.returncode == 1
    assert json.loads(js.read_text())["cases"][0]["output"].strip() == "starttls alice secret"


def test_a_bad_placeholder_or_a_missing_command_is_told_before_any_case(tmp_path: Path) -> None:
    done = probe("--case", "default", "--", PY, "-c", "pass", "{nope}", "{k: v}", "${HOME}")
    assert done.returncode == 2
    assert "unknown placeholder {nope} in the command (known: {host}, {port}" in done.stderr
    # a program that cannot run failed every case, one by one (the slow ones too): "could not be
    # run" 78 times, exit 1, as if the client had misbehaved
    script = tmp_path / "client.sh"
    script.write_text("#!/bin/sh\n")
    for program, why in (
        ("/nonexistent/client", "/nonexistent/client: no such file"),
        ("smtpfake-no-such-client", "smtpfake-no-such-client: not found on PATH"),
        (str(script), f"{script}: not executable (chmod +x it, or name its interpreter first: "
                      f"sh {script})"),
        # a path missing its script's name: it exists, so "no such file" was wrong
        (str(tmp_path), f"{tmp_path}: is a directory (name the program to run in it)"),
    ):  # fmt: skip
        done = probe("--", program)
        assert (done.returncode, done.stdout) == (2, ""), done
        assert done.stderr.splitlines()[0] == f"smtpfake probe: error: the client {why}"


def test_a_client_that_outlives_the_timeout_is_stopped_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    # a shell that starts a child and waits: the whole process group must go
    client = f"sleep 60 & echo $! > {pidfile}; wait"
    done = probe("--case", "default", "--timeout", "0.5", "--", "sh", "-c", client, timeout=30)
    assert done.returncode == 1
    assert "stopped after 0.5 s (did not exit in time)" in done.stdout
    child = int(pidfile.read_text())
    assert _gone(child), f"the client's child {child} is still running"


def _gone(pid: int) -> bool:
    """The process has exited (or is a zombie nobody reaped yet), within 5 s."""
    stat = Path(f"/proc/{pid}/stat")
    for _ in range(50):
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


def test_exit_codes_map_outcomes() -> None:
    # exit 3 means transient for this client
    done = probe(
        "--case", "421-at-greeting", "--exit-codes", "delivered=0,transient=3", "--",
        PY, "-c", "import smtplib, os, sys\n"
        "try: smtplib.SMTP(os.environ['SMTP_HOST'], int(os.environ['SMTP_PORT']))\n"
        "except smtplib.SMTPException: sys.exit(3)",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout
    done = probe("--exit-codes", "transient=x", "--", "true")
    assert done.returncode == 2
    assert "--exit-codes: transient: expected numbers, got 'x'" in done.stderr


def test_selection_list_tags_and_unknown_names() -> None:
    done = probe("--list", "--tag", "waits")
    assert done.returncode == 0
    listed = [line.split()[0] for line in done.stdout.splitlines()]
    assert "slow-greeting" in listed and "default" not in listed
    done = probe("--list", "--tag", "duplicate-trap", "--skip-tag", "waits")
    listed = [line.split()[0] for line in done.stdout.splitlines()]
    assert "421-after-dot" in listed and "hang-after-data" not in listed
    done = probe("--case", "defualt", "--", "true")
    assert done.returncode == 2
    assert "no case named defualt" in done.stderr
    done = probe("--case", "default")
    assert done.returncode == 2
    assert "give the client to run after --" in done.stderr


def test_a_tag_no_case_has_or_an_empty_selection_is_a_usage_error() -> None:
    """``--tag wait`` (for ``waits``) ran no case and exited 0: a CI job testing nothing, green."""
    done = probe("--tag", "wait", "--", "true")
    assert done.returncode == 2, done
    assert done.stderr.startswith(
        "smtpfake probe: error: --tag: no case has the tag wait; did you mean 'waits'? (tags: "
    )
    assert "waits" in done.stderr and done.stdout == ""
    done = probe("--skip-tag", "wiats", "--", "true")
    assert (done.returncode, done.stderr.split(":")[2]) == (2, " --skip-tag"), done
    done = probe("--tag", "waits", "--skip-tag", "waits", "--", "true")
    assert done.returncode == 2, done
    assert done.stderr == (
        "smtpfake probe: error: the selection leaves no case (see --list)\n"
        "For more information, try 'smtpfake probe --help'.\n"
    )


def test_param_sets_a_parameter_of_the_cases_that_declare_it() -> None:
    done = probe("--case", "greylisting", "--case", "default", "--param", "delay=7", "--list")
    assert done.returncode == 0, done.stderr
    listed = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    assert "a retry of that triple 7s or more after" in listed["greylisting [waits]"]
    assert listed["default"] == "An RFC-correct server that accepts and records every message."


def test_param_is_checked_as_serve_checks_it() -> None:
    bad = probe("--case", "greylisting", "--param", "delay=soon", "--list")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith(
        "smtpfake probe: error: --param delay=soon: expected a duration"
    ), bad.stderr
    unknown = probe("--case", "default", "--param", "delay=5", "--", "true")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr == (
        "smtpfake probe: error: --param: no selected case declares a parameter named 'delay' "
        "(their parameters: none)\nFor more information, try 'smtpfake probe --help'.\n"
    )
    syntax = probe("--param", "delay", "--list")
    assert syntax.returncode == 2
    assert "argument --param: expected NAME=VALUE (e.g. delay=5), got 'delay'" in syntax.stderr


def test_a_broken_user_scenario_is_reported_at_file_line_col(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text(
        "summary: s\nexpect: e\nchecks:\n  judge:\n    - delivred: 1\n      rfc: RFC 5321\n"
    )
    done = probe("--scenario", str(bad), "--list")
    assert done.returncode == 2
    assert f"{bad}:5:7: checks.judge[1]: unknown key 'delivred'; did you mean 'delivered'?" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


def test_a_user_scenario_without_checks_is_refused_not_left_out(tmp_path: Path) -> None:
    """``--scenario mine.yaml`` without ``checks:`` was dropped without a word: the run probed
    the library alone (77 cases, exit 0 or 1) as if mine.yaml had been one of them."""
    mine = tmp_path / "mine.yaml"
    mine.write_text("summary: s\nexpect: e\nserver:\n  bare_lf: disconnect\n")
    done = probe("--scenario", str(mine), "--", "true")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines()[0] == (
        f"smtpfake probe: error: --scenario {mine}: no checks: judge: to judge a client by, so "
        "it is no probe case (add checks:, see the README's Checks)"
    )


def test_a_retrying_client_is_judged_within_its_budget(tmp_path: Path) -> None:
    """A command that retries by itself: connect until delivered, three tries at most."""
    client = tmp_path / "retry.py"
    client.write_text(
        "import os, smtplib, time\n"
        "for attempt in range(3):\n"
        "    try:\n"
        "        with smtplib.SMTP(os.environ['SMTP_HOST'], int(os.environ['SMTP_PORT'])) as s:\n"
        "            s.sendmail(os.environ['SMTP_FROM'], os.environ['SMTP_TO'].split(','),\n"
        "                       open(os.environ['SMTP_MESSAGE_FILE'], 'rb').read())\n"
        "        break\n"
        "    except (smtplib.SMTPException, OSError):\n"
        "        time.sleep(0.2)\n"
    )
    done = probe(
        "--retrying", "--budget", "3", "--case", "421-at-greeting-once", "--case", "554-after-data",
        "--", PY, str(client),
    )  # fmt: skip
    assert rows(done.stdout) == {"421-at-greeting-once": "pass", "554-after-data": "fail"}
    assert "expected retried: false; connected 3 time(s)" in done.stdout
    assert done.returncode == 1


def test_a_queueing_client_that_exits_and_retries_later_is_waited_for(tmp_path: Path) -> None:
    """As sendmail or Postfix do: the command queues the message and exits at once; a process
    it leaves behind retries later. The case waits (within the budget) for that retry: it used
    to stop once quiet, judged by greylisting's one-shot ``delivered: 0`` (new-user pass)."""
    client = tmp_path / "queue.py"
    client.write_text(
        "import os, smtplib, subprocess, sys, time\n"
        "def send():\n"
        "    with smtplib.SMTP(os.environ['SMTP_HOST'], int(os.environ['SMTP_PORT'])) as s:\n"
        "        s.sendmail(os.environ['SMTP_FROM'], os.environ['SMTP_TO'].split(','),\n"
        "                   open(os.environ['SMTP_MESSAGE_FILE'], 'rb').read())\n"
        "if sys.argv[1:] == ['later']:\n"
        "    for attempt in range(2):  # bounded: two retries, each after the probe's 3 quiet s\n"
        "        time.sleep(3.5)\n"
        "        try:\n"
        "            send()\n"
        "            break\n"
        "        except smtplib.SMTPException:\n"
        "            pass\n"
        "else:\n"
        "    message = open(os.environ['SMTP_MESSAGE_FILE'], 'rb').read()\n"
        "    path = os.environ['SMTP_MESSAGE_FILE'] + '.queued'\n"
        "    open(path, 'wb').write(message)  # the probe may remove its file once we exit\n"
        "    os.environ['SMTP_MESSAGE_FILE'] = path\n"
        "    try:\n"
        "        send()\n"
        "    except smtplib.SMTPException:\n"
        "        quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,\n"
        "                     stderr=subprocess.DEVNULL)  # nothing holds the probe's pipes\n"
        "        subprocess.Popen([sys.executable, __file__, 'later'], start_new_session=True,\n"
        "                         **quiet)\n"
    )
    done = probe(
        "--retrying", "--budget", "15", "--case", "greylisting", "--param", "delay=1s",
        "--", PY, str(client),
    )  # fmt: skip
    assert rows(done.stdout) == {"greylisting": "pass"}, done.stdout
    assert done.returncode == 0


def test_what_would_stop_the_run_midway_is_a_usage_error_before_any_case(tmp_path: Path) -> None:
    """Each was a traceback: from the first case's server (a port out of range, one in use, an
    address not on this machine), or from writing a report after every case had run."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for args, message in (
            (["--port", "70000"], "smtpfake probe: error: --port: 70000 is not a port (0-65535)"),
            (["--seed", "-1"], "smtpfake probe: error: --seed: must be from 0 to 2^64-1, got -1"),
            # without --retrying the budget was silently ignored
            (["--budget", "5"], "smtpfake probe: error: --budget is for a --retrying client\n"),
            (
                ["--port", str(port)],
                f"smtpfake probe: error: --host/--port: cannot listen on 127.0.0.1:{port}: ",
            ),
            (
                ["--host", "nosuch.invalid"],
                "smtpfake probe: error: --host/--port: cannot listen on nosuch.invalid:0: ",
            ),
            (
                ["--html", str(tmp_path / "no" / "r.html")],
                f"smtpfake probe: error: --html: cannot write {tmp_path / 'no' / 'r.html'}: "
                "its folder does not exist\n",
            ),
        ):
            done = probe("--case", "default", *args, "--", "true")
            assert (done.returncode, done.stdout) == (2, ""), (args, done)
            assert done.stderr.startswith(message), (args, done.stderr)
            _, hint = done.stderr.splitlines()  # two lines, no traceback
            assert hint == "For more information, try 'smtpfake probe --help'."


def test_a_report_that_cannot_be_written_is_one_line_after_the_table(tmp_path: Path) -> None:
    (tmp_path / "report.json").mkdir()  # a folder where the file should go
    done = probe("--case", "default", "--json", str(tmp_path / "report.json"), "--", "true")
    assert done.returncode == 2, done
    assert "1 cases: 1 fail" in done.stdout
    assert done.stderr.startswith(
        f"smtpfake probe: --json: cannot write {tmp_path / 'report.json'}: "
    )
    assert "Traceback" not in done.stderr


def test_a_cases_json_sessions_go_to_show_journal(tmp_path: Path) -> None:
    """--json writes each session as GET /api/sessions does, so `smtpfake show CASE --journal`
    explains why its rules fired or nearly did (was exit 2: KeyError 'peer'; new-user pass)."""
    js = tmp_path / "r.json"
    client = (
        "import os, smtplib\n"
        "try:\n"
        "    with smtplib.SMTP(os.environ['SMTP_HOST'], int(os.environ['SMTP_PORT'])) as s:\n"
        "        s.sendmail(os.environ['SMTP_FROM'], os.environ['SMTP_TO'].split(','),\n"
        "                   open(os.environ['SMTP_MESSAGE_FILE'], 'rb').read())\n"
        "except smtplib.SMTPException:\n"
        "    raise SystemExit(75)\n"
    )
    probe("--case", "greylisting", "--json", str(js), "--", PY, "-c", client)
    (case,) = json.loads(js.read_text())["cases"]
    session = case["sessions"][0]
    assert {"peer", "started", "ended", "outcomes", "rule_hits", "near_misses"} <= set(session)
    assert session["rule_hits"] == {"greylisted": 1}
    sessions = tmp_path / "sessions.json"
    sessions.write_text(json.dumps(case["sessions"]))
    done = subprocess.run(
        [PY, "-m", "smtpfake", "show", "greylisting", "--journal", str(sessions)],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "rule hits and near misses in 1 session(s)" in done.stdout, done.stdout
    assert done.stdout.splitlines()[-1] == "  greylisted x1", done.stdout
