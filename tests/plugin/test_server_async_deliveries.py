"""``Server.wait_for_deliveries()`` in an async test: it blocked the test's loop until the back
end was done (or its timeout), so a back end waiting on anything that loop does stalled, and a
client on it could not send meanwhile. Now, with a delivery under way, WaitInLoopError at once
(as the fixture's blocking waits), and ``await server.await_for_deliveries()`` (named as the
fixture's ``await_for_messages``) waits in a worker thread while the loop goes on: under
pytest-asyncio, and under anyio's asyncio and trio backends."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

COMMON = """
import asyncio
import smtplib
import threading

import pytest
from smtpfake.server import Server
from smtpfake.settling import WaitInLoopError


class Held:
    \"\"\"A back end whose delivery waits until the test lets it go (from the test's loop).\"\"\"

    def __init__(self):
        self.go = threading.Event()
        self.delivered = []

    async def handle_DATA(self, server, session, envelope):
        for _ in range(3000):  # at most 30 s
            if self.go.is_set():
                break
            await asyncio.sleep(0.01)  # the server's own loop: asyncio whatever the test runs
        self.delivered.append(envelope.rcpt_tos)
        return "250 OK"


def send(server):
    # smtplib, done before the wait: the server runs in its own thread, the message is
    # accepted at once and its delivery held
    with smtplib.SMTP(server.host, server.port, timeout=30) as client:
        client.sendmail("a@example.test", ["b@example.test"], b"Subject: d\\r\\n\\r\\nx\\r\\n")


def refused(server, library):
    with pytest.raises(WaitInLoopError, match=f"runs the test's {library} event loop") as caught:
        server.wait_for_deliveries(timeout=1)  # at once, not after 1 s, nor returning False
    assert "`await server.await_for_deliveries(...)`" in str(caught.value)
"""

ASYNCIO = (
    COMMON
    + """

@pytest.mark.asyncio
async def test_pytest_asyncio():
    held = Held()
    with Server(delivery=held) as server:
        send(server)
        refused(server, "asyncio")

        async def release():
            await asyncio.sleep(0)  # runs only while the test's loop goes on
            held.go.set()

        releasing = asyncio.create_task(release())
        assert await server.await_for_deliveries(timeout=30)
        await releasing
        assert held.delivered == [["b@example.test"]]
        assert server.wait_for_deliveries(timeout=1)  # none under way: no need to block
        assert server.errors == []
"""
)

CANCELLED = (
    COMMON
    + """
import sys
import time


def waiting_threads():
    # other threads whose stack is inside the blocking wait the awaitable form runs
    me = threading.get_ident()
    frames = [f for ident, f in sys._current_frames().items() if ident != me]
    return [f for f in frames if any(
        g.f_code.co_name == "wait_for_deliveries" for g in _stack(f))]


def _stack(frame):
    while frame is not None:
        yield frame
        frame = frame.f_back


@pytest.mark.asyncio
async def test_cancelled():
    held = Held()
    with Server(delivery=held) as server:
        send(server)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(server.await_for_deliveries(timeout=60), 0.2)
        for _ in range(500):  # the worker thread's wait ends at the cancel
            if not waiting_threads():
                break
            time.sleep(0.01)
        assert not waiting_threads()
        held.go.set()
"""
)

ANYIO = (
    COMMON
    + """
import anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param


@pytest.mark.anyio
async def test_anyio(anyio_backend):
    held = Held()
    with Server(delivery=held) as server:
        send(server)
        refused(server, anyio_backend)

        async def release():
            await anyio.sleep(0)  # runs only while the test's loop goes on
            held.go.set()

        async with anyio.create_task_group() as group:
            group.start_soon(release)
            assert await server.await_for_deliveries(timeout=30)
        assert held.delivered == [["b@example.test"]]
        assert server.wait_for_deliveries(timeout=1)
        assert server.errors == []
"""
)


def test_under_pytest_asyncio(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_asyncio=ASYNCIO)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_under_anyio_asyncio_and_trio(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_anyio=ANYIO)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_anyio?asyncio? PASSED*", "*test_anyio?trio? PASSED*"])


def test_a_cancelled_await_for_deliveries_ends_its_wait(pytester: pytest.Pytester) -> None:
    """Its worker thread waited for the whole timeout after the await was cancelled (cancel1's
    rule for a wait run through off_loop)."""
    pytester.makepyfile(test_cancelled=CANCELLED)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
