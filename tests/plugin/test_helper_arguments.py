"""A wrong argument to a helper of the ``smtpfake`` fixture (a wrong type, a number where it
means nothing) is one TypeError or ValueError naming the call, the argument and what it takes,
with the traceback ending at the test's line; the same line in-process and against a sidecar
(issue 11 item 6). Before, ``wait_for_messages("x")`` was Python's own TypeError from inside
the journal's wait, ``sessions_where(rule=5)`` and ``find_messages(to=5)`` failed inside the
query, ``settle(-1)`` was accepted, and ``use(5)`` was a TypeError in-process but a
ScenarioError on a sidecar."""

from __future__ import annotations

from typing import Any

import pytest

from smtpfake import arguments
from smtpfake.remote import RemoteSmtpFake
from tests.support.sidecar import own_sidecar

pytest_plugins = ["pytester"]

#: (the test's one line, the error pytest shows for it): the same both ways
MISTAKES = [
    (
        'smtpfake.wait_for_messages("x")',
        "TypeError: wait_for_messages(count='x'): expected a whole number from 1 to 1000000, "
        "not a str",
    ),
    (
        "smtpfake.wait_for_messages(0)",
        "ValueError: wait_for_messages(count=0): expected a whole number from 1 to 1000000, got 0",
    ),
    (
        "smtpfake.wait_for_sessions(1, timeout=-1)",
        "ValueError: wait_for_sessions(timeout=-1): expected seconds from 0 to 300, got -1",
    ),
    (
        "smtpfake.sessions_where(rule=5)",
        "TypeError: sessions_where(rule=5): expected None or a rule's name, not a int",
    ),
    (
        'smtpfake.sessions_where(code="421")',
        "TypeError: sessions_where(code='421'): expected None or a whole number from 200 to "
        "599, not a str",
    ),
    (
        "smtpfake.assert_sent(code=42)",
        "ValueError: assert_sent(code=42): expected None or a whole number from 200 to 599, got 42",
    ),
    (
        "smtpfake.settle(-1)",
        "ValueError: settle(timeout=-1): expected None or seconds from 0 to 86400, got -1",
    ),
    (
        "smtpfake.find_messages(to=5)",
        "TypeError: find_messages(to=5): expected None, a string or an re.compile() pattern, "
        "not a int",
    ),
    (
        'smtpfake.find_messages(headers={"Subject": 5})',
        "TypeError: find_messages(headers['Subject']=5): expected a string or an "
        "re.compile() pattern, not a int",
    ),
    (
        "smtpfake.assert_delivered(-1)",
        "ValueError: assert_delivered(count=-1): expected None or a whole number from 0 to "
        "1000000, got -1",
    ),
    (
        'smtpfake.assert_not_delivered(subject=b"x")',
        "TypeError: assert_not_delivered(subject=b'x'): expected None, a string or an "
        "re.compile() pattern, not a bytes",
    ),
    (
        'smtpfake.assert_retried("2")',
        "TypeError: assert_retried(times='2'): expected None or a whole number from 0 to "
        "1000000, not a str",
    ),
    (
        "smtpfake.assert_retried(min_delay=-1)",
        "ValueError: assert_retried(min_delay=-1): expected seconds from 0 to 86400, got -1",
    ),
    (
        "smtpfake.use(5)",
        "TypeError: use(5): a scenario is a name, a YAML path, a dict or a Scenario, not a int",
    ),
    (
        'smtpfake.use("default", seed="x")',
        "TypeError: use(seed='x'): expected None or a whole number from 0 to 2^64-1, not a str",
    ),
    (
        'smtpfake.use("default", seed=-1)',
        "ValueError: use(seed=-1): expected None or a whole number from 0 to 2^64-1, got -1",
    ),
    (
        'smtpfake.use("default", params=["delay"])',
        "TypeError: use(params=['delay']): expected None or a dict of parameter name to value, "
        "not a list",
    ),
    (
        "smtpfake.advance(-1)",
        "ValueError: advance(seconds=-1): expected seconds from 0 to 86400, got -1",
    ),
    (
        'smtpfake.advance("5m")',
        "TypeError: advance(seconds='5m'): expected seconds from 0 to 86400, not a str",
    ),
    (
        "smtpfake.settle_timeout = -1",
        "ValueError: settle_timeout = -1: expected seconds from 0 to 86400, got -1",
    ),
    (
        # Python's own, raised at the call: the same both ways, at the test's line
        'smtpfake.find_messages(recipient="a@example.com")',
        "TypeError: *find_messages() got an unexpected keyword argument 'recipient'*",
    ),
]

