"""The event loop choice: asyncio's own or uvloop (when installed), for Server.start() and
``smtpfake serve --loop``; both carry the same sessions."""

from __future__ import annotations

import importlib.util
import smtplib

import pytest

from smtpfake.server import Server
from smtpfake.wire import loops

HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None
CHOICES = ["asyncio", "auto"] + (["uvloop"] if HAVE_UVLOOP else [])


@pytest.mark.parametrize("choice", CHOICES)
def test_a_server_on_each_loop_delivers(choice: str) -> None:
    with Server(loop=choice) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.sendmail("a@x.test", ["b@y.test"], b"Subject: loop\r\n\r\nhi\r\n")
        assert [m.subject for m in server.messages] == ["loop"]
        assert server.errors == []


def test_auto_takes_uvloop_exactly_when_it_is_installed() -> None:
    loop = loops.new_event_loop("auto")
    try:
        assert loops.name(loop) == ("uvloop" if HAVE_UVLOOP else "asyncio")
    finally:
        loop.close()
    plain = loops.new_event_loop("asyncio")
    try:
        assert loops.name(plain) == "asyncio"
    finally:
        plain.close()


def test_an_unknown_loop_is_refused() -> None:
    with pytest.raises(ValueError, match="auto, asyncio, uvloop"):
        loops.new_event_loop("trio")


@pytest.mark.skipif(HAVE_UVLOOP, reason="uvloop is installed here")
def test_uvloop_asked_for_but_missing_says_what_to_install() -> None:
    with pytest.raises(RuntimeError, match=r"pip install 'smtpfake\[uvloop\]'"):
        loops.new_event_loop("uvloop")


def test_run_serves_with_the_collector_set_and_restores_it() -> None:
    import gc

    from smtpfake.wire import collector

    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    seen: list[tuple[tuple[int, ...], int]] = []

    async def main() -> str:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        return "served"

    assert loops.run(main(), "asyncio") == "served"
    ((threshold, frozen),) = seen
    assert threshold == (collector.YOUNG_THRESHOLD, *before[1:])
    assert frozen > frozen_before  # start-up's objects were out of the collector's sight
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen_before


def test_the_collector_is_restored_when_serving_fails() -> None:
    import gc

    before, frozen_before = gc.get_threshold(), gc.get_freeze_count()

    async def main() -> None:
        raise OSError("address in use")

    with pytest.raises(OSError, match="address in use"):
        loops.run(main(), "asyncio")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen_before
