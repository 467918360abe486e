"""The journal's limits as fixture settings (``--smtpfake-journal-*``, ini, ``smtpfake_settings``),
``smtpfake.counts``, and a line in the failure report when the journal dropped anything."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

OVER_THE_LIMIT = """
import smtplib

def test_over(smtpfake):
    for i in range(3):
        with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
            c.sendmail("a@x.test", ["b@y.test"], f"Subject: {i}\\r\\n\\r\\nbody\\r\\n")
    assert len(smtpfake.wait_for_messages(3)) == 1
    counts = smtpfake.counts
    assert (counts.messages_accepted, counts.messages_dropped) == (3, 2)
    assert (counts.sessions_ended, counts.sessions_dropped) == (3, 2)
    assert False, "see the report"

def test_within(smtpfake):
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
        c.noop()
    assert smtpfake.counts.sessions_dropped == 0
    assert False, "no drop line here"
"""


def test_the_flags_limit_the_journal_and_the_report_says_what_was_dropped(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(OVER_THE_LIMIT)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--smtpfake-journal-messages=1", "--smtpfake-journal-sessions=1"
    )
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "AssertionError: see the report" in out
    assert "AssertionError: no drop line here" in out
    # once: in test_over's report only (the counts start again at each test)
    assert out.count("the journal did not keep everything:") == 1
    result.stdout.fnmatch_lines(
        [
            "*smtpfake: scenario=default * journal sessions=1,messages=1*",
            "*the journal did not keep everything: 2 session(s), 2 message(s) (the oldest go "
            "first; 3 message(s) accepted*",
        ]
    )


def test_ini_keys_set_them_too(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nsmtpfake_journal_messages = 1\nsmtpfake_journal_sessions = 1\n")
    pytester.makepyfile(OVER_THE_LIMIT)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(failed=2)


def test_smtpfake_settings_in_code(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        from smtpfake.journal import JournalLimits
        from smtpfake.pytest_plugin import Settings

        @pytest.fixture(scope="session")
        def smtpfake_settings():
            return Settings(journal_limits=JournalLimits(messages=1, sessions=1))
        """
    )
    pytester.makepyfile(OVER_THE_LIMIT)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(failed=2)


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (
            "--smtpfake-journal-messages=0",
            "smtpfake: --smtpfake-journal-messages (ini smtpfake_journal_messages): "
            "must be at least 1, got '0'",
        ),
        (
            "--smtpfake-journal-entries=nan",
            "smtpfake: --smtpfake-journal-entries (ini smtpfake_journal_entries): "
            "expected a whole number",
        ),
        ("--smtpfake-journal-sessions=" + "9" * 5000, "at most 40 characters"),
    ],
)
def test_a_bad_limit_is_one_usage_error(pytester: pytest.Pytester, flag: str, message: str) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("-p", "no:cacheprovider", flag)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_limits_with_a_sidecar_are_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--smtpfake-remote=http://127.0.0.1:9",
        "--smtpfake-journal-messages=5",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "a sidecar's are its own (smtpfake serve --journal-*)" in result.stderr.str()


def test_the_flags_are_journal_limits_fields() -> None:
    """The plugin names the --smtpfake-journal-* flags from a table of its own (loading it must
    not import the dataclass): the table is JournalLimits' fields, defaults and docs."""
    import dataclasses

    from smtpfake.journal_limits import JournalLimits
    from smtpfake.pytest_plugin import _JOURNAL_LIMITS

    fields = dataclasses.fields(JournalLimits)
    assert {f.name: (f.default, f.metadata["doc"]) for f in fields} == _JOURNAL_LIMITS
