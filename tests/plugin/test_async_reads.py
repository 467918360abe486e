"""Settled reads in async tests (pytest-asyncio + aiosmtplib): an asyncio client's close happens
on the loop's next turn, so a read that waited inside the test's coroutine held up the very close
it waited for (2 s, then the session as it stood: no ``no-quit``). ``await smtpfake.asettle()``
waits with the loop going on; a sync read in a running loop does not wait, and warns."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

CLIENT = """
import aiosmtplib
import pytest
from smtpfake.settling import SettleInLoopWarning


async def ehlo_close(smtpfake):
    client = aiosmtplib.SMTP(hostname=smtpfake.host, port=smtpfake.port, timeout=5)
    await client.connect()
    await client.ehlo()
    client.close()  # no QUIT: the transport closes on the loop's next turn
"""


def test_asettle_sees_no_quit_every_time(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        CLIENT
        + """
@pytest.mark.asyncio
async def test_twenty_times(smtpfake):
    seen = []
    for _ in range(20):
        smtpfake.reset()
        await ehlo_close(smtpfake)
        assert await smtpfake.asettle() is True
        seen.append(tuple(v.kind for v in smtpfake.violations))
    assert seen == [("no-quit",)] * 20


@pytest.mark.asyncio
async def test_after_quit_the_session_has_ended(smtpfake):
    client = aiosmtplib.SMTP(hostname=smtpfake.host, port=smtpfake.port, timeout=5)
    await client.connect()
    await client.quit()
    smtpfake.settle_timeout = 60.0  # what ends it is the client's close, not the grace period
    assert await smtpfake.asettle() is True
    assert smtpfake.sessions[0].ended is not None
    assert smtpfake.violations == ()


@pytest.mark.asyncio
async def test_the_server_too(smtpfake, smtpfake_server):
    await ehlo_close(smtpfake)
    assert await smtpfake_server.asettle() is True
    assert [v.kind for v in smtpfake_server.violations] == ["no-quit"]
"""
    )
    pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly").assert_outcomes(passed=3)


def test_a_sync_read_in_a_running_loop_does_not_wait_and_warns_once_it_missed_the_close(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        CLIENT
        + """
import sys


@pytest.mark.asyncio
async def test_fixture_read(smtpfake):
    # a wait would block this loop for all of it, and the client's close with it
    smtpfake.settle_timeout = 3600.0
    await ehlo_close(smtpfake)
    read_at = sys._getframe().f_lineno + 1
    assert smtpfake.violations == ()  # as it stands: the close has not happened yet
    smtpfake.violations  # the same session, the same read's warning: told once
    # the close comes while asettle() waits: only now is it known that the read missed it
    with pytest.warns(SettleInLoopWarning, match=r"saw session 1 open.*asettle") as got:
        assert await smtpfake.asettle(timeout=10) is True
    assert len(got) == 1
    assert (got[0].filename, got[0].lineno) == (__file__, read_at)  # the read's own line
    assert [v.kind for v in smtpfake.violations] == ["no-quit"]


@pytest.mark.asyncio
async def test_server_read(smtpfake, smtpfake_server):
    smtpfake_server.settle_timeout = 3600.0
    await ehlo_close(smtpfake)
    assert smtpfake_server.settle() is False
    with pytest.warns(SettleInLoopWarning):
        assert await smtpfake_server.asettle(timeout=10) is True
"""
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-W", "error::smtpfake.settling.SettleInLoopWarning"
    )
    result.assert_outcomes(passed=2)


def test_a_read_that_missed_the_close_is_told_at_the_tests_end(pytester: pytest.Pytester) -> None:
    # never read again, never settled: the test's end says it, at the read's line
    pytester.makepyfile(
        test_missed=CLIENT
        + """
@pytest.mark.asyncio
async def test_reads_too_soon(smtpfake):
    await ehlo_close(smtpfake)
    assert not smtpfake.violations  # passes, wrongly: the no-quit comes with the close