SUITE = "".join(f"def test_{n}(smtpfake):\n    {line}\n\n" for n, (line, _) in enumerate(MISTAKES))


def _errors(result: pytest.RunResult) -> list[str]:
    """Each failing test's error line, in order."""
    return [ln[4:] for ln in result.stdout.lines if ln.startswith("E   ")]


def _frames(out: str) -> list[str]:
    """The traceback's location lines (``path:line: in function``) outside the test file."""
    return [ln for ln in out.splitlines() if ": in " in ln and not ln.startswith("test_suite.py")]


def _check(result: pytest.RunResult) -> None:
    result.assert_outcomes(failed=len(MISTAKES))
    errors = _errors(result)
    assert len(errors) == len(MISTAKES), errors
    for (line, wanted), got in zip(MISTAKES, errors, strict=True):
        # fnmatch: [ and ] in the wanted text are themselves, not a character class
        assert _matches(got, wanted), f"{line}: {got}"
    assert _frames(result.stdout.str()) == []


def _matches(got: str, wanted: str) -> bool:
    if "*" not in wanted:
        return got == wanted
    head, _, rest = wanted.partition("*")
    middle = rest.rstrip("*")
    return got.startswith(head) and middle in got


def test_in_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    _check(pytester.runpytest("-p", "no:cacheprovider", "--tb=short"))


def test_against_a_sidecar(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    with own_sidecar() as api:
        result = pytester.runpytest(
            "-p", "no:cacheprovider", "--tb=short", "--smtpfake-remote", api.url
        )
    _check(result)


@pytest.mark.parametrize(
    ("kwargs", "error", "wanted"),
    [
        ({"url": 8025}, TypeError, "RemoteSmtpFake(url=8025): expected the sidecar's API URL"),
        ({"token": 5}, TypeError, "RemoteSmtpFake(token=5): expected None or a string"),
        ({"timeout": -1}, ValueError, "RemoteSmtpFake(timeout=-1): expected seconds"),
        ({"timeout": 0}, ValueError, "RemoteSmtpFake(timeout=0): expected seconds more than 0"),
        ({"smtp_port": "25"}, TypeError, "RemoteSmtpFake(smtp_port='25'): expected None or a"),
        ({"smtp_port": 0}, ValueError, "RemoteSmtpFake(smtp_port=0): expected None or a whole"),
    ],
)
def test_the_remote_client_s_own_arguments(
    kwargs: dict[str, Any], error: type[Exception], wanted: str
) -> None:
    given = {"url": "http://127.0.0.1:9"} | kwargs
    url = given.pop("url")
    with pytest.raises(error) as caught:
        RemoteSmtpFake(url, **given)
    assert str(caught.value).startswith(wanted)


def test_remote_only_helpers_check_before_sending() -> None:
    # no sidecar listens on port 9: a request would be SidecarUnreachable, not these
    remote = RemoteSmtpFake("http://127.0.0.1:9")
    with pytest.raises(TypeError, match=r"raw\(message_id='1'\)"):
        remote.raw("1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"new_server\(5\): expected a scenario's name"):
        remote.new_server(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"events\(timeout=-1\)"):
        remote.events(-1)


def test_a_wait_s_bound_is_the_sidecar_s() -> None:
    from smtpfake.http.journal_api import MAX_WAIT

    assert arguments.MAX_WAIT == MAX_WAIT
