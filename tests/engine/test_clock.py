"""The server's clock as a control: what advance() moves (rule windows, greylisting, rate limits,
retry_after, journal times) in the engine and on a real socket; nobody sleeps."""

from __future__ import annotations

import math
import smtplib
import time

import pytest

from smtpfake.engine import ManualClock, SystemClock
from smtpfake.scenario import resolve
from smtpfake.server import Server

from ..support.engine import Engine


def test_manual_clock_stands_still_until_advanced() -> None:
    clock = ManualClock(start=100.0)
    assert clock.now() == clock.now() == 100.0
    assert clock.advance(2.5) == 102.5 == clock.now()
    assert clock.advance(0) == 102.5


def test_system_clock_can_skip_ahead() -> None:
    clock = SystemClock()
    assert abs(clock.now() - time.time()) < 60  # real time until advanced
    ahead = clock.advance(3600)
    assert ahead - time.time() > 3000
    assert clock.now() >= ahead  # now() follows the offset from the first advance() on
    assert clock.advance(3600) - time.time() > 6000  # and every later one adds to it


@pytest.mark.parametrize("clock", [ManualClock(), SystemClock()], ids=["manual", "system"])
@pytest.mark.parametrize("seconds", [-1, math.nan])
def test_time_never_goes_back(clock: ManualClock | SystemClock, seconds: float) -> None:
    before = clock.now()
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(seconds)
    assert clock.now() >= before


def test_a_rate_limit_window_slides_with_the_clock() -> None:
    fake = Engine(resolve("rate-limit", params={"count": 2, "window": 10, "per_connection": 99}))
    conn = fake.connect()
    conn.ehlo()
    assert [conn.deliver()[0] for _ in range(2)] == [250, 250]
    assert conn.mail() == 421  # the third MAIL within 10 s (421: the connection closes)

    def mail_on_a_new_connection() -> int:
        conn = fake.connect()
        conn.ehlo()
        return conn.mail()

    fake.advance(9.999)
    assert mail_on_a_new_connection() == 421  # the window has not yet moved past the first two
    fake.advance(0.001)
    assert mail_on_a_new_connection() == 250


def test_journal_times_follow_the_clock() -> None:
    fake = Engine("default")
    conn = fake.connect()
    start = fake.clock.now()
    fake.advance(42)
    conn.ehlo()
    (record,) = fake.journal.sessions()
    assert [e.time - start for e in record.transcript] == [0, 42, 42]


def test_server_advance_on_the_wire_for_greylisting_and_retry_after() -> None:
    scenario = {
        "server": {"retry_after": 60},
        "rules": [{"on": "mail", "connection": 1, "reply": "451 4.3.0 try later"}],
    }
    with Server(scenario, clock=ManualClock()) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo()
            assert client.mail("a@x.test")[0] == 451
        server.advance(60)
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo()
            assert client.mail("a@x.test")[0] == 250
        sessions = server.journal.wait(
            lambda j: sum(s.ended is not None for s in j.sessions()) == 2, 5
        )
        assert sessions
        assert all(v.kind != "retry-too-soon" for s in server.sessions for v in s.violations)


def test_a_clock_that_cannot_move() -> None:
    class Fixed:
        def now(self) -> float:
            return 5.0

    server = Server("default", clock=Fixed())
    with pytest.raises(TypeError, match="cannot be advanced"):
        server.advance(1)
    assert server.now() == 5.0
