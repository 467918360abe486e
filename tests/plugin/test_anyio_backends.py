"""The fixture's awaitable forms under anyio's own pytest plugin (``@pytest.mark.anyio``), on
both its backends: ``asettle()`` sees the close of a client the test's loop just closed,
``await_for_messages``/``await_for_sessions`` wait while a client on that loop sends, and the
blocking ``wait_for_messages`` is refused naming the backend's loop. test_async_waits.py and
test_async_reads.py run them under pytest-asyncio and ``trio.run``; anyio's backends are told
apart as those are (settling.running_library), and this holds that they are."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SUITE = """
import anyio
import pytest
from smtpfake.settling import WaitInLoopError


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param


async def talk(smtpfake, lines, *, quit=True):
    stream = await anyio.connect_tcp(smtpfake.host, smtpfake.port)
    async with stream:
        for line in lines:
            await stream.receive(65536)  # each reply is one line, written at once
            await stream.send(line + b"\\r\\n")
        await stream.receive(65536)
        if quit:
            await stream.send(b"QUIT\\r\\n")
            await stream.receive(65536)
    # closed without QUIT when not quit: the server sees the close on a later turn


MAIL = [b"HELO t.test", b"MAIL FROM:<a@x.test>", b"RCPT TO:<b@y.test>", b"DATA",
        b"Subject: t\\r\\n\\r\\nx\\r\\n."]


@pytest.mark.anyio
async def test_asettle_sees_the_close(smtpfake, anyio_backend):
    await talk(smtpfake, [b"HELO t.test"], quit=False)
    assert await smtpfake.asettle(timeout=30)
    assert [v.kind for v in smtpfake.violations] == ["no-quit"]


@pytest.mark.anyio
async def test_awaitable_waits(smtpfake, anyio_backend):
    async with anyio.create_task_group() as group:
        group.start_soon(talk, smtpfake, MAIL)
        (message,) = await smtpfake.await_for_messages(1, timeout=30)
        (session,) = await smtpfake.await_for_sessions(1, timeout=30)
    assert message.subject == "t"
    assert session.ended is not None


@pytest.mark.anyio
async def test_the_blocking_wait_is_refused(smtpfake, anyio_backend):
    async with anyio.create_task_group() as group:
        group.start_soon(talk, smtpfake, MAIL)
        with pytest.raises(WaitInLoopError, match=f"the test's {anyio_backend} event loop"):
            smtpfake.wait_for_messages(1, timeout=300)  # at once, not after 300 s
    assert len(smtpfake.wait_for_messages(1, timeout=300)) == 1  # met already: no block
"""


def test_anyio_asyncio_and_trio(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_anyio=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "-v")
    result.assert_outcomes(passed=6)
    for backend in ("asyncio", "trio"):
        result.stdout.fnmatch_lines([f"*test_asettle_sees_the_close?{backend}? PASSED*"])
