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


def test_a_sync_read_in_a_running_loop_does_not_wait_and_warns(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        CLIENT
        + """
@pytest.mark.asyncio
async def test_fixture_read(smtpfake):
    # a wait would block this loop for all of it, and the client's close with it
    smtpfake.settle_timeout = 3600.0
    await ehlo_close(smtpfake)
    with pytest.warns(SettleInLoopWarning, match=r"session\\(s\\) 1 still open.*asettle") as got:
        assert smtpfake.violations == ()  # as it stands: the close has not happened yet
    assert got[0].filename == __file__  # pointed at the test's own line
    smtpfake.violations  # warned once for that session, not at every read
    assert await smtpfake.asettle(timeout=10) is True
    assert [v.kind for v in smtpfake.violations] == ["no-quit"]


@pytest.mark.asyncio
async def test_server_read(smtpfake, smtpfake_server):
    smtpfake_server.settle_timeout = 3600.0
    await ehlo_close(smtpfake)
    with pytest.warns(SettleInLoopWarning):
        assert smtpfake_server.settle() is False
"""
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-W", "error::smtpfake.settling.SettleInLoopWarning"
    )
    result.assert_outcomes(passed=2)
