"""The aiosmtpd internals smtpfake/wire/adapter.py relies on. If an aiosmtpd release changes
them, these fail with a message that says what moved, before any wire test fails obscurely.

Checked against plain aiosmtpd ``SMTP`` (not the subclass), on a real socket pair.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import socket
from collections.abc import AsyncIterator
from importlib import metadata

import pytest
import pytest_asyncio
from aiosmtpd.smtp import SMTP

from smtpfake.wire import adapter
from smtpfake.wire.adapter import EngineSMTP


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_aiosmtpd_version_in_the_supported_range() -> None:
    requirement = next(r for r in metadata.requires("smtpfake") or [] if re.match(r"aiosmtpd\b", r))
    installed = _version(metadata.version("aiosmtpd"))
    specifiers = re.findall(r"(>=|<=|==|<|>)\s*([\d.]+)", requirement)
    assert specifiers, f"no version range in {requirement!r}"
    checks = {
        ">=": lambda a, b: a >= b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b,
        "==": lambda a, b: a == b,
    }
    for op, bound in specifiers:
        assert checks[op](installed, _version(bound)), (
            f"aiosmtpd {metadata.version('aiosmtpd')} is outside {requirement!r}: "
            "re-check every test in this file and the adapter before widening the range"
        )


def test_hooks_the_adapter_overrides_exist() -> None:
    for name in ("_handle_client", "connection_made", "connection_lost", "eof_received"):
        assert name in vars(SMTP), f"aiosmtpd.smtp.SMTP no longer defines {name}"
    assert inspect.iscoroutinefunction(SMTP._handle_client)
    # the adapter's versions really replace them
    for name in ("_handle_client", "connection_made", "connection_lost", "eof_received"):
        assert name in vars(EngineSMTP)


def test_constructor_takes_what_the_adapter_passes() -> None:
    params = inspect.signature(SMTP.__init__).parameters
    for name in ("handler", "hostname", "loop", "timeout"):
        assert name in params, f"SMTP.__init__ lost its {name!r} parameter"
    assert callable(SMTP._reset_timeout)
    assert list(inspect.signature(SMTP._reset_timeout).parameters)[:1] == ["self"]


def test_line_length_limit_matches_the_adapter() -> None:
    assert SMTP.line_length_limit == adapter.LINE_LIMIT == 1001


class Probe(SMTP):
    """Plain aiosmtpd, with its command loop replaced by one that just waits (as ours does)."""

    started = 0

    async def _handle_client(self) -> None:
        type(self).started += 1
        await asyncio.Event().wait()


@pytest_asyncio.fixture
async def probe() -> AsyncIterator[tuple[Probe, socket.socket]]:
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    protocol = Probe(None, hostname="contract.test", loop=loop, timeout=300)
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, ours)
    theirs.settimeout(5)
    try:
        yield protocol, theirs
    finally:
        transport.abort()
        theirs.close()
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_connection_made_sets_reader_writer_and_starts_the_loop(
    probe: tuple[Probe, socket.socket],
) -> None:
    protocol, _ = probe
    assert isinstance(protocol._reader, asyncio.StreamReader)
    assert isinstance(protocol._writer, asyncio.StreamWriter)
    assert protocol.transport is not None
    assert protocol.session is not None  # session.peer is read by the adapter
    assert hasattr(protocol.session, "peer")
    task = protocol._handler_coroutine
    assert isinstance(task, asyncio.Task)
    await asyncio.sleep(0)
    assert Probe.started >= 1, "connection_made no longer runs _handle_client as a task"


@pytest.mark.asyncio
async def test_reader_limit_is_line_length_limit(probe: tuple[Probe, socket.socket]) -> None:
    protocol, theirs = probe
    assert protocol._reader._limit == SMTP.line_length_limit  # type: ignore[attr-defined]
    theirs.sendall(b"x" * (SMTP.line_length_limit + 10) + b"\n")
    with pytest.raises(asyncio.LimitOverrunError):
        await asyncio.wait_for(protocol._reader.readuntil(b"\n"), 5)


@pytest.mark.asyncio
async def test_writer_reaches_the_socket(probe: tuple[Probe, socket.socket]) -> None:
    protocol, theirs = probe
    protocol._writer.write(b"220 hello\r\n")
    await protocol._writer.drain()
    assert await asyncio.get_running_loop().run_in_executor(None, theirs.recv, 100) == (
        b"220 hello\r\n"
    )


@pytest.mark.asyncio
async def test_reset_timeout_rearms_the_idle_timer(probe: tuple[Probe, socket.socket]) -> None:
    protocol, _ = probe
    before = protocol._timeout_handle
    assert isinstance(before, asyncio.TimerHandle)
    protocol._reset_timeout()
    after = protocol._timeout_handle
    assert isinstance(after, asyncio.TimerHandle) and after is not before
    assert before.cancelled()


@pytest.mark.asyncio
async def test_the_idle_timer_calls_timeout_cb() -> None:
    loop = asyncio.get_running_loop()
    fired = asyncio.Event()

    class Timed(Probe):
        def _timeout_cb(self) -> None:  # the adapter overrides this to record the close
            fired.set()

    assert "_timeout_cb" in vars(SMTP) and "_timeout_cb" in vars(EngineSMTP)
    ours, theirs = socket.socketpair()
    protocol = Timed(None, hostname="contract.test", loop=loop, timeout=300)
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, ours)
    try:
        protocol._reset_timeout(0.05)
        await asyncio.wait_for(fired.wait(), 5)
    finally:
        transport.abort()
        theirs.close()
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_connection_lost_cancels_the_loop(probe: tuple[Probe, socket.socket]) -> None:
    protocol, _ = probe
    task = protocol._handler_coroutine
    assert task is not None
    await asyncio.sleep(0)
    assert not task.done()
    transport = protocol.transport
    assert isinstance(transport, asyncio.Transport)
    transport.abort()  # what Server.stop()/reset() do: connection_lost(None) follows
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), 5)
    assert task.cancelled()
    assert protocol.transport is None


class HalfOpen(Probe):
    def eof_received(self) -> bool | None:
        return asyncio.StreamReaderProtocol.eof_received(self)  # what the adapter does


@pytest.mark.asyncio
async def test_eof_goes_to_the_reader_and_the_transport_stays_open() -> None:
    # The adapter's eof_received() defers to StreamReaderProtocol's, so lines sent just before
    # the client's EOF are still read, and on plain TCP the transport stays half-open meanwhile.
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    protocol = HalfOpen(None, hostname="contract.test", loop=loop, timeout=300)
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, ours)
    try:
        theirs.sendall(b"NOOP\r\nQUIT\r\n")
        theirs.shutdown(socket.SHUT_WR)
        read = protocol._reader.readuntil(b"\n")
        assert await asyncio.wait_for(read, 5) == b"NOOP\r\n"
        assert await asyncio.wait_for(protocol._reader.readuntil(b"\n"), 5) == b"QUIT\r\n"
        with pytest.raises(asyncio.IncompleteReadError):
            await asyncio.wait_for(protocol._reader.readuntil(b"\n"), 5)
        assert not transport.is_closing()
        assert protocol._handler_coroutine is not None
        assert not protocol._handler_coroutine.done()
        # and the writer still works on the half-open connection
        protocol._writer.write(b"221 bye\r\n")
        await protocol._writer.drain()
        assert await loop.run_in_executor(None, theirs.recv, 100) == b"221 bye\r\n"
    finally:
        transport.abort()
        theirs.close()
        await asyncio.sleep(0)
