"""Cancelling an awaitable wait ends it (fresh15 F1). ``await smtpfake.await_for_messages(...)``,
``await_for_sessions`` and ``asettle`` wait in a worker thread; a cancel (``asyncio.wait_for``,
``asyncio.timeout``, anyio's ``move_on_after``) left that thread waiting out its whole timeout:
on asyncio the loop's shutdown joined it (the test's teardown took the full timeout), on trio the
cancel did not even move on (the test failed with TimeoutError after it). Now the thread's wait
ends right after the cancel: in-process and against an ``smtpfake serve`` sidecar."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sidecar.conftest import Sidecar

pytest_plugins = ["pytester"]

TESTS = """
import asyncio
import os
import socket
import sys
import time

import anyio
import pytest

import smtpfake

#: the waits' own timeout; a cancelled wait that went on would still be waiting long after
WAIT = 60
WAITS = ["await_for_messages", "await_for_sessions", "asettle"]
PACKAGE = os.path.dirname(smtpfake.__file__) + os.sep


def waiting_threads():
    # threads in one of smtpfake's blocking waits now (each awaitable form runs one in a thread)
    found = []
    for thread_id, frame in sys._current_frames().items():
        while frame is not None:
            code = frame.f_code
            if code.co_filename.startswith(PACKAGE) and code.co_name in (
                "wait_for_messages", "wait_for_sessions", "settle"
            ):
                found.append(thread_id)
                break
            frame = frame.f_back
    return found


def the_wait_ended():
    # a bound far below WAIT (a wait that goes on is there for the whole WAIT), counted in looks
    for _ in range(500):
        if not waiting_threads():
            return True
        time.sleep(0.01)
    return False


def wait(smtpfake, which):
    if which == "asettle":
        return smtpfake.asettle(WAIT)  # for the session open_session holds
    return getattr(smtpfake, which)(1, timeout=WAIT)  # nothing sends


@pytest.fixture
def open_session(smtpfake):
    # a session that stays open: what asettle waits for
    with socket.create_connection((smtpfake.host, smtpfake.port), timeout=30) as client:
        client.recv(1024)  # the greeting
        yield


@pytest.mark.asyncio
@pytest.mark.parametrize("which", WAITS)
async def test_asyncio_wait_for(smtpfake, open_session, which):
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(wait(smtpfake, which), 0.05)
    assert the_wait_ended()


@pytest.mark.asyncio
@pytest.mark.parametrize("which", WAITS)
async def test_asyncio_timeout(smtpfake, open_session, which):
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await wait(smtpfake, which)
    assert the_wait_ended()


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param


@pytest.mark.anyio
@pytest.mark.parametrize("which", WAITS)
async def test_anyio_move_on_after(smtpfake, open_session, which):
    with anyio.move_on_after(0.05) as scope:
        await wait(smtpfake, which)
    assert scope.cancelled_caught  # trio's worker thread did not hold the cancel up
    assert the_wait_ended()
"""


@pytest.fixture(scope="module")
def sidecar_url() -> Iterator[str]:
    car = Sidecar("--port", "0", "--api-port", "0")
    try:
        yield car.wait_ready().url
    finally:
        car.stop()


@pytest.mark.skipif("sys.version_info < (3, 11)", reason="asyncio.timeout is 3.11's")
@pytest.mark.parametrize("where", ["in-process", "sidecar"])
def test_a_cancelled_await_ends_its_wait(
    pytester: pytest.Pytester, where: str, sidecar_url: str
) -> None:
    pytester.makepyfile(test_cancel=TESTS)
    remote = ["--smtpfake-remote", sidecar_url] if where == "sidecar" else []
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", *remote)
    result.assert_outcomes(passed=12)
