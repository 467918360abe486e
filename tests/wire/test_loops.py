"""The event loop choice: asyncio's own or uvloop (when installed), for Server.start() and
``smtpfake serve --loop``; both carry the same sessions."""

from __future__ import annotations

import asyncio
import importlib.util
import smtplib
import socket
import struct
import sys
from pathlib import Path

import pytest

from smtpfake.server import Server
from smtpfake.wire import loops
from smtpfake.wire.protocol import wire_class

from ..support.uvloop_shim import SHIM_ERROR, break_uvloop
from ..support.waits import wait_until

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


def test_uvloop_asked_for_but_missing_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # not installed, whether it is or not
    with pytest.raises(RuntimeError, match=r"pip install 'smtpfake\[uvloop\]'"):
        loops.new_event_loop("uvloop")


@pytest.mark.parametrize("choice", CHOICES)
def test_each_loop_reads_through_the_protocol_kind_cheapest_on_it(choice: str) -> None:
    # uvloop hands a plain Protocol each read as bytes from a buffer of its own (a buffered one
    # costs it a get_buffer call and a memoryview per read); asyncio's loop reads a plain
    # Protocol's data into a fresh 256 KiB object each time, a buffered one into ours
    loop = loops.new_event_loop(choice)
    try:
        wire = wire_class(loop)
        assert issubclass(wire, asyncio.Protocol)
        assert issubclass(wire, asyncio.BufferedProtocol) == (loops.name(loop) == "asyncio")
    finally:
        loop.close()


@pytest.mark.parametrize("choice", CHOICES)
def test_a_reset_right_after_the_221_is_recorded_as_a_reset(choice: str) -> None:
    # smtp-source's way out: read the 221, then close with SO_LINGER 0 (RST) at once. The RST
    # can reach the server before its half-close (which then fails: ENOTCONN, synchronously on
    # asyncio, in a callback on uvloop) and before any read reports it: still a reset.
    with Server(loop=choice) as server:
        for _ in range(10):
            with socket.create_connection((server.host, server.port), timeout=5) as sock:
                reader = sock.makefile("rb")
                assert reader.readline().startswith(b"220")
                sock.sendall(b"HELO client.test\r\n")
                assert reader.readline().startswith(b"250")
                sock.sendall(b"QUIT\r\n")
                assert reader.readline().startswith(b"221")
                reader.close()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        wait_until(lambda: server.journal.counts().sessions_ended == 10)
        last = [session.transcript[-1] for session in server.sessions]
        assert {(entry.text, entry.event) for entry in last} == {
            ("(client reset the connection)", True)
        }
        assert server.errors == []


def test_uvloop_failing_to_import_auto_takes_asyncio_and_uvloop_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    break_uvloop(monkeypatch, tmp_path)
    assert loops.uvloop_problem() == (
        f"uvloop is installed but fails to import ({SHIM_ERROR}): "
        "pip install --force-reinstall uvloop"
    )
    loop = loops.new_event_loop("auto")
    try:
        assert loops.name(loop) == "asyncio"
    finally:
        loop.close()
    with pytest.raises(RuntimeError, match=r"fails to import .*--force-reinstall uvloop"):
        loops.new_event_loop("uvloop")
