"""``--smtpfake-remote`` (and RemoteSmtpFake) pointed at something that answers but is not a
sidecar's API -- its SMTP port, another web server, a reply cut short -- is one line naming the
URL and what answered: a usage error at once (no waiting for it to become one, no INTERNALERROR),
a NotASidecar (a RemoteError) rather than http.client's BadStatusLine or a KeyError."""

from __future__ import annotations

import pytest

from smtpfake.remote import NotASidecar, RemoteError, RemoteSmtpFake
from tests.plugin.not_a_sidecar import ANSWERS, answering


@pytest.mark.parametrize("kind", list(ANSWERS))
def test_the_client_says_what_answered(kind: str) -> None:
    answer, said = ANSWERS[kind]
    with answering(answer) as url:
        remote = RemoteSmtpFake(url, timeout=5)
        # every read and every change, not only health(): another JSON API's answers were read
        # as a sidecar's (KeyError: 'messages'), and reset() or use() "worked" (fresh15 F3)
        reads = [
            lambda: remote.host,
            remote.health,
            lambda: remote.messages,
            lambda: remote.sessions,
            lambda: remote.advance(1),
            remote.reset,
            lambda: remote.use("default"),
        ]
        for read in reads:
            remote = RemoteSmtpFake(url, timeout=5)  # (a first request checks once)
            with pytest.raises(NotASidecar) as excinfo:
                read()
            message = str(excinfo.value)
            assert isinstance(excinfo.value, RemoteError) and "\n" not in message
            assert message.startswith(f"{url} is not an smtpfake sidecar's API: ")
            assert said in message


def test_the_smtp_port_says_where_the_api_is() -> None:
    with answering(ANSWERS["an SMTP banner"][0]) as url, pytest.raises(NotASidecar) as excinfo:
        RemoteSmtpFake(url, timeout=5).health()
    assert "'220 smtpfake.test ESMTP smtpfake'; that is the SMTP port" in str(excinfo.value)
    assert "--api-port" in str(excinfo.value)


@pytest.mark.parametrize("kind", list(ANSWERS))
def test_the_start_up_check_is_one_usage_error_at_once(
    pytester: pytest.Pytester, kind: str
) -> None:
    """At once: with a 60 s wait allowed, a usage error (not the wait's end) shows it gave up
    without waiting (the message says nothing of the wait)."""
    answer, said = ANSWERS[kind]
    pytester.makepyfile(test_suite="def test_x(smtpfake):\n    pass\n")
    with answering(answer) as url:
        result = pytester.runpytest(
            "-p", "no:cacheprovider", "--smtpfake-remote", url, "--smtpfake-remote-wait", "60"
        )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert errors == [
        f"ERROR: smtpfake: --smtpfake-remote {url}: {url} is not an smtpfake sidecar's API: "
        + errors[0].split("sidecar's API: ", 1)[-1]
    ]
    assert said in errors[0] and "waited" not in errors[0]
    assert "Traceback" not in result.stderr.str() and "test_x" not in result.stdout.str()
