"""Item 4: the fixture's declared type covers the documented API, checked by mypy --strict."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TYPED_TEST = """
from __future__ import annotations

import re
import smtplib
import ssl

import pytest

from smtpfake.control import Control, Retry
from smtpfake.engine.records import Message, Violation
from smtpfake.journal import JournalCounts, SessionRecord
from smtpfake.server import Server


@pytest.fixture(scope="module")
def app_port(smtpfake_session: Control) -> int:
    return smtpfake_session.port


def test_every_documented_method(
    smtpfake: Control, app_port: int, smtpfake_server: Server
) -> None:
    assert smtpfake.port == app_port
    host: str = smtpfake.host
    address: tuple[str, int] = smtpfake.address
    with smtplib.SMTP(host, smtpfake.port, timeout=5) as c:
        c.sendmail("a@x.test", ["b@y.test"], b"Subject: hi\\r\\nX-Id: 7\\r\\n\\r\\nbody\\r\\n")
    messages: tuple[Message, ...] = smtpfake.assert_delivered(1, to="b@y.test", subject="hi")
    assert smtpfake.wait_for_messages(1) == smtpfake.messages == messages
    assert smtpfake.find_messages(sender="A@x.test", headers={"X-Id": re.compile("7")})
    smtpfake.assert_not_delivered(subject="bye")
    sessions: tuple[SessionRecord, ...] = smtpfake.assert_sent(code=250)
    assert smtpfake.sessions_where(code=221) == sessions == tuple(smtpfake.wait_for_sessions(1))
    assert smtpfake.sessions[0].reply_codes[0] == 220
    # the README says "a tuple": annotated so, they type-check as one (they were Sequence)
    kept: tuple[Message, ...] = smtpfake.messages
    records: tuple[SessionRecord, ...] = smtpfake.sessions
    waited: tuple[SessionRecord, ...] = smtpfake.wait_for_sessions(1)
    assert kept == smtpfake.wait_for_messages(1) and records == waited
    violations: tuple[Violation, ...] = smtpfake.violations
    assert violations == ()
    smtpfake.assert_no_violations()
    assert "C: QUIT" in smtpfake.transcript()
    retries: tuple[Retry, ...] = smtpfake.retries()
    assert retries == ()
    settled: bool = smtpfake.settle(timeout=1.0)
    smtpfake.settle_timeout = 1.0
    assert settled and smtpfake.scenario_name == "default" and address[1] > 0
    # the README's record and rule reports, typed as a new user wrote them (smtpfake.server
    # .rule_hits, once documented, is no attribute of Control: mypy refused it)
    (session,) = smtpfake.sessions
    end = session.end_of_data(messages[0])
    assert end is not None and end.code == 250 and session.exchanges()[0].code == 250
    assert smtpfake.counts.dropped() == "" and smtpfake.advance(1.0) > 0
    hits: dict[str, int] = smtpfake_server.rule_hits
    assert hits == {} and session.rule_hits == {}
    smtpfake.use("tls-required", seed=3)
    ca: str = smtpfake.ca_file
    context: ssl.SSLContext = smtpfake.client_ssl_context()
    assert ca and context
    smtpfake.use({"rules": [{"on": "mail", "reply": "451 4.3.0 later"}]})
    with pytest.raises(AssertionError):
        smtpfake.assert_retried(1, min_delay=0.5)
    counts: JournalCounts = smtpfake.counts
    assert counts.sessions_started == 1 and counts.dropped() == ""
    smtpfake.use("greylisting", params={"delay": "5m"})
    name: str = smtpfake.scenario_name
    now: float = smtpfake.advance(300.0)
    assert name == "greylisting" and now >= 300.0
    smtpfake.reset()
"""


def test_a_strictly_typed_test_passes_mypy_and_runs(pytester: pytest.Pytester) -> None:
    api = pytest.importorskip("mypy.api")
    path = pytester.makepyfile(test_typed=TYPED_TEST)
    cache = pytester.path / ".mypy_cache"
    out, err, status = api.run(
        ["--strict", "--cache-dir", str(cache), "--no-error-summary", str(path)]
    )
    assert status == 0, out + err
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_violations_is_a_tuple(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "def test_t(smtpfake):\n"
        "    assert smtpfake.violations == () and smtpfake.messages == ()\n"
        "    assert smtpfake.sessions == ()\n"
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_control_module_is_light() -> None:
    # users import the type at test-module level; it must not start the server stack
    source = (Path(__file__).parents[2] / "smtpfake" / "control.py").read_text()
    head = source.split("if TYPE_CHECKING:")[0]
    assert "smtpfake.server" not in head and "smtpfake.engine" not in head
