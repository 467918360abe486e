"""The aiosmtpd adapter: socket traffic in, engine events; engine actions out, on the socket.

Everything that depends on aiosmtpd's internals is in this file. aiosmtpd hard-codes the 220
greeting and runs its own 503 checks before any hook, so the engine cannot sit behind handler
hooks: this subclass keeps aiosmtpd's protocol plumbing (stream reader/writer, idle timeout,
connection lifecycle) and replaces its command loop with one that asks the engine.
Written against aiosmtpd 1.4.6; tests/wire/test_aiosmtpd_contract.py fails loudly if the
internals used here change.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterable
from typing import Any, Protocol

from aiosmtpd.smtp import SMTP

from smtpfake.engine import Session
from smtpfake.engine.state import Mode
from smtpfake.scenario.plan import Action, Close, Reset, Send, Sleep

#: readuntil() gives up on a line longer than this (RFC 5321 §4.5.3.1.6: 1000 octets + dot)
LINE_LIMIT = 1001

#: what the client gets when smtpfake itself fails and the engine cannot say it
INTERNAL_ERROR = b"451 4.3.0 smtpfake internal error, see the test report\r\n"


class Hub(Protocol):
    """What the adapter needs from the server that owns it."""

    def new_session(self, peer: str) -> Session: ...

    def register(self, protocol: EngineSMTP) -> None: ...

    def unregister(self, protocol: EngineSMTP) -> None: ...

    def report_error(self, error: BaseException, session: Session | None) -> None: ...


class EngineSMTP(SMTP):
    def __init__(self, hub: Hub, *, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        # hostname given so aiosmtpd does not call getfqdn() per connection; the engine names it.
        super().__init__(None, hostname="smtpfake", loop=loop, timeout=timeout)
        self._hub = hub
        self.engine_session: Session | None = None
        self._mid_line = False  # the last piece read ended inside an over-long data line

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._hub.register(self)

    def connection_lost(self, error: Exception | None) -> None:
        self._hub.unregister(self)
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        # aiosmtpd cancels its command loop here, dropping lines still buffered. Feed EOF to the
        # reader instead and let the loop drain them (the transport stays half-open meanwhile).
        return asyncio.StreamReaderProtocol.eof_received(self)

    async def _handle_client(self) -> None:
        session: Session | None = None
        try:
            peer = self.session.peer if self.session is not None else None
            session = self._hub.new_session(_peer_text(peer))
            self.engine_session = session
            await self._perform(session.connect())
            lines = 0
            while session.mode is not Mode.CLOSED and self.transport is not None:
                actions = await self._next(session)
                if actions is None:
                    break
                self._reset_timeout()
                await self._perform(actions)
                lines += 1
                if actions or lines % 256 == 0:
                    # Neither readuntil() on buffered input nor drain() below the high-water mark
                    # yields: without this, one flooding client holds the loop (other sessions,
                    # stop()) until its input runs out.
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            # Python 3.12+: a writer left open here keeps Server.wait_closed() waiting forever.
            self._close_transport()
            raise
        except ConnectionError:
            pass  # the client went away mid-write: the session ends, nothing is wrong with us
        except Exception as error:
            # A bug in smtpfake: report it (it reaches the test or the log), tell the client.
            self._hub.report_error(error, session)
            self._fail(session)
        finally:
            if session is not None:
                try:
                    session.disconnected()
                except Exception as error:  # reported, never lost in the loop's log
                    self._hub.report_error(error, session)
            self._close_transport()

    def _timeout_cb(self) -> None:
        # aiosmtpd's version closes without a word; the engine records who hung up, then we close.
        session = self.engine_session
        if session is not None:
            try:
                session.timed_out()
            except Exception as error:  # a loop callback: it would only reach the asyncio log
                self._hub.report_error(error, session)
        self._close_transport()

    def _fail(self, session: Session | None) -> None:
        """After an internal error: a 451 (recorded by the engine when it can) and the close."""
        actions: tuple[Action, ...] = (Send(INTERNAL_ERROR), Close())
        if session is not None:
            try:
                actions = session.internal_error()
            except Exception as error:  # the engine is broken too: still answer the client
                self._hub.report_error(error, session)
        for action in actions:
            if isinstance(action, Send):
                self._write_quietly(action.data)
        self._close_transport()

    async def _next(self, session: Session) -> tuple[Action, ...] | None:
        """Read one line and hand it to the engine; None at end of input."""
        try:
            line = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as eof:
            if not eof.partial:
                return None
            line = eof.partial  # a last line without its newline still counts as sent
        except asyncio.LimitOverrunError as over:
            chunk = await self._reader.read(over.consumed)
            if session.mode is Mode.DATA:
                # An over-long data line goes to the engine in pieces. Only the first piece starts
                # a line: the others must not be dot-unstuffed or taken for the final ".".
                actions = session.receive(chunk, partial=self._mid_line)
                self._mid_line = True
                return actions
            await self._discard_line()
            return session.line_too_long()
        actions = session.receive(line, partial=self._mid_line)
        self._mid_line = False
        return actions

    async def _discard_line(self) -> None:
        while True:
            try:
                await self._reader.readuntil(b"\n")
                return
            except asyncio.LimitOverrunError as over:
                await self._reader.read(over.consumed)
            except asyncio.IncompleteReadError:
                return

    async def _perform(self, actions: Iterable[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self._writer.write(action.data)
                await self._writer.drain()
            elif isinstance(action, Sleep):
                await asyncio.sleep(action.seconds)
            elif isinstance(action, Close):
                self._close_transport()
                return
            elif isinstance(action, Reset):
                self._abort_with_rst()
                return

    def _abort_with_rst(self) -> None:
        transport: Any = self.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER (on, 0 s): close() then sends RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    def _write_quietly(self, data: bytes) -> None:
        transport: Any = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def _close_transport(self) -> None:
        transport: Any = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    def abort(self) -> None:
        """Drop the connection now (server stop or reset)."""
        transport: Any = self.transport
        if transport is not None:
            transport.abort()


def _peer_text(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "")
