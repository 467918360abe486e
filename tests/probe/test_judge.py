"""Judging: each check kind on evidence built by hand, and how checks make a verdict."""

from __future__ import annotations

import pytest

from smtpfake.engine.records import Message, TranscriptEntry, Violation
from smtpfake.journal import SessionRecord
from smtpfake.probe.judge import JUDGES, Evidence, Verdict, judge_checks, verdict
from smtpfake.probe.outcomes import ExitMap, classify
from smtpfake.scenario.checks import CHECK_KINDS, Check, ClientKind, Level

ONE, RETRY = ClientKind.ONE_SHOT, ClientKind.RETRYING


def session(
    *commands: str,
    messages: int = 0,
    violations: tuple[str, ...] = (),
    index: int = 1,
    sender: str = "a@x",
) -> SessionRecord:
    return SessionRecord(
        index=index,
        peer="127.0.0.1:1",
        started=0.0,
        ended=1.0,
        transcript=tuple(TranscriptEntry(0.0, "client", c) for c in commands),
        violations=tuple(Violation(k, "d", "", 0.0) for k in violations),
        messages=tuple(Message(sender, ("b@y",), b"", index, 0.0, "Q") for _ in range(messages)),
    )


def judged(check: Check, ev: Evidence, client: ClientKind = ONE) -> bool:
    (result,) = judge_checks((check,), client, ev)
    return result.passed


def test_every_check_kind_has_a_judge() -> None:
    assert set(JUDGES) == set(CHECK_KINDS)


@pytest.mark.parametrize(
    ("check", "passes", "fails"),
    [
        (Check("delivered", 1, "r"), Evidence((session(messages=1),)), Evidence((session(),))),
        (
            Check("delivered", 1, "r"),
            Evidence((session(messages=1), session(index=2))),
            Evidence((session(messages=1), session(messages=1, index=2))),  # a duplicate
        ),
        (
            Check("outcome", ("transient",), "r"),
            Evidence((), outcome="transient"),
            Evidence((), outcome="delivered"),
        ),
        (
            Check("outcome", ("transient",), "r"),
            Evidence((), outcome="transient"),
            Evidence((), outcome="transient", timed_out=True),  # stopped: no report counts
        ),
        (
            Check("no-violations", ("no-quit",), "r"),
            Evidence((session(violations=("no-quit",)),)),
            Evidence((session(violations=("no-quit", "bare-lf")),)),
        ),
        (
            Check("forbid", ("sent-after-close",), "r"),
            Evidence((session(violations=("no-quit",)),)),
            Evidence((session(violations=("sent-after-close",)),)),
        ),
        (
            Check("never-sent", ("AUTH",), "r"),
            Evidence((session("EHLO x", "(AUTH is in a note)", "MAIL FROM:<a>"),)),
            Evidence((session("EHLO x", "auth plain AGFsaWNl"),)),
        ),
        (
            Check("max-connections", 1, "r"),
            Evidence((session(),)),
            Evidence((session(), session(index=2))),
        ),
    ],
)
def test_a_check_passes_and_fails(check: Check, passes: Evidence, fails: Evidence) -> None:
    assert judged(check, passes)
    assert not judged(check, fails)


def test_retried_counts_connections() -> None:
    retried = Check("retried", True, "r", clients=(RETRY,))
    assert judged(retried, Evidence((session(), session(index=2))), RETRY)
    assert not judged(retried, Evidence((session(),)), RETRY)
    # a check for the other kind of client is not judged at all
    assert judge_checks((retried,), ONE, Evidence(())) == ()


def _verdict(*pairs: tuple[Level, bool]) -> Verdict:
    checks = tuple(Check("delivered", 1 if ok else 0, "r", level) for level, ok in pairs)
    ev = Evidence((session(messages=1),))
    return verdict(judge_checks(checks, ONE, ev), ev)[0]


