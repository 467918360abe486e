"""Cases whose point is easy to get wrong, each with a client that gets it wrong in exactly that
way, over a real socket: the probe must catch it, with the check and RFC section that says why."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Callable
from pathlib import Path

import aiosmtplib
import pytest

from smtpfake.probe.cases import Case, Target, load_cases
from smtpfake.probe.judge import Verdict
from smtpfake.probe.pytest_cases import run_with
from smtpfake.probe.runner import Options, run_case
from smtpfake.scenario.checks import ClientKind
from smtpfake.tls import TlsUnavailable

CASES = {c.name: c for c in load_cases()}


def _smtplib(target: Target, *, tls: bool = True) -> smtplib.SMTP:
    smtp = smtplib.SMTP(target.host, target.port, timeout=10)
    if tls and target.tls == "starttls":
        smtp.starttls(context=ssl.create_default_context(cafile=target.ca_file))
    return smtp


def test_stripped_starttls_catches_a_client_that_logs_in_in_clear_text() -> None:
    def opportunistic(target: Target) -> None:
        with _smtplib(target, tls=False) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls()
            assert target.credentials
            smtp.login(*target.credentials)  # the password goes out unencrypted
            smtp.sendmail(target.sender, list(target.recipients), target.message)

    result = run_with(CASES["starttls-stripped"], opportunistic)
    assert result.verdict is Verdict.FAIL
    assert result.reason.startswith("expected never-sent: AUTH; sent AUTH [RFC 3207 §6")


def test_the_duplicate_trap_catches_a_client_that_resends_after_250() -> None:
    """close-at-quit: the 250 came, then QUIT found the connection gone. A client that counts
    the whole exchange as failed and sends again delivers the message twice."""

    def resends(target: Target) -> None:
        for _ in range(2):
            smtp = _smtplib(target)
            try:
                smtp.sendmail(target.sender, list(target.recipients), target.message)
                smtp.quit()  # raises: the server closed instead of answering 221
                return
            except smtplib.SMTPServerDisconnected:
                smtp.close()
                continue

    result = run_with(CASES["close-at-quit"], resends)
    assert result.verdict is Verdict.FAIL
    assert result.evidence.delivered == 2
    assert "expected delivered: 1; delivered 2 time(s) [RFC 5321 §6.1" in result.reason


def test_a_client_that_treats_a_421_after_the_dot_as_sent_loses_the_message() -> None:
    def sent_once_data_is_out(target: Target) -> str:
        try:
            with _smtplib(target) as smtp:
                smtp.sendmail(target.sender, list(target.recipients), target.message)
        except smtplib.SMTPException:
            pass
        return "delivered"

    result = run_with(CASES["421-after-dot"], sent_once_data_is_out)
    assert result.verdict is Verdict.FAIL
    assert result.reason.startswith("expected outcome: transient; reported delivered")
    assert result.evidence.delivered == 0


def test_a_retrying_client_that_comes_back_at_once_is_non_strict() -> None:
    """retry-after asks clients to stay away 2 s after a 4xx: coming straight back is recorded
    as retry-too-soon, a SHOULD (RFC 5321 §4.5.4.1)."""

    def impatient(target: Target) -> None:
        for _ in range(2):
            try:
                with _smtplib(target) as smtp:
                    smtp.sendmail(target.sender, list(target.recipients), target.message)
                return
            except smtplib.SMTPConnectError:
                continue

    result = run_with(CASES["retry-after"], impatient, kind=ClientKind.RETRYING, budget=10)
    assert result.verdict is Verdict.NON_STRICT
    assert result.reason.startswith("expected forbid: retry-too-soon; recorded retry-too-soon")


def test_partial_refusal_452_needs_a_second_transaction() -> None:
    """452-too-many-recipients: smtplib's sendmail drops the third recipient (non-strict);
    sending the refused ones again in a new transaction passes."""

    def one_transaction(target: Target) -> None:
        with _smtplib(target) as smtp:
            smtp.sendmail(target.sender, list(target.recipients), target.message)

    def until_all_taken(target: Target) -> None:
        pending = list(target.recipients)
        with _smtplib(target) as smtp:
            for _ in range(len(pending)):
                refused = smtp.sendmail(target.sender, pending, target.message)
                pending = [r for r, (code, _) in refused.items() if code == 452]
                if not pending:
                    return

    case = CASES["452-too-many-recipients"]
    assert run_with(case, one_transaction).verdict is Verdict.NON_STRICT
    result = run_with(case, until_all_taken)
    assert result.verdict is Verdict.PASS, result.reason
    sent = [m.rcpt_tos for s in result.evidence.sessions for m in s.messages]
    assert sent == [("one@probe.test", "two@probe.test"), ("three@probe.test",)]


def test_a_case_that_cannot_be_served_here_fails_with_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_trustme(*args: object, **kwargs: object) -> None:
        raise TlsUnavailable("pip install 'smtpfake[tls]'")

    monkeypatch.setattr("smtpfake.probe.runner.Server", no_trustme)
    case: Case = CASES["tls-required"]
    result = run_case(case, lambda target, timeout: pytest.fail("must not run"), Options())
    assert result.verdict is Verdict.FAIL
    assert result.reason == "cannot serve this case here: pip install 'smtpfake[tls]'"


def _sendmail(*mail_options: str) -> Callable[[Target], None]:
    """smtplib's sendmail with these MAIL parameters."""

    def send(target: Target) -> None:
        with _smtplib(target) as smtp:
            recipients = list(target.recipients)
            smtp.sendmail(target.sender, recipients, target.message, list(mail_options))

    return send


