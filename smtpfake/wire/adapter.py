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
import ssl
import struct
from collections.abc import Iterable
from typing import Any, Protocol

from aiosmtpd.smtp import SMTP

from smtpfake.engine import Session
from smtpfake.engine.session import CLOSE_AFTER_TIMER, IDLE_TIMER
from smtpfake.engine.state import Mode
from smtpfake.scenario.plan import Action, Close, Reset, Send, Sleep, StartTLS
from smtpfake.wire import tls

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

    def tls_context(self, session: Session) -> ssl.SSLContext:
        """The server-side context for the session's TLS settings (asked only when it has TLS)."""
        ...


class EngineSMTP(SMTP):
    def __init__(self, hub: Hub, *, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        # hostname given so aiosmtpd does not call getfqdn() per connection; the engine names it.
        super().__init__(None, hostname="smtpfake", loop=loop, timeout=timeout)
        self._hub = hub
        self.engine_session: Session | None = None
        self._mid_line = False  # the last piece read ended inside an over-long data line
        # Input was already waiting when the server last sent something: the next line read
        # was sent without waiting for that reply (pipelined, or before the greeting).
        self._ahead = False
        self._close_timer: asyncio.TimerHandle | None = None  # server.close_after
        self._server_idle = timeout  # the server's own idle timeout (silent; it bounds a hang)
        self._busy = False  # carrying out the engine's actions: the client waits on us
        self._over_tls = False  # the transport is the TLS layer's (after STARTTLS or implicit)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._hub.register(self)

    def connection_lost(self, error: Exception | None) -> None:
        self._hub.unregister(self)
        if self._close_timer is not None:
            self._close_timer.cancel()
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        # aiosmtpd cancels its command loop here, dropping lines still buffered. Feed EOF to the
        # reader instead and let the loop drain them (the transport stays half-open meanwhile).
        keep_open = asyncio.StreamReaderProtocol.eof_received(self)
        # TLS has no half-open state: asking for it does nothing but make asyncio log a warning
        return False if self._over_tls else keep_open

    async def _handle_client(self) -> None:
        session: Session | None = None
        try:
            peer = self.session.peer if self.session is not None else None
            session = self._hub.new_session(_peer_text(peer))
            self.engine_session = session
            self._arm_timers(session)
            await self._serve(session.connect())
            if session.mode is Mode.CLOSED and self._ahead:
                self._early_words(session)
            lines = 0
            while session.mode is not Mode.CLOSED and self.transport is not None:
                actions = await self._next(session)
                if actions is None:
                    break
                if actions:
                    await self._serve(actions)
                else:
                    self._rearm()  # a line of message data: the client is not idle
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
        session = self.engine_session
        if session is not None and session.settings.idle_timeout is not None and not self._busy:
            self._timer(IDLE_TIMER)  # the client was silent: the scenario's 421
            return
        # The server's own idle timeout (also while the server itself is silent, as in a hang):
        # aiosmtpd's version closes without a word; the engine records who hung up, then we close.
        if session is not None:
            try:
                session.timed_out()
            except Exception as error:  # a loop callback: it would only reach the asyncio log
                self._hub.report_error(error, session)
        self._close_transport()

    async def _serve(self, actions: tuple[Action, ...]) -> None:
        """Carry out the engine's actions. Meanwhile only the server's own idle timeout runs
        (it bounds a hang); the scenario's ``idle_timeout`` counts client silence, and the client
        is waiting on the server. It restarts once the server is done."""
        self._busy = True
        self._reset_timeout(self._server_idle)
        try:
            await self._perform(actions)
        finally:
            self._busy = False
        self._rearm()

    def _rearm(self) -> None:
        transport: Any = self.transport
        if transport is not None and not transport.is_closing():
            self._reset_timeout()

    def _arm_timers(self, session: Session) -> None:
        """The engine's timers: the idle one (aiosmtpd's, re-armed after every line; the
        scenario may set its length) and the one-shot ``close_after``."""
        settings = session.settings
        if settings.idle_timeout is not None:
            self._timeout_duration = settings.idle_timeout
        if settings.close_after is not None:
            self._close_timer = self.loop.call_later(
                settings.close_after, self._timer, CLOSE_AFTER_TIMER
            )

    def _timer(self, name: str) -> None:
        """A timer ran out (a loop callback): the engine's actions are carried out at once."""
        session = self.engine_session
        actions: tuple[Action, ...] = (Close(),)
        if session is not None:
            try:
                actions = session.timer_fired(name)
            except Exception as error:  # a loop callback: it would only reach the asyncio log
                self._hub.report_error(error, session)
        for action in actions:
            if isinstance(action, Send):
                self._write_quietly(action.data)
            elif isinstance(action, Close):
                self._close_transport()  # the command loop ends on connection_lost
            elif isinstance(action, Reset):
                self._abort_with_rst()
            else:  # nothing may wait in a loop callback; the engine never asks it of a timer
                self._hub.report_error(TypeError(f"{action!r} from a timer"), session)
                self._close_transport()

    def _early_words(self, session: Session) -> None:
        """The session ended at connect (a hang or close instead of the greeting) while the
        client had already sent something: the engine records it (as early talking)."""
        buffer = self._buffer()
        end = buffer.find(b"\n")
        line = bytes(buffer[: end + 1] if end >= 0 else buffer[:LINE_LIMIT])
        session.receive(line, pipelined=True)

    def _buffer(self) -> bytearray:
        # asyncio.StreamReader keeps what arrived and is not yet read in ``_buffer``;
        # tests/violations/test_wire_violations.py fails loudly if that changes.
        reader: Any = self._reader
        buffer: bytearray = reader._buffer
        return buffer

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
                actions = session.receive(chunk, partial=self._mid_line, pipelined=self._took())
                self._mid_line = True
                return actions
            await self._discard_line()
            self._took()
            return session.line_too_long()
        actions = session.receive(line, partial=self._mid_line, pipelined=self._took())
        self._mid_line = False
        return actions

    def _took(self) -> bool:
        """Whether the line just read had been waiting when the server last sent something."""
        ahead, self._ahead = self._ahead, False
        return ahead

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
        looked = False
        for action in actions:
            if not looked and not isinstance(action, Sleep):
                # Right before the server speaks (after any delay): is the client ahead of it?
                self._ahead = bool(self._buffer())
                looked = True
            transport: Any = self.transport
            if transport is None or transport.is_closing():
                return  # closed meanwhile (a timer fired): nothing more goes out
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
            elif isinstance(action, StartTLS) and not await self._start_tls(action):
                return

    async def _start_tls(self, action: StartTLS) -> bool:
        """The TLS handshake the engine asked for; False when the connection is over."""
        session = self.engine_session
        assert session is not None, "StartTLS outside a session"
        context = self._hub.tls_context(session)
        buffer = self._buffer()
        early = bytes(buffer)
        buffer.clear()
        self._ahead = False  # whatever was waiting is dealt with here
        if early and not session.settings.tls.implicit:
            # Sent after STARTTLS but before the handshake: plain text that must never pass for
            # what came over TLS (RFC 3207 §4, CVE-2011-0411). With implicit TLS it is the
            # client's ClientHello, there before the server started its handshake.
            session.discarded_before_tls(len(early))
            early = b""
        timeout = min(self._timeout_duration, 60.0)
        if action.cut_after is not None:
            try:
                reason = await tls.cut_handshake(
                    self._reader, self._writer, context, action.cut_after, early, timeout
                )
            except (OSError, asyncio.TimeoutError) as error:
                reason = tls.describe(error)
            session.tls_failed(reason)
            self._close_transport()
            return False
        raw: Any = self.transport  # open: _perform checked it
        try:
            transport = await tls.upgrade(raw, self, context, early=early, timeout=timeout)
        except (OSError, asyncio.TimeoutError) as error:  # ssl.SSLError is an OSError
            session.tls_failed(tls.describe(error))
            # asyncio tells no protocol about a connection lost in the handshake: clean up as
            # connection_lost() does (unregister, timers), once the command loop has ended.
            self.loop.call_soon(self._lost_in_handshake, error)
            return False
        # The stream reader and writer carry on over the TLS transport.
        reader: Any = self._reader
        writer: Any = self._writer
        reader._transport = transport
        writer._transport = transport
        self.transport = transport
        self._over_tls = True
        ssl_object: Any = transport.get_extra_info("ssl_object")
        cipher = ssl_object.cipher()
        await self._perform(session.tls_started(ssl_object.version(), cipher[0] if cipher else "?"))
        return True

    def _lost_in_handshake(self, error: Exception) -> None:
        if self.transport is not None:  # not already told (aiosmtpd clears it there)
            self.connection_lost(error)

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
