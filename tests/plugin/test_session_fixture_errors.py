"""A back end's failure for mail that no ``smtpfake`` fixture reports (fresh17 F6): a test that
sends through ``smtpfake_session`` only, and module- or session-scoped fixtures that send mail
outside any test. Each is told once, never dropped by the next ``smtpfake`` test's reset."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

CONFTEST = """
import smtplib
import pytest
from smtpfake.pytest_plugin import Settings


class Raises:
    async def handle_DATA(self, server, session, envelope):
        subject = envelope.content.decode(errors="replace").splitlines()[0]
        raise RuntimeError("delivery boom for " + subject)


@pytest.fixture(scope="session")
def smtpfake_settings():
    return Settings(delivery=Raises())


def send(fake, subject):
    with smtplib.SMTP(fake.host, fake.port, timeout=5) as c:
        c.sendmail("a@x.test", ["b@x.test"], f"Subject: {subject}\\r\\n\\r\\nx\\r\\n")
"""


def _run(pytester: pytest.Pytester, tests: str) -> pytest.RunResult:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(tests)
    # in a process of its own: in-process, the plugin's lazily imported modules are compiled
    # (assertion rewriting) under two pytest stacks, where CPython 3.11.7 once raised
    # "SystemError: AST constructor recursion depth mismatch" (a CI dry run)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA")


def test_the_test_that_sent_through_smtpfake_session_fails_at_teardown(
    pytester: pytest.Pytester,
) -> None:
    result = _run(
        pytester,
        """
from conftest import send

def test_a(smtpfake_session):
    send(smtpfake_session, "from-test-a")

def test_b(smtpfake):
    pass

def test_c(smtpfake_session):
    pass
""",
    )
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_a*", "*RuntimeError: delivery boom for Subject: from-test-a*"]
    )
    # told once, at test_a's teardown: test_b's and test_c's teardowns pass (no second error)
    result.stdout.fnmatch_lines(["PASSED *::test_b", "PASSED *::test_c"])


def test_a_module_fixtures_mail_is_told_before_the_next_reset(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
import pytest
from conftest import send

@pytest.fixture(scope="module")
def sent_once(smtpfake_session):
    send(smtpfake_session, "from-module-fixture")

def test_a(sent_once, smtpfake):
    pass

def test_b(smtpfake):
    pass
""",
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_a*",
            "*server errors from before this test's reset*",
            "*RuntimeError: delivery boom for Subject: from-module-fixture*",
        ]
    )


def test_a_session_fixtures_mail_after_the_last_test_is_told_at_the_end(
    pytester: pytest.Pytester,
) -> None:
    result = _run(
        pytester,
        """
import pytest
from conftest import send

@pytest.fixture(scope="session")
def sends_at_the_end(smtpfake_session):
    yield
    send(smtpfake_session, "from-session-teardown")

def test_a(sends_at_the_end):
    pass
""",
    )
    result.stdout.fnmatch_lines(
        [
            "*server errors at the session's end*",
            "*RuntimeError: delivery boom for Subject: from-session-teardown*",
        ]
    )
    result.assert_outcomes(passed=1, errors=1)