def _utf8_without_smtputf8(target: Target) -> str:
    """Sends the UTF-8 sender as UTF-8 octets without the SMTPUTF8 parameter (aiosmtplib's
    public ``mail(..., encoding="utf-8")``), whatever EHLO said; reports the refusal as a
    permanent failure, as a careful client would report an address it cannot send."""

    async def send() -> None:
        async with aiosmtplib.SMTP(hostname=target.host, port=target.port, timeout=10) as smtp:
            await smtp.mail(target.sender, encoding="utf-8")

    try:
        asyncio.run(send())
    except aiosmtplib.SMTPSenderRefused as refused:
        assert (refused.code, refused.message[:6]) == (553, "5.6.7 ")
        return "permanent"
    return "delivered"


@pytest.mark.parametrize(
    ("name", "forbidden", "rfc"),
    [
        ("no-smtputf8", "utf8-address-without-smtputf8, unknown-parameter", "RFC 6531 §3.2"),
        ("smtputf8-address", "utf8-address-without-smtputf8", "RFC 6531 §3.4"),
    ],
)
def test_a_utf8_address_without_smtputf8_fails_the_client(
    name: str, forbidden: str, rfc: str
) -> None:
    """The server refuses it (553 5.6.7), so the client reports a permanent failure and
    delivers nothing, as a good client would; the address it sent still fails it."""
    result = run_with(CASES[name], _utf8_without_smtputf8)
    assert result.verdict is Verdict.FAIL
    expected = f"expected forbid: {forbidden}; recorded utf8-address-without-smtputf8 [{rfc}"
    assert result.reason.startswith(expected), result.reason
    assert result.evidence.delivered == 0


def test_no_smtputf8_passes_a_client_that_refuses_before_sending() -> None:
    # smtplib cannot encode the address without SMTPUTF8: it never sends it
    result = run_with(CASES["no-smtputf8"], _sendmail())
    assert result.verdict is Verdict.PASS, result.reason
    assert "MAIL" not in result.evidence.verbs


def test_smtputf8_address_passes_a_client_that_declares_it() -> None:
    result = run_with(CASES["smtputf8-address"], _sendmail("SMTPUTF8"))
    assert result.verdict is Verdict.PASS, result.reason
    assert result.evidence.delivered == 1


def _helo_then_pipelines(target: Target) -> None:
    """HELO (so PIPELINING was never offered), then MAIL, RCPT and DATA in one write."""
    with _smtplib(target, tls=False) as smtp:
        smtp.helo("sloppy.example.test")
        group = f"MAIL FROM:<{target.sender}>\r\n"
        group += "".join(f"RCPT TO:<{r}>\r\n" for r in target.recipients)
        smtp.send(group + "DATA\r\n")
        codes = [smtp.getreply()[0] for _ in range(2 + len(target.recipients))]
        assert codes[-1] == 354, codes
        text = target.message.replace(b"\r\n.", b"\r\n..")
        smtp.send(text + (b"" if text.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        assert smtp.getreply()[0] == 250


def test_pipelining_fails_a_client_that_pipelines_after_helo() -> None:
    """The case offers PIPELINING in its EHLO reply only: a client that greets with HELO
    was never offered it and must not pipeline (RFC 2920 §3)."""
    result = run_with(CASES["pipelining"], _helo_then_pipelines)
    assert result.verdict is Verdict.FAIL
    expected = (
        "expected forbid: bad-pipelining, pipelining-without-extension, early-talker;"
        " recorded pipelining-without-extension"
    )
    assert result.reason.startswith(expected), result.reason
