"""``--smtpfake-remote URL`` and the sidecar goes away mid-run (killed, crashed, container gone):
the run goes on, each test that needs the sidecar errors in one line, the others pass."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_ports

pytest_plugins = ["pytester"]

# test_1 kills the sidecar (SIGKILL: no goodbye), waits until its API refuses, then fails: its
# report's transcript section needs the sidecar
SUITE = """
import os, signal, socket, time

def _refused(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return
        time.sleep(0.05)
    raise AssertionError("the sidecar is still there")

def test_1_kills_the_sidecar(smtpfake):
    os.kill(int(os.environ["SIDECAR_PID"]), signal.SIGKILL)
    _refused(int(os.environ["SIDECAR_API_PORT"]))
    assert False, "failed after the kill"

def test_2(smtpfake):
    pass

def test_3(smtpfake):
    pass

def test_4_without_the_fixture():
    pass
"""


@pytest.fixture
def sidecar() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``smtpfake serve`` in a process of its own, ready; killed at the end whatever happened."""
    port = free_ports()
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpfake", "serve", "--port", "0", "--api-port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to ~30 s on a loaded machine
            assert proc.poll() is None, f"smtpfake serve exited {proc.returncode}"
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        else:
            raise AssertionError(f"smtpfake serve never ready at {url}")
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_a_sidecar_gone_mid_run_is_one_line_per_test(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    sidecar: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, url = sidecar
    monkeypatch.setenv("SIDECAR_PID", str(proc.pid))
    monkeypatch.setenv("SIDECAR_API_PORT", url.rsplit(":", 1)[1])
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-remote", url)
    out = result.stdout.str() + result.stderr.str()
    assert proc.wait(10) is not None  # test_1 did kill it
    # no INTERNALERROR from the report hook: the run ends with its summary
    assert "INTERNALERROR" not in out, out[-3000:]
    result.assert_outcomes(passed=1, failed=1, errors=2)
    line = f"smtpfake: --smtpfake-remote {url}: cannot reach the sidecar: *"
    # the failed test's transcript section says why there is none
    result.stdout.fnmatch_lines(["*- smtpfake transcript (none) -*", line])
    # each later test using the fixture: that line, no traceback through urllib
    result.stdout.fnmatch_lines(["*ERROR at setup of test_2*", line, "*ERROR at setup of test_3*"])
    assert "urllib" not in out and "Traceback" not in out, out[-3000:]


# The sidecar goes after the main process checked it, before the xdist workers configure (a
# container stopped early, an OOM kill; workers take seconds to come up on a busy runner).
GONE_BEFORE_WORKERS = """
import os, signal, socket, time
import pytest

@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    if hasattr(config, "workerinput"):
        return
    os.kill(int(os.environ["SIDECAR_PID"]), signal.SIGKILL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", int(os.environ["SIDECAR_API_PORT"])), 1).close()
        except OSError:
            return
        time.sleep(0.05)
    raise AssertionError("the sidecar is still there")
"""


def test_a_sidecar_gone_before_the_xdist_workers_start_is_one_line_per_test(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    sidecar: tuple[subprocess.Popen[bytes], str],
) -> None:
    # each worker raised the start-up UsageError: xdist printed a traceback per worker,
    # replaced it, waited again: ten crashes, "no tests ran", exit 5
    pytest.importorskip("xdist")
    proc, url = sidecar
    monkeypatch.setenv("SIDECAR_PID", str(proc.pid))
    monkeypatch.setenv("SIDECAR_API_PORT", url.rsplit(":", 1)[1])
    pytester.makeconftest(GONE_BEFORE_WORKERS)
    pytester.makepyfile(
        test_suite="""
        import pytest

        @pytest.mark.parametrize("i", range(4))
        def test_send(smtpfake, i):
            pass

        def test_plain():
            pass
        """
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-n", "2", "--smtpfake-remote", url,
        "--smtpfake-remote-wait", "1",
    )  # fmt: skip
    out = result.stdout.str() + result.stderr.str()
    assert proc.wait(10) is not None  # the conftest did kill it
    assert "node down" not in out and "Traceback" not in out, out[-3000:]
    result.assert_outcomes(passed=1, errors=4)
    line = f"*smtpfake: --smtpfake-remote {url}: cannot reach the sidecar: *"
    result.stdout.fnmatch_lines([line])


# both restart suites start the new sidecar the same way
START_AGAIN = """
import os, subprocess, sys, time, urllib.request

def start_again(port):
    # a new sidecar on the API port (its pid in RESTARTED_PID_FILE), once it answers
    for _ in range(300):
        proc = subprocess.Popen(
            [sys.executable, "-m", "smtpfake", "serve", "--port", "0", "--api-port", port],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(0.2)
        if proc.poll() is None:
            break  # (the old one's port may take a moment to be free)
    with open(os.environ["RESTARTED_PID_FILE"], "w") as f:
        f.write(str(proc.pid))
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2).close()
            return
        except OSError:
            assert proc.poll() is None
            time.sleep(0.1)
    raise AssertionError("the new sidecar never answered")
"""


# test_1 kills the sidecar and fails (its report says the sidecar is gone); test_2 errors in one
# line; test_3 (no fixture) starts a new sidecar on the same API port, writing its pid for the
# outer test to stop; test_4 then uses the fixture against it: a mail goes through
RESTARTED = (
    SUITE.split("def test_2")[0]
    + START_AGAIN
    + """
import smtplib

def test_2(smtpfake):
    pass

def test_3_restarts_the_sidecar():
    start_again(os.environ["SIDECAR_API_PORT"])

def test_4_uses_the_new_sidecar(smtpfake):
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=30) as client:
        client.sendmail("a@example.com", ["b@example.com"], "Subject: again\\r\\n\\r\\nhi\\r\\n")
    smtpfake.assert_delivered(1, subject="again")
"""
)


@contextlib.contextmanager
def _restarting(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    sidecar: tuple[subprocess.Popen[bytes], str],
    tmp_path: Path,
    suite: str,
) -> Iterator[pytest.RunResult]:
    """``suite`` run against ``sidecar``, which it kills and starts again on the same API port
    (the new one's pid in RESTARTED_PID_FILE); the new one is killed when the block ends."""
    proc, url = sidecar
    pid_file = tmp_path / "restarted.pid"
    monkeypatch.setenv("SIDECAR_PID", str(proc.pid))
    monkeypatch.setenv("SIDECAR_API_PORT", url.rsplit(":", 1)[1])
    monkeypatch.setenv("RESTARTED_PID_FILE", str(pid_file))
    pytester.makepyfile(test_suite=suite)
    try:
        yield pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-remote", url)
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_a_sidecar_restarted_mid_run_is_used_again(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    sidecar: tuple[subprocess.Popen[bytes], str],
    tmp_path: Path,
) -> None:
    """It was not picked up: every later test failed with "cannot reach the sidecar"."""
    _, url = sidecar
    with _restarting(pytester, monkeypatch, sidecar, tmp_path, RESTARTED) as result:
        pass
    out = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in out, out[-3000:]
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_2*",
            f"smtpfake: --smtpfake-remote {url}: cannot reach the sidecar: *",
        ]
    )
    said = f"smtpfake: the sidecar at {url} answers again: a new server of this process's own *"
    result.stdout.fnmatch_lines([said])
    assert result.stdout.str().count("answers again") == 1


