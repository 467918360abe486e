"""Item 7: xdist workers against one shared sidecar each get a server of their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.plugin.servers_sidecar import ServersSidecar

pytest_plugins = ["pytester"]

# Each test resets the server and counts exactly what it sent: on a shared server, a worker's
# reset between another's send and count fails that other test.
SUITE = """
import smtplib, time, pytest

@pytest.mark.parametrize("i", range(12))
def test_own_server(smtpfake, i):
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
        c.sendmail("a@x.test", [f"n{i}@y.test"], b"Subject: s\\r\\n\\r\\nx\\r\\n")
        time.sleep(0.02)  # a window in which another worker's reset would land
        c.sendmail("a@x.test", [f"n{i}@y.test"], b"Subject: s\\r\\n\\r\\nx\\r\\n")
    assert [m.rcpt_tos for m in smtpfake.assert_delivered(2)] == [(f"n{i}@y.test",)] * 2
"""


@pytest.fixture
def sidecar() -> Iterator[ServersSidecar]:
    front = ServersSidecar()
    try:
        yield front
    finally:
        front.close()


def test_each_worker_gets_its_own_server(
    pytester: pytest.Pytester, sidecar: ServersSidecar
) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-n", "2", "--smtpfake-remote", sidecar.url
    )
    result.assert_outcomes(passed=12)
    assert sidecar.made == 2  # one per worker
    assert sidecar.servers == {}  # each deleted when its worker's session ended


def test_without_xdist_one_server_is_made_and_deleted(
    pytester: pytest.Pytester, sidecar: ServersSidecar
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-remote", sidecar.url)
    result.assert_outcomes(passed=12)
    assert sidecar.made == 1 and sidecar.servers == {}
    # the shared server saw none of it
    assert sidecar.shared.server.sessions == ()


def test_a_sidecar_without_servers_on_demand_is_shared_with_a_warning(
    pytester: pytest.Pytester, sidecar: ServersSidecar
) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(
        test_suite="def test_a(smtpfake):\n    pass\n\ndef test_b(smtpfake):\n    pass\n"
    )
    plain = sidecar.without_servers_url  # as a sidecar from before POST /api/servers
    result = pytester.runpytest("-p", "no:cacheprovider", "-n", "2", "--smtpfake-remote", plain)
    outcomes = result.parseoutcomes()
    # one warning per worker that ran a test (xdist may give both tests to one worker)
    assert outcomes["passed"] == 2 and outcomes["warnings"] in (1, 2)
    result.stdout.fnmatch_lines(["*cannot make a server per worker*reset each other*"])


def test_remote_reads_settle_too(pytester: pytest.Pytester, sidecar: ServersSidecar) -> None:
    pytester.makepyfile(
        test_suite="""
import smtplib, pytest

@pytest.mark.parametrize("i", range(20))
def test_no_quit(smtpfake, i):
    s = smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5)
    s.ehlo()
    s.close()
    assert [v.kind for v in smtpfake.violations] == ["no-quit"]
    assert smtpfake.sessions[0].ended is not None
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-remote", sidecar.url)
    result.assert_outcomes(passed=20)


def test_remote_inline_dict_errors_name_the_key_path(
    pytester: pytest.Pytester, sidecar: ServersSidecar
) -> None:
    pytester.makepyfile(
        test_suite="""
def test_bad(smtpfake):
    smtpfake.use({"rules": [{"on": "rcpt", "reply": "45x nope"}]})
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-remote", sidecar.url)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ScenarioError: rules[[]1[]].reply: a reply starts with its*"])
    assert "<inline>:" not in result.stdout.str()
