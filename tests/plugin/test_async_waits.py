"""The explicit waits in an async test: ``wait_for_messages``/``wait_for_sessions`` block, so
called in the test's own loop they held up the client running there as a task, which never
sent; the wait ended ``TimeoutError: ... got 0`` after its whole timeout. The awaitable forms
(``await smtpfake.await_for_messages(...)``, as ``asettle`` is ``settle``'s) wait in a worker
thread while the loop goes on; the blocking forms there raise WaitInLoopError at once, naming
them. In-process and against a sidecar; asyncio (pytest-asyncio) and trio
(anyio's backends are told apart the same way: see settling.running_library)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.sidecar import own_sidecar

pytest_plugins = ["pytester"]

ASYNCIO = """
import asyncio
from email.message import EmailMessage

import aiosmtplib
import pytest
from smtpfake.settling import WaitInLoopError


def mail():
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "a@example.test", "b@example.test", "w"
    m.set_content("x")
    return m


def in_a_task(smtpfake):
    # the usual app shape: the mail goes out from a background task on the test's loop
    send = aiosmtplib.send(mail(), hostname=smtpfake.host, port=smtpfake.port, timeout=30)
    return asyncio.create_task(send)


@pytest.mark.asyncio
async def test_await_for_messages(smtpfake):
    task = in_a_task(smtpfake)
    (message,) = await smtpfake.await_for_messages(1, timeout=30)
    assert message.subject == "w"
    await task


@pytest.mark.asyncio
async def test_await_for_sessions(smtpfake):
    task = in_a_task(smtpfake)
    (session,) = await smtpfake.await_for_sessions(1, timeout=30)
    assert session.ended is not None
    await task


@pytest.mark.asyncio
@pytest.mark.parametrize("wait", ["wait_for_messages", "wait_for_sessions"])
async def test_the_blocking_form_refuses_at_once(smtpfake, wait):
    task = in_a_task(smtpfake)
    with pytest.raises(WaitInLoopError, match=f"`await smtpfake.a{wait}"):
        getattr(smtpfake, wait)(1, timeout=300)  # at once: not after 300 s
    await task
    assert len(smtpfake.messages) == 1  # the client could send: the loop was not held up
    assert await smtpfake.asettle()  # the session's close: on the loop's next turn
    assert len(getattr(smtpfake, wait)(1, timeout=300)) == 1  # met already: no need to block
"""

TRIO = """
import pytest
import trio
from smtpfake.settling import WaitInLoopError


async def send(smtpfake):
    stream = await trio.open_tcp_stream(smtpfake.host, smtpfake.port)
    async with stream:
        for line in (b"EHLO t.test", b"MAIL FROM:<a@x.test>", b"RCPT TO:<b@y.test>", b"DATA",
                     b"Subject: t\\r\\n\\r\\nx\\r\\n.", b"QUIT"):
            await stream.receive_some(65536)
            await stream.send_all(line + b"\\r\\n")
        await stream.receive_some(65536)


async def both(smtpfake):
    async with trio.open_nursery() as nursery:
        nursery.start_soon(send, smtpfake)
        with pytest.raises(WaitInLoopError, match="trio event loop"):
            smtpfake.wait_for_messages(1, timeout=300)
        messages = await smtpfake.await_for_messages(1, timeout=30)
        sessions = await smtpfake.await_for_sessions(1, timeout=30)
    return len(messages), len(sessions)


def test_under_trio(smtpfake):
    assert trio.run(both, smtpfake) == (1, 1)
"""


@pytest.fixture(scope="module")
def sidecar_url() -> Iterator[str]:
    with own_sidecar() as api:
        yield api.url


@pytest.mark.parametrize("where", ["in-process", "sidecar"])
def test_async_waits(pytester: pytest.Pytester, where: str, sidecar_url: str) -> None:
    pytester.makepyfile(test_asyncio=ASYNCIO, test_trio=TRIO)
    remote = ["--smtpfake-remote", sidecar_url] if where == "sidecar" else []
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", *remote)
    result.assert_outcomes(passed=5)
