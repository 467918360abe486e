"""Item 3 and 7: the transcript in the failure (terminal once, JUnit XML), the header."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.support.ports import free_ports

pytest_plugins = ["pytester"]

FAILING = """
import smtplib

def test_fails(smtpfake):
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
        c.noop()
    smtpfake.assert_delivered(1, subject="Welcome")

def test_passes(smtpfake):
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
        c.noop()
"""


@pytest.mark.parametrize(("family", "logging"), [("xunit1", "no"), ("xunit2", "all")])
def test_transcript_reaches_junit_xml(pytester: pytest.Pytester, family: str, logging: str) -> None:
    pytester.makepyfile(FAILING)
    xml = pytester.path / "out.xml"
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        f"--junitxml={xml}",
        "-o",
        f"junit_family={family}",
        "-o",
        f"junit_logging={logging}",  # the issue's: all (it was lost even so), once
    )
    result.assert_outcomes(failed=1, passed=1)
    cases = {c.get("name"): c for c in ET.parse(xml).getroot().iter("testcase")}
    failure = cases["test_fails"].find("failure")
    assert failure is not None
    text = failure.text or ""
    assert "smtpfake transcript (default, 127.0.0.1:" in text
    assert "C: noop" in text and "S: 250 2.0.0 Ok" in text
    assert "expected 1 accepted message(s) matching subject='Welcome', got 0" in text
    assert cases["test_passes"].find("failure") is None
    assert xml.read_text().count("C: noop") == 1  # in the <failure>, not again in system-out


def test_transcript_printed_once_and_helper_frames_hidden(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(FAILING)
    result = pytester.runpytest("-p", "no:cacheprovider")
    out = result.stdout.str()
    assert out.count("C: noop") == 1
    assert "smtpfake transcript (default, 127.0.0.1:" in out
    # the failure points at the test's line, not inside smtpfake/control.py
    assert "control.py" not in out
    result.stdout.fnmatch_lines(['*smtpfake.assert_delivered(1, subject="Welcome")*'])


@pytest.mark.parametrize("wait", ["wait_for_messages", "wait_for_sessions"])
def test_a_wait_that_times_out_points_at_the_tests_line(
    pytester: pytest.Pytester, wait: str
) -> None:
    """A new user's timed-out wait showed smtpfake/control.py's frame, where every failing
    assertion helper ends at the test's line (issue 11 item 8)."""
    pytester.makepyfile(
        f"""
        import smtplib

        def test_waits(smtpfake):
            c = smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5)
            c.noop()  # open: its session has not ended, and no message came
            smtpfake.settle_timeout = 0.1
            try:
                smtpfake.{wait}(1, timeout=0.2)
            finally:
                c.quit()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "control.py" not in out
    result.stdout.fnmatch_lines([f"*smtpfake.{wait}(1, timeout=0.2)", "E   *TimeoutError: waited*"])


def test_xdist_workers_each_have_a_server(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    base = free_ports(2)  # gw0 and gw1 listen on base and base + 1
    pytester.makepyfile(
        f"""
        import os, smtplib, pytest

        @pytest.mark.parametrize("i", range(8))
        def test_isolated(smtpfake, i):
            # a fixed port is offset per worker: gw0 on BASE, gw1 on BASE + 1
            assert smtpfake.port == {base} + int(os.environ["PYTEST_XDIST_WORKER"][2:])
            with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
                c.sendmail("a@x.test", [f"n{{i}}@y.test"], b"Subject: x\\r\\n\\r\\nx\\r\\n")
            (m,) = smtpfake.assert_delivered(1)
            assert m.rcpt_tos == (f"n{{i}}@y.test",)

        def test_fails_with_worker_in_title(smtpfake):
            smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5).quit()
            assert False
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-n", "2", f"--smtpfake-port={base}")
    result.assert_outcomes(passed=8, failed=1)
    result.stdout.fnmatch_lines(
        [
            "smtpfake: * (one server per xdist worker; the worker id heads each transcript)*",
            "*smtpfake transcript (default, 127.0.0.1:*, worker gw*)*",
        ]
    )


def test_a_clients_control_bytes_are_shown_not_played(pytester: pytest.Pytester) -> None:
    """An ESC sequence a client sent cleared and recoloured the terminal (and the CI log) when
    the transcript was printed; a NUL or an octet that is not UTF-8 went out raw."""
    pytester.makepyfile(
        """
        import socket

        def test_garbage(smtpfake):
            with socket.create_connection((smtpfake.host, smtpfake.port), timeout=5) as s:
                s.recv(100)
                s.sendall(b"HELO \\x1b[2J\\x1b[31mred\\x07\\xff\\r\\nQUIT\\r\\n")
                while s.recv(100):
                    pass
            assert "HELO \\\\x1b[2J\\\\x1b[31mred\\\\x07\\\\xff" in smtpfake.transcript()
            assert False, "show the transcript"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "C: HELO \\x1b[2J\\x1b[31mred\\x07\\xff" in out
    assert "\x1b" not in out and "\x07" not in out
