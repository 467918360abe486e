"""Item 2: reads settle, so a violation right after the client's close() is always seen."""

from __future__ import annotations

import smtplib
import socket
import threading

import pytest

from smtpfake.control import SmtpFake
from smtpfake.server import Server

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def fake() -> SmtpFake:
    with Server("default") as server:
        yield SmtpFake(server)


def test_no_quit_is_seen_200_of_200_times(fake: SmtpFake) -> None:
    seen = []
    for _ in range(200):
        fake.reset()
        client = smtplib.SMTP(fake.host, fake.port, timeout=5)
        client.ehlo()
        client.close()  # no QUIT: the server may not have read the close yet
        seen.append(tuple(v.kind for v in fake.violations))
    assert seen == [("no-quit",)] * 200


def test_every_read_settles(fake: SmtpFake) -> None:
    for read in (
        lambda: tuple(s.ended is not None for s in fake.sessions),
        lambda: fake.transcript().count("no-quit"),
        lambda: len(fake.sessions_where(code=250)),
    ):
        fake.reset()
        client = smtplib.SMTP(fake.host, fake.port, timeout=5)
        client.ehlo()
        client.close()
        assert read() in ((True,), 1)


def test_a_session_left_open_is_waited_for_at_most_settle_timeout(fake: SmtpFake) -> None:
    fake.reset()
    with socket.create_connection(fake.address, timeout=5) as sock:
        sock.recv(100)  # the greeting: the session has started
        fake.settle_timeout = 0.05
        try:
            assert fake.settle() is False
            (session,) = fake.sessions  # reported as it stands
            assert session.ended is None
        finally:
            fake.settle_timeout = 2.0
    assert fake.settle(timeout=5) is True


def test_settle_returns_once_a_session_ends_from_another_thread(fake: SmtpFake) -> None:
    fake.reset()
    sock = socket.create_connection(fake.address, timeout=5)
    sock.recv(100)
    closer = threading.Timer(0.05, sock.close)
    closer.start()
    try:
        assert fake.settle(timeout=5) is True
    finally:
        closer.join()
    assert [v.kind for v in fake.violations] == ["no-quit"]


def test_the_fixture_settles_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        @pytest.mark.parametrize("i", range(50))
        def test_no_quit(smtpfake, i):
            s = smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5)
            s.ehlo()
            s.close()
            assert [v.kind for v in smtpfake.violations] == ["no-quit"]
            assert smtpfake.violations == (smtpfake.violations[0],)
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=50)


def test_settle_timeout_set_in_a_test_ends_with_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_a(smtpfake):
            smtpfake.settle_timeout = 0.01

        def test_b(smtpfake):
            assert smtpfake.settle_timeout == 2.0
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