# Restarted while no test looked (fresh15 F2): test_1 uses the fixture (its server on demand is
# s1 of the first run); test_2, without it, kills the sidecar and starts another on the same API
# port, where another client makes a server (s1 again: ids start anew with each run) and sends
# it a mail; test_3 then uses the fixture: it must get a new server of its own, not reset or
# drive the other client's s1 (it did, failing with ConnectionRefusedError on the old port)
UNSEEN = (
    START_AGAIN
    + """
import json, signal, smtplib

def test_1(smtpfake):
    pass

def test_2_restarts_the_sidecar_and_another_client_makes_s1():
    port = os.environ["SIDECAR_API_PORT"]
    os.kill(int(os.environ["SIDECAR_PID"]), signal.SIGKILL)
    start_again(port)
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/servers", data=b"{}", method="POST",
        headers={"Content-Type": "application/json"},
    )
    made = json.load(urllib.request.urlopen(req, timeout=10))
    assert made["id"] == "s1"
    with smtplib.SMTP("127.0.0.1", made["smtp_port"], timeout=30) as client:
        client.sendmail("a@example.com", ["b@example.com"], "Subject: other\\r\\n\\r\\nhi\\r\\n")

def test_3_gets_a_server_of_its_own(smtpfake):
    assert smtpfake.server_id != "s1"
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=30) as client:
        client.sendmail("a@example.com", ["b@example.com"], "Subject: mine\\r\\n\\r\\nhi\\r\\n")
    smtpfake.assert_delivered(1, subject="mine")
"""
)


def test_a_sidecar_restarted_while_no_test_looked_is_used_again_and_nobody_elses_server(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    sidecar: tuple[subprocess.Popen[bytes], str],
    tmp_path: Path,
) -> None:
    import json

    _, url = sidecar
    with _restarting(pytester, monkeypatch, sidecar, tmp_path, UNSEEN) as result:
        out = result.stdout.str() + result.stderr.str()
        assert "INTERNALERROR" not in out and "Traceback" not in out, out[-3000:]
        result.assert_outcomes(passed=3)
        said = f"smtpfake: the sidecar at {url} answers again: a new server of this process's *"
        result.stdout.fnmatch_lines([said])
        # the other client's server kept its mail: nobody reset it
        with urllib.request.urlopen(f"{url}/api/servers/s1/messages", timeout=10) as answer:
            assert [m["subject"] for m in json.load(answer)["messages"]] == ["other"]
