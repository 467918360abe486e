"""Item 2: reads settle, so a violation right after the client's close() is always seen."""

from __future__ import annotations

import smtplib
import socket
import threading

import pytest

from smtpfake.control import Key, SmtpFake
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


class CountingFake(SmtpFake):
    """SmtpFake that counts its waits for open sessions (how many sessions each waited for)."""

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.waited: list[set[Key]] = []

    @property
    def waits(self) -> list[int]:
        """How many sessions each wait was for."""
        return [len(keys) for keys in self.waited]

    def _wait_ended(self, keys: set[Key], limit: float) -> set[Key]:
        self.waited.append(set(keys))
        return super()._wait_ended(keys, limit)


def test_a_session_a_read_waited_for_in_vain_is_not_waited_for_again_until_it_moves(
    fake: SmtpFake,
) -> None:
    fake.reset()
    counting = CountingFake(fake.server)
    counting.settle_timeout = 0.05
    with socket.create_connection(fake.address, timeout=5) as sock:
        reader = sock.makefile("rb")
        reader.readline()  # the greeting: the session has started
        (session,) = counting.sessions  # waited, in vain: the test's own connection
        assert session.ended is None
        assert counting.violations == ()
        assert counting.assert_delivered(0) == ()
        assert counting.transcript().count("220 ") == 1
        assert counting.waits == [1]  # one wait, not one per read
        sock.sendall(b"NOOP\r\n")
        assert reader.readline().startswith(b"250 ")
        assert counting.violations == ()  # the session moved on: waited for again
        assert counting.waits == [1, 1]
        assert counting.sessions_where(code=250)
        assert counting.waits == [1, 1]
        # settle() itself waits for every open session, stalled or not
        assert counting.settle() is False
        assert counting.waits == [1, 1, 1]
        reader.close()  # the file holds the socket open too
    # closed without a word: settle() is how to wait for it (a read would not, see README)
    assert counting.settle(timeout=5) is True
    assert [v.kind for v in counting.violations] == ["no-quit"]


def test_a_new_session_is_always_waited_for(fake: SmtpFake) -> None:
    fake.reset()
    counting = CountingFake(fake.server)
    counting.settle_timeout = 0.05
    with socket.create_connection(fake.address, timeout=5) as kept:
        kept.recv(100)
        assert counting.violations == ()
        client = smtplib.SMTP(fake.host, fake.port, timeout=5)
        client.ehlo()
        client.close()  # no QUIT: seen every time, though the kept session stays stalled
        assert [v.kind for v in counting.violations] == ["no-quit"]
        # the kept session was waited for once; the new one too unless it had already ended
        (kept_key,) = counting.waited[0]
        assert all(kept_key not in keys for keys in counting.waited[1:])
        assert counting.waits[1:] in ([], [1])


def test_reads_inside_the_clients_with_block_wait_once(pytester: pytest.Pytester) -> None:
    """A test's own connection, open around its reads, costs one settle_timeout, not one per
    read (each read waited it out before)."""
    pytester.makepyfile(
        """
        import smtplib

        def test_reads(smtpfake, monkeypatch):
            waits = []
            real = type(smtpfake)._wait_ended

            def counting(self, keys, limit):
                waits.append(len(keys))
                return real(self, keys, limit)

            monkeypatch.setattr(type(smtpfake), "_wait_ended", counting)
            smtpfake.settle_timeout = 0.1
            with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as s:
                s.sendmail("a@example.com", ["b@example.com"], b"Subject: hi\\r\\n\\r\\nhi\\r\\n")
                assert len(smtpfake.sessions) == 1
                assert smtpfake.violations == ()
                smtpfake.assert_delivered(1)
                assert waits == [1]
            # the with block sent QUIT: something new, so the read waits for the end again (or
            # not at all, when the server recorded the close before the read came)
            assert smtpfake.sessions[0].ended is not None
            assert smtpfake.violations == ()
            assert waits in ([1], [1, 1])
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