@pytest.mark.asyncio
async def test_the_server_too(smtpfake, smtpfake_server):
    await ehlo_close(smtpfake)
    assert not smtpfake_server.violations
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=2, warnings=2)
    result.stdout.fnmatch_lines(
        [
            "*/test_missed.py:15: SettleInLoopWarning: smtpfake: this read saw session 1 open, "
            "and its client closed it right after, sending nothing more*",
            "*/test_missed.py:21: SettleInLoopWarning: *",
        ]
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-W", "error::smtpfake.settling.SettleInLoopWarning"
    )
    result.assert_outcomes(passed=2, errors=2)  # at teardown, after the server's reset


def test_reads_mid_session_on_purpose_are_not_warned(pytester: pytest.Pytester) -> None:
    # the test's own connection open across its reads, then used on: nothing was missed
    pytester.makepyfile(
        CLIENT
        + """
@pytest.mark.asyncio
async def test_reads_while_its_connection_is_open(smtpfake):
    client = aiosmtplib.SMTP(hostname=smtpfake.host, port=smtpfake.port, timeout=5)
    await client.connect()
    await client.ehlo()
    assert smtpfake.sessions[0].ended is None  # mid-session, on purpose
    assert smtpfake.violations == ()
    await client.sendmail("a@example.test", ["b@example.test"], "Subject: x\\r\\n\\r\\nx\\r\\n")
    assert len(smtpfake.messages) == 1 and smtpfake.sessions[0].ended is None
    await client.quit()
    assert await smtpfake.asettle(timeout=10) is True
    assert smtpfake.violations == ()


@pytest.mark.asyncio
async def test_a_connection_kept_open_to_the_end(smtpfake):
    client = aiosmtplib.SMTP(hostname=smtpfake.host, port=smtpfake.port, timeout=5)
    await client.connect()
    await client.ehlo()
    assert smtpfake.sessions[0].commands  # the reset at the test's end closes it
"""
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-W", "error::smtpfake.settling.SettleInLoopWarning"
    )
    result.assert_outcomes(passed=2)


TRIO = """
import trio
import pytest
from smtpfake.settling import SettleInLoopWarning


async def reply(stream):
    got = b""
    while not any(line[3:4] == b" " for line in got.split(b"\\r\\n")):
        got += await stream.receive_some(4096)


async def ehlo_then_close_in_a_task(smtpfake, control):
    said_ehlo, close_now = trio.Event(), trio.Event()

    async def client():
        stream = await trio.open_tcp_stream(smtpfake.host, smtpfake.port)
        await reply(stream)
        await stream.send_all(b"EHLO trio.test\\r\\n")
        await reply(stream)
        said_ehlo.set()
        await close_now.wait()
        await stream.aclose()  # no QUIT

    async with trio.open_nursery() as nursery:
        nursery.start_soon(client)
        await said_ehlo.wait()
        close_now.set()  # the client closes on the loop's next turn
        # a read that waited would hold up this loop, and with it the close (3 s, then as
        # it stood: no no-quit); it reads as it stands
        assert control.violations == ()
        with pytest.warns(SettleInLoopWarning, match="saw session 1 open"):
            assert await control.asettle(timeout=30) is True  # trio's worker thread
        return [v.kind for v in control.violations]


def test_under_trio(smtpfake):
    smtpfake.settle_timeout = 3.0
    assert trio.run(ehlo_then_close_in_a_task, smtpfake, smtpfake) == ["no-quit"]


def test_the_server_under_trio(smtpfake, smtpfake_server):
    smtpfake_server.settle_timeout = 3.0
    assert trio.run(ehlo_then_close_in_a_task, smtpfake, smtpfake_server) == ["no-quit"]
"""


def test_trio_loops_are_told_too(pytester: pytest.Pytester) -> None:
    """anyio's trio backend, pytest-trio or trio.run in a test: the same as under asyncio."""
    pytester.makepyfile(TRIO)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
