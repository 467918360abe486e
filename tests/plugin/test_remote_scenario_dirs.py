"""``--smtpfake-scenario-dir`` with ``--smtpfake-remote``: a name the local directories hold is
uploaded from there, so a suite with its own scenarios runs unchanged against a sidecar (the
names were looked up in the sidecar's library only: "no scenario named 'mine'")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smtpfake.http import ApiServer
from tests.support.sidecar import own_sidecar

pytest_plugins = ["pytester"]

SUITE = """
import smtplib
import pytest

def rcpt(smtpfake):
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
        c.ehlo()
        c.mail("a@x.test")
        return c.rcpt("b@y.test")

def test_session_default(smtpfake):
    assert smtpfake.scenario_name == "mine" and rcpt(smtpfake)[0] == 550

@pytest.mark.smtpfake("mine", params={"code": 551})
def test_marker_name(smtpfake):
    assert rcpt(smtpfake)[0] == 551

def test_use_name(smtpfake):
    smtpfake.use("default-override")
    assert rcpt(smtpfake) == (452, b"4.0.0 local default")

def test_builtin_names_still_reach_the_sidecar(smtpfake):
    smtpfake.use("450-mailbox-busy")
    assert rcpt(smtpfake)[0] == 450
"""

MINE = """summary: local
expect: local
params:
  code: {type: int, default: 550, min: 500, max: 559}
rules:
  - on: rcpt
    reply: ${code} 5.1.1 local
"""


@pytest.fixture
def sidecar() -> Iterator[ApiServer]:
    with own_sidecar() as api:
        yield api


def test_local_scenario_names_are_uploaded_to_the_sidecar(
    pytester: pytest.Pytester, sidecar: ApiServer
) -> None:
    folder = pytester.mkdir("scenarios")
    (folder / "mine.yaml").write_text(MINE)
    (folder / "default-override.yaml").write_text(
        "summary: s\nexpect: e\nrules:\n  - {on: rcpt, reply: 452 local default}\n"
    )
    pytester.makepyfile(test_suite=SUITE)
    args = ["-p", "no:cacheprovider", "--smtpfake-scenario-dir", str(folder)]
    args += ["--smtpfake-scenario", "mine"]
    pytester.runpytest(*args).assert_outcomes(passed=4)  # in-process, as a reference
    remote = pytester.runpytest(*args, "--smtpfake-remote", sidecar.url)
    remote.assert_outcomes(passed=4)
    # and a name neither the folder nor the sidecar holds is still one usage error
    typo = pytester.runpytest(
        "-p", "no:cacheprovider", "--smtpfake-scenario-dir", str(folder),
        "--smtpfake-scenario", "mien", "--smtpfake-remote", sidecar.url,
    )  # fmt: skip
    assert typo.ret == pytest.ExitCode.USAGE_ERROR
    typo.stderr.fnmatch_lines(["ERROR: smtpfake: --smtpfake-scenario *no scenario named 'mien'*"])