def test_verdicts_grade_like_autobahn() -> None:
    must, should, info = Level.MUST, Level.SHOULD, Level.INFO
    assert _verdict((must, True), (should, True)) is Verdict.PASS
    assert _verdict((must, True), (should, False)) is Verdict.NON_STRICT
    assert _verdict((must, False), (should, False)) is Verdict.FAIL
    assert _verdict((info, False)) is Verdict.INFORMATIONAL
    assert _verdict((must, True), (info, False)) is Verdict.PASS


def test_the_reason_names_the_first_failed_must_with_its_rfc() -> None:
    checks = (
        Check("delivered", 0, "RFC A", Level.SHOULD),
        Check("outcome", ("transient",), "RFC B"),
        Check("max-connections", 0, "RFC C"),
    )
    ev = Evidence((session(messages=1),), outcome="delivered", exit_status=0)
    grade, reason = verdict(judge_checks(checks, ONE, ev), ev)
    assert grade is Verdict.FAIL
    assert reason == ("expected outcome: transient; reported delivered (exit 0) [RFC B] (+1 more)")


def test_a_client_that_could_not_run_fails() -> None:
    ev = Evidence((), error="no such file")
    assert verdict((), ev) == (Verdict.FAIL, "the client could not be run: no such file")


def test_exit_statuses_map_like_sendmail_by_default() -> None:
    default = ExitMap()
    assert [default.outcome(s) for s in (0, 75, 1, 69, -9)] == [
        "delivered", "transient", "permanent", "permanent", "permanent",
    ]  # fmt: skip
    custom = ExitMap.parse("delivered=0:2,transient=3")
    assert [custom.outcome(s) for s in (2, 3, 75)] == ["delivered", "transient", "permanent"]
    with pytest.raises(ValueError, match="expected delivered=N or transient=N"):
        ExitMap.parse("bounced=1")


def test_exceptions_classify_by_reply_code() -> None:
    import smtplib

    assert classify(smtplib.SMTPResponseException(451, b"later")) == "transient"
    assert classify(smtplib.SMTPDataError(554, b"no")) == "permanent"
    assert classify(smtplib.SMTPServerDisconnected("gone")) == "transient"
    assert classify(ConnectionResetError()) == "transient"
    refused = {"a@x": (550, b"no"), "b@x": (450, b"later")}
    assert classify(smtplib.SMTPRecipientsRefused(refused)) == "transient"
    assert classify(smtplib.SMTPRecipientsRefused({"a@x": (550, b"no")})) == "permanent"
    assert classify(ValueError("a bug in the mailer")) == "permanent"


def test_aiosmtplib_exceptions_classify_too() -> None:
    import aiosmtplib

    assert classify(aiosmtplib.SMTPResponseException(421, "bye")) == "transient"
    assert classify(aiosmtplib.SMTPDataError(554, "no")) == "permanent"
    assert classify(aiosmtplib.SMTPServerDisconnected("gone")) == "transient"
    assert classify(aiosmtplib.SMTPConnectError("refused")) == "transient"
    refused = [aiosmtplib.SMTPRecipientRefused(450, "later", "a@x")]
    assert classify(aiosmtplib.SMTPRecipientsRefused(refused)) == "transient"
    refused = [aiosmtplib.SMTPRecipientRefused(550, "no", "a@x")]
    assert classify(aiosmtplib.SMTPRecipientsRefused(refused)) == "permanent"


def test_bounces_are_neither_deliveries_nor_retries() -> None:
    """An MTA that gives up sends a bounce (MAIL FROM:<>) through the same relay: that is not
    the message, and not a retry of it."""
    bounce = session("EHLO relay", "MAIL FROM:<>", "RCPT TO:<a@x>", messages=1, sender="", index=2)
    ev = Evidence((session("EHLO relay", "MAIL FROM:<a@x>"), bounce))
    assert ev.delivered == 0
    assert judged(Check("retried", False, "r", clients=(RETRY,)), ev, RETRY)
    assert judged(Check("max-connections", 1, "r"), ev)
    assert not judged(Check("max-connections", 1, "r"), Evidence((session(), session())))
