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
