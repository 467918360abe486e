"""Delivery back ends and reply-deciding handlers named by the fixture: --smtpfake-delivery / ini
smtpfake_delivery for the session's server, @pytest.mark.smtpfake(delivery=..., handler=...) for
one test; real sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SEND = """
import mailbox, smtplib
from pathlib import Path

def send(smtpfake, subject="hi"):
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
        c.sendmail("a@x.test", ["b@y.test"], f"Subject: {subject}\\r\\n\\r\\nbody\\r\\n")
"""


def test_the_option_delivers_every_tests_mail_into_a_maildir(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    box = tmp_path / "mail"
    pytester.makepyfile(
        SEND
        + f"""
def test_one(smtpfake):
    send(smtpfake, "one")

def test_two(smtpfake):
    send(smtpfake, "two")

def test_zz_both_arrived_by_the_end_of_each_test():
    assert sorted(m["Subject"] for m in mailbox.Maildir({str(box)!r})) == ["one", "two"]
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", f"--smtpfake-delivery=maildir:{box}")
    result.assert_outcomes(passed=3)


def test_the_ini_key_names_a_proxy(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nsmtpfake_delivery = proxy:127.0.0.1:1\n")
    pytester.makepyfile(
        """
        def test_backend(smtpfake_server):
            assert type(smtpfake_server.delivery).__name__ == "Relay"
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_bad_spec_is_one_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(smtpfake):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-delivery=ftp:somewhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--smtpfake-delivery (ini smtpfake_delivery)*maildir:PATH*"])
    assert "Traceback" not in result.stderr.str()


def test_delivery_with_a_sidecar_is_one_usage_error(pytester: pytest.Pytester) -> None:
    # checked before the sidecar is looked for (port 9: nothing listens), as journal limits are
    pytester.makepyfile("def test_x(smtpfake):\n    pass\n\ndef test_y(smtpfake):\n    pass\n")
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--smtpfake-remote=http://127.0.0.1:9",
        "--smtpfake-delivery=maildir:box",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--smtpfake-delivery (ini smtpfake_delivery): delivery is for*"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_delivery_set_in_code_with_a_sidecar_is_one_usage_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        import pytest

        from smtpfake.pytest_plugin import Settings

        @pytest.fixture(scope="session")
        def smtpfake_settings():
            return Settings(remote="http://127.0.0.1:9", delivery="maildir:box")
        """
    )
    pytester.makepyfile("def test_x(smtpfake):\n    pass\n\ndef test_y(smtpfake):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # once, at start-up
    result.stderr.fnmatch_lines(
        [
            "*smtpfake: Settings(delivery='maildir:box') (smtpfake_settings in conftest.py): "
            "delivery is for the in-process*"
        ]
    )
    assert "def smtpfake_backend" not in result.stdout.str()


def test_the_marker_gives_one_test_its_own_handler_and_its_failure_fails_that_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        SEND
        + """
import pytest

class Collect:
    def __init__(self, fail=False):
        self.seen, self.fail = [], fail

    async def handle_DATA(self, server, session, envelope):
        if self.fail:
            raise RuntimeError("handler says no")
        self.seen.append(envelope.rcpt_tos)
        return "250 OK"

COLLECT = Collect()

@pytest.mark.smtpfake(delivery=COLLECT)
def test_own_handler(smtpfake):
    send(smtpfake)

def test_its_messages_arrived_and_the_next_test_delivers_nowhere(smtpfake, smtpfake_server):
    assert COLLECT.seen == [["b@y.test"]]
    assert smtpfake_server.delivery is None
    send(smtpfake)
    assert COLLECT.seen == [["b@y.test"]]

@pytest.mark.smtpfake(delivery=Collect(fail=True))
def test_failing_handler(smtpfake):
    send(smtpfake)

@pytest.mark.smtpfake(delivery="nowhere")
def test_bad_spec(smtpfake):
    pass

class Plain:
    def handle_DATA(self, server, session, envelope):
        return "250 OK"

@pytest.mark.smtpfake(delivery=Plain())
def test_plain_def_handler(smtpfake):
    pass

class NoData:  # aiosmtpd's Sink, say: a handler, but nothing takes the message
    pass

@pytest.mark.smtpfake(delivery=NoData())
def test_handler_without_handle_data(smtpfake):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=4)
    result.stdout.fnmatch_lines(["*NoData object at *>): expected maildir:PATH, proxy:HOST:PORT*"])
    result.stdout.fnmatch_lines(
        ["*handler says no*", "*smtpfake(delivery=...): delivery must be maildir:PATH*"]
    )
    result.stdout.fnmatch_lines(["*Plain object at *>): handle_DATA must be `async def`*"])


def test_a_delivery_the_back_end_never_finishes_fails_its_test(
    pytester: pytest.Pytester,
) -> None:
    """A handler that never returns: the test passed after the fixture's wait, and the stop's
    DeliveryAbandoned came when nobody read ``errors`` any more (fresh14 F3). It is given up at
    the wait's end and fails that test; the next test is clean."""
    # the wait shortened inside the run (the module it reads), and put back after it
    pytester.makeconftest(
        """
import smtpfake.pytest_plugin_marker as marker

KEPT = marker.DELIVERY_WAIT
marker.DELIVERY_WAIT = 0.5

def pytest_unconfigure():
    marker.DELIVERY_WAIT = KEPT
"""
    )
    pytester.makepyfile(
        SEND
        + """
import asyncio
import pytest

class Stuck:
    async def handle_DATA(self, server, session, envelope):
        await asyncio.Event().wait()

@pytest.mark.smtpfake(delivery=Stuck())
def test_stuck(smtpfake):
    send(smtpfake)

def test_next(smtpfake, smtpfake_server):
    assert smtpfake_server.errors == []
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_stuck*",
            "*DeliveryAbandoned: the back end had not finished SF* after the fixture's 0.5 s wait*",
        ]
    )


def test_the_marker_gives_one_test_a_handler_whose_hooks_decide_replies(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
import smtplib
import pytest

class Directory:
    async def handle_RCPT(self, server, session, envelope, address, options):
        return "550 5.1.1 No such user" if address.startswith("nobody@") else "250 2.1.5 Ok"

@pytest.mark.smtpfake(handler=Directory())
def test_refused(smtpfake):
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
        assert c.sendmail("a@x.test", ["nobody@y.test", "b@y.test"], "hi") == {
            "nobody@y.test": (550, b"5.1.1 No such user")
        }

def test_the_next_test_has_none(smtpfake):
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
        assert c.sendmail("a@x.test", ["nobody@y.test"], "hi") == {}

@pytest.mark.smtpfake(handler=object())
def test_not_a_handler(smtpfake):
    pass

class Broken:
    async def handle_MAIL(self, server, session, envelope, address, options):
        raise LookupError("the directory is down")

@pytest.mark.smtpfake(handler=Broken())
def test_a_raising_hook_fails_this_test(smtpfake):
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
        c.ehlo("c.test")
        assert c.mail("a@x.test")[0] == 451

class Plain:  # a hook written as a plain def: every RCPT failed "can't be used in 'await'"
    def handle_RCPT(self, server, session, envelope, address, options):
        return "550 5.1.1 No such user"

@pytest.mark.smtpfake(handler=Plain())
def test_a_hook_that_is_not_async(smtpfake):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=3)
    result.stdout.fnmatch_lines(["*it has none of aiosmtpd's hooks*"])
    result.stdout.fnmatch_lines(
        ["*handler=<*Plain object at *>): handle_RCPT must be `async def`, as aiosmtpd's hooks*"]
    )
    result.stdout.fnmatch_lines(["*LookupError: the directory is down*"])
