"""The wire: a thin asyncio protocol carrying bytes to the engine and its actions out.

It interprets the engine's small action set (smtpfake/scenario/plan.py) and nothing else: it
never looks at a command, a reply or a fault. Everything SMTP (framing, pipelining, the record,
timing rules) is the engine's (smtpfake/engine/connection.py). Only asyncio's public API is used:
``create_server`` (in server.py), ``loop.start_tls``, the transport's write / write_eof / abort /
pause_reading, and timer handles.

Most batches (a reply and a timer) are carried out at once inside the callback that received the
command; a task is made only for a batch that waits (a Sleep, a TLS handshake, a client that
does not read its replies).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import functools
import os
import socket
import ssl
import struct
import sys
from typing import TYPE_CHECKING, Any, Protocol, cast

from smtpfake.engine.connection import Connection
from smtpfake.engine.session import IDLE_TIMER, Session
from smtpfake.engine.shared import Shared
from smtpfake.scenario.plan import (
    Action,
    ArmTimer,
    CancelTimer,
    Close,
    Consult,
    HalfClose,
    Note,
    Reset,
    Send,
    Sleep,
    StartTLS,
)
from smtpfake.scenario.reply import Reply
from smtpfake.wire import loops

if TYPE_CHECKING:
    from smtpfake.wire.tls import CutHandshake

#: what the client gets when smtpfake itself fails and the engine cannot say it
INTERNAL_ERROR = b"451 4.3.0 smtpfake internal error, see the test report\r\n"
#: batches carried out back to back in one callback before the loop gets a turn (a client that
#: pipelines thousands of commands must not hold up the other sessions)
BATCHES_PER_TURN = 64

#: Wire._idle before the engine first answered with one timer (a tuple it never returns)
_NO_IDLE: tuple[ArmTimer] = (ArmTimer("", 0.0),)
#: stop reading while the engine holds this many unprocessed octets; go on below the low mark
READ_HIGH, READ_LOW = 1 << 20, 1 << 16
#: the longest a TLS handshake may take, in seconds (also bounded by the idle timeout)
HANDSHAKE_LIMIT = 60.0
#: the most one read takes from the socket (asyncio's own read size), in octets
READ_SIZE = 1 << 18
#: while the transport holds octets of replies the socket has not taken (the client does not
#: read), how often the wire notes how many, in seconds: the socket takes more as the kernel
#: moves what it took on, with no event, and a reset drops the transport's buffer unsaid.
#: (asyncio's loop could say each take if the low-water mark followed the buffer down, but
#: uvloop calls resume_writing only once libuv's whole write went: a look serves both)
LOOK_EVERY = 0.01
#: while the socket is full, how often (at most; a quarter of the idle period when shorter)
#: the slow-reader check looks whether the client took some of what waits, in seconds. The
#: client's kernel takes octets for a moment after the socket filled, read or not: noted at
#: the timer's end only, they started over the timer of a client that read nothing (cut at
#: twice idle_timeout); noted as they go, the timer runs from when the socket stopped taking
SAMPLE_EVERY = 0.1

#: over TLS, what the wire tells the engine of a half-close: the grace period runs; the close's
#: entry waits for the close itself (Wire._do)
_READ_ON = HalfClose()

#: whether a TLS transport's buffer leaves out the socket transport's under it, by loop and
#: Python (3.10's asyncio counts the socket's: its TLS layer keeps no buffer of its own)
_TLS_OWN_BUFFER = {"asyncio": sys.version_info >= (3, 11)}


def read_buffer() -> memoryview:
    """A buffer the connections of one server (one loop) read into, one after the other: each
    read is copied out before the next begins (asyncio.BufferedProtocol calls get_buffer(), the
    read, and buffer_updated() in one go). Reading into it spares the allocation of a fresh
    256 KiB object per read that a plain Protocol costs (three syscalls: mmap, mremap, munmap)."""
    return memoryview(bytearray(READ_SIZE))


class Hub(Protocol):
    """What the wire needs from the server that owns it."""

    def new_connection(self, peer: str) -> Connection: ...

    def register(self, wire: Wire) -> None: ...

    def unregister(self, wire: Wire) -> None: ...

    def report_error(self, error: BaseException, session: Session | None) -> None: ...

    def tls_context(self, session: Session) -> ssl.SSLContext:
        """The server-side context for the session's TLS settings (asked only when it has TLS)."""
        ...

    async def consult(self, session: Session, action: Consult) -> Reply | None:
        """The user's handler's reply for ``action``; None when it failed (reported)."""
        ...


class Wire(asyncio.Protocol):
    """One connection's transport side. As an ``asyncio.Protocol`` the loop hands it each read
    as a new bytes object (``data_received``): what uvloop does most cheaply, from a buffer of
    its own. :class:`BufferedWire` has asyncio's loop read into ``buffer`` instead
    (:func:`read_buffer`, shared by the connections of one loop; ``get_buffer`` and
    ``buffer_updated``)."""

    # slots: ten thousand idle sessions are ten thousand of these (bench/idle_memory.py)
    __slots__ = (
        "_behind",
        "_closed_note",
        "_conn",
        "_cut",
        "_cut_done",
        "_deadlines",
        "_eof",
        "_failing",
        "_flying",
        "_held_at",
        "_hub",
        "_idle",
        "_idle_mark",
        "_kept",
        "_later",
        "_looking",
        "_loop",
        "_lost",
        "_out",
        "_pending",
        "_raw",
        "_read_into",
        "_read_paused",
        "_reset",
        "_sampling",
        "_task",
        "_timers",
        "_tls",
        "_transport",
        "_writable",
    )

    def __init__(self, hub: Hub, loop: asyncio.AbstractEventLoop, buffer: memoryview) -> None:
        self._hub = hub
        self._loop = loop
        self._read_into = buffer
        self._transport: asyncio.Transport | None = None
        # the socket's own transport (under TLS's): closing after a write of ours means the
        # socket refused it (_refused)
        self._raw: asyncio.Transport | None = None
        self._conn: Connection | None = None
        self._task: asyncio.Task[None] | None = None  # a batch that waits
        self._later: asyncio.Handle | None = None  # a batch's done(), given the loop a turn
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._deadlines: dict[str, float] = {}
        # what the client had not taken when the socket filled, or at the last look since
        # (_sample) or the timer's last end (None: empty): less now means the client reads
        self._idle_mark: int | None = None
        self._sampling: asyncio.TimerHandle | None = None  # the next such look (_sample)
        # set while the transport holds octets the socket has not taken (the client does not
        # read): resolved and cleared by resume_writing (pause_writing/resume_writing)
        self._writable: asyncio.Future[None] | None = None
        self._kept = 0  # octets the transport held after the last write (its buffer's size)
        # the clock's last reading at which the transport was seen holding octets of the last
        # write (before the write, then at each look): its last octet was taken after it
        self._held_at = 0.0
        self._looking: asyncio.TimerHandle | None = None  # the next look at that size (_look)
        # the client once left replies unread: from then on each reply is written on its own
        # and performed once the socket took it, the next command's reply made only then
        self._behind = False
        self._pending: Send | None = None  # a reply written whose last octets the transport holds
        # octets of replies written in one write (Connection.queued) the transport still holds
        # (the client does not read): the engine learns when the socket takes them (sent)
        self._flying = 0
        self._read_paused = False  # by us, because the engine holds much unread input
        self._cut: CutHandshake | None = None  # a handshake being cut short
        self._cut_done: asyncio.Future[str] | None = None
        self._tls = False
        # over TLS, the note of the half-close the server did not do (no such thing in TLS):
        # recorded at the close that ends the grace period (_do)
        self._closed_note: Note | None = None
        self._lost = False
        self._eof = False  # the engine heard of the client's EOF (eof_received, _closed_under)
        self._reset = False  # the client's RST was met by a write, before a read saw it
        self._failing = False
        self._out: list[bytes] | None = None  # Sends collected in one callback, written at its end
        self._idle = _NO_IDLE  # the engine's last answer to a reply written that was one timer

    # -- asyncio.Protocol --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if TYPE_CHECKING:  # (for mypy only: a cast is a call on every connection)
            # uvloop's transports implement asyncio.Transport without subclassing it
            transport = cast(asyncio.Transport, transport)
        self._transport = self._raw = transport
        # Limits of 0: pause_writing as soon as the socket leaves an octet of a write in the
        # transport's buffer, resume_writing once it took them all; so the wire knows when a
        # reply's last octet is with the socket (and writes no more while the client does not
        # read). Positional: no keyword parsing on every connection.
        transport.set_write_buffer_limits(0)
        self._hub.register(self)
        try:
            conn = self._hub.new_connection(_peer_text(transport.get_extra_info("peername")))
        except Exception as error:  # reported, and the client still gets an answer
            self._hub.report_error(error, None)
            transport.write(INTERNAL_ERROR)
            transport.close()
            return
        self._conn = conn
        tls = conn.session.settings.tls
        if tls.enabled and tls.implicit:
            # Not a byte may be read before the handshake starts: it is the ClientHello.
            transport.pause_reading()
        self._call(conn.connected)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._read_into

    def buffer_updated(self, nbytes: int) -> None:
        # copied out now: the buffer is the next connection's as soon as this returns
        self.data_received(bytes(self._read_into[:nbytes]))

    def data_received(self, data: bytes) -> None:
        """What the client sent (``buffer_updated`` hands it over)."""
        conn = self._conn
        if conn is None:
            return
        if self._cut is not None:
            self._feed_cut(data)
            return
        try:
            actions = conn.receive_data(data)
        except Exception as error:
            self._failed(error)
            return
        if actions and self._carry(actions):
            return  # all carried out and the engine holds less than a line
        if len(conn.unread) > READ_HIGH and not self._read_paused and self._transport is not None:
            self._read_paused = True
            self._transport.pause_reading()

    def eof_received(self) -> bool | None:
        if self._cut is not None:
            self._finish_cut("the client closed before its ClientHello")
            return None
        conn = self._conn
        if conn is not None and not self._eof:
            self._eof = True
            # waiting on the socket, only the client's reading holds the batch up: its EOF is
            # a half-close (Connection.writes_on), _until_taken goes on; else the reply in the
            # transport is given up, with the octets the socket took
            full = self._writable is not None
            if (
                (self._pending is not None or self._flying)
                and not conn.writes_on(full)
                and self._report_kept()
                and self._transport is not None
            ):
                # the rest of the reply given up must not go (the record says how much did);
                # a close would still send what the transport holds
                _stop_sending(self._transport)
            try:  # _call(), inline: no closure made for it
                actions = conn.eof_received(full)
            except Exception as error:
                self._failed(error)
            else:
                if actions:
                    self._carry(actions)
        # TLS has no half-open state (asking for it only makes asyncio log a warning)
        return not self._tls

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        if exc is None and self._closed_note is not None and not (self._eof or self._reset):
            # Over TLS in the grace period, the connection closed with no word of the client's
            # end: uvloop's TLS layer closed the socket at the client's FIN (_closed_under), or
            # 3.10's answered its close_notify. The EOF, then the server's close, as on asyncio.
            self.eof_received()
        self._lost = True
        if self._pending is not None or self._flying:  # (a call less at each end)
            self._report_kept()
        self._pending = None  # _stop_work()'s, the call only when a batch waits (rarely)
        if self._task is not None or self._later is not None:
            self._stop_work()
        if self._looking is not None:
            self._looking.cancel()
            self._looking = None
        if self._sampling is not None:
            self._sampling.cancel()
            self._sampling = None
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._deadlines.clear()
        if self._cut is not None:
            self._finish_cut("the connection was lost during the handshake")
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)
        self._hub.unregister(self)
        conn = self._conn
        if conn is not None:
            try:
                # a close note still held: the client reset (or the loop failed) in the grace
                # period over TLS, before the server's close; recorded all the same (fresh20 F3)
                conn.connection_lost(
                    self._reset or (exc is not None and _is_reset(exc)), self._closed_note
                )
            except Exception as error:  # a loop callback: it would only reach the asyncio log
                self._hub.report_error(error, conn.session)

    def pause_writing(self) -> None:
        # the socket left octets of a write in the transport's buffer (limits of 0: any octet)
        if self._writable is None:
            self._writable = self._loop.create_future()
            self._behind = True
            self._idle_mark = self._waiting()
            self._stall(True)  # the client's idle timer runs while it does not read
            self._sample_later()

    def resume_writing(self) -> None:
        # the socket took every octet written so far; whoever waits goes on
        if self._tls:
            if self._lost or self._writable is None:  # (a look resumed it already)
                return
            held = self._held()
            if held is None:  # closing: its end (connection_lost) tells what went
                self._closed_under()
                return
            if held:  # the TLS layer's resume, the socket's transport still holding some
                self._loop.call_later(LOOK_EVERY, self.resume_writing)
                return
        writable, self._writable = self._writable, None
        self._kept = 0
        self._idle_mark = None
        if self._sampling is not None:
            self._sampling.cancel()
            self._sampling = None
        if self._flying:
            self._flying = 0
            conn = self._conn  # the replies of a write the socket took in part: all taken now
            self._sent(None, None if conn is None else conn.held_until(self._held_at))
        self._stall(False)
        if writable is not None and not writable.done():
            writable.set_result(None)

    @property
    def session(self) -> Session | None:
        """The engine's session of this connection (None before it is made)."""
        return self._conn.session if self._conn is not None else None

    # -- server control ----------------------------------------------------------------------------

    def rejoin(self, shared: Shared) -> None:
        """The server's journal was cleared (a reset): this open session goes on in the new one."""
        conn = self._conn
        if conn is not None and not self._lost:
            conn.rejoin(shared)

    def shut_down(self, why: str, grace: float) -> None:
        """The server stops (``why``: ``stop``) or is reset (``reset``): the engine's 421 and
        close (Connection.shutting_down); ``grace``: the longest grace period now, seconds (0:
        close at once). A client that does not read its replies is dropped at once: its 421
        could not reach it."""
        conn, transport = self._conn, self._transport
        if conn is None or transport is None or self._lost or self._writable is not None:
            self.abort(why)
            return
        self._call(lambda: conn.shutting_down(why, grace))
        if grace <= 0 and not transport.is_closing():
            self.abort(why)

    def abort(self, why: str = "stop") -> None:
        """Drop the connection now (server stop or reset), recorded as the server's close."""
        conn = self._conn
        if conn is not None and not self._lost:
            self._report_kept()
            try:
                conn.dropped(why)
            except Exception as error:
                self._hub.report_error(error, conn.session)
        if self._transport is not None:
            self._transport.abort()

    # -- carrying out actions ----------------------------------------------------------------------

    def _call(self, event: Any) -> None:
        """Ask the engine (``event()``) and carry out what it answers; its errors are reported."""
        if event is None:
            return
        try:
            actions = event()
        except Exception as error:
            self._failed(error)
            return
        if actions:
            self._carry(actions)

    def _carry(self, actions: tuple[Action, ...]) -> bool:
        """Carry out actions; a batch (anything but timers) replaces any batch still under way,
        and once it is done the engine is told and its next actions follow. True when it was
        one reply, written whole, after which the engine wants only its idle timer (so it holds
        at most part of a line); False when not known."""
        conn, transport, out = self._conn, self._transport, self._out
        assert conn is not None and transport is not None
        turns = 0
        outer = out is None
        single = len(actions) == 1
        if (
            not single
            and len(actions) == 2
            and type(actions[0]) is ArmTimer
            and type(actions[1]) is Send
        ):
            # a timer and one reply (the greeting, after the idle timer): the timer first, as
            # the loop below would set it, and the reply as any other
            self._timer_action(actions[0])
            actions = actions[1:]
            single = True
        if (
            single
            and outer
            and type(actions[0]) is Send
            and self._writable is None
            and self._task is None
            and self._later is None
            and (self._behind or not conn.unread)
        ):
            # Most batches: one reply, nothing under way, nothing unread behind it (else it
            # leaves in one write with the replies that follow: the loop below). It is written
            # first and performed once its last octet is with the socket: at once when the
            # socket took it all (limits of 0: no pause_writing), else a task waits for it.
            # When the engine's next actions are the idle timer alone, that is all.
            send = actions[0]
            if transport.is_closing():
                return False
            # the reply's time: read before the write, so never later than the client had it
            now = conn.session.clock.now()
            transport.write(send.data)
            if self._raw.is_closing():  # type: ignore[union-attr]
                return self._refused()
            if self._tls:
                self._tls_wrote()
            if self._writable is not None:
                self._held_at = now
                waiting = self._carry_waiting(actions, self._loop.time(), written=True)
                self._task = self._loop.create_task(waiting)
                return False
            try:
                actions = conn.wrote(send, now)  # performed(send) and done() in one call
            except Exception as error:
                self._failed(error)
                return False
            idle = self._idle
            if actions is not idle and len(actions) == 1 and type(actions[0]) is ArmTimer:
                # the engine answers with the same one-timer tuple each time: known by identity
                if TYPE_CHECKING:  # (for mypy only: a cast is a call on every connection)
                    actions = cast("tuple[ArmTimer]", actions)
                self._idle = idle = actions
            if actions is idle:
                # _timer_action()'s common case inline: the idle timer moved later
                timer = idle[0]
                name = timer.name
                deadline = self._loop.time() + timer.seconds
                deadlines = self._deadlines
                rings = deadlines.get(name)
                if rings is not None and rings <= deadline:
                    deadlines[name] = deadline
                else:
                    self._timer_action(timer)
                if self._read_paused:
                    self._resume_reading(conn)
                return True
            # more follows at once (a close, the reply to a line that came meanwhile): below
            out = self._out = []
            turns = 1
            if self._read_paused:
                self._resume_reading(conn)
        elif (
            outer
            and len(actions) == 3
            and type(actions[0]) is Send
            and type(actions[1]) is HalfClose
            and type(actions[2]) is ArmTimer
            and self._writable is None
            and self._task is None
            and self._later is None
            and not conn.unread
        ):
            # A reply, the half-close and the grace timer (QUIT's 221): what the loop below
            # does with them, its checks for other actions left out. The reply is written on its
            # own (nothing unread to answer with it) and performed once the socket took it all.
            # Its first steps are the single reply's, above, written out again on purpose: a
            # shared method would be a call more on the path every reply takes.
            send = actions[0]
            try:
                if transport.is_closing():
                    return False
                now = conn.session.clock.now()  # (before the write: the single reply's, above)
                transport.write(send.data)
                if self._raw.is_closing():  # type: ignore[union-attr]
                    return self._refused()
                if self._tls:
                    self._tls_wrote()
                if self._writable is not None:
                    self._held_at = now
                    waiting = self._carry_waiting(actions, self._loop.time(), written=True)
                    self._task = self._loop.create_task(waiting)
                    return False
                conn.performed(send, now)
                if not self._do(actions[1]):
                    return False
                self._timer_action(actions[2])
                actions = conn.done()
                if len(actions) == 1 and type(actions[0]) is ArmTimer:
                    self._timer_action(actions[0])  # the idle timer after the batch
                    actions = ()
                if self._read_paused:
                    self._resume_reading(conn)
            except Exception as error:
                self._failed(error)
                return False
            if not actions:
                return False
            out = self._out = []  # more follows at once: below
            turns = 1
        elif (
            single
            and outer
            and type(actions[0]) is Close
            and self._writable is None
            and self._task is None
            and self._later is None
        ):
            # a close alone (the client's EOF after QUIT's 221 and the half-close): what the
            # loop below does with it, nothing written before it in this callback
            try:
                return self._do(actions[0])
            except Exception as error:
                self._failed(error)
                return False
        if out is None:
            # Replies decided in this one callback (a pipelined group) leave in one write.
            out = self._out = []
        try:
            while actions:
                batch = False
                sent = False  # a Send of this batch is waiting in _out
                for i, action in enumerate(actions):
                    kind = type(action)
                    if kind is ArmTimer or kind is CancelTimer:
                        self._timer_action(action)
                        continue
                    if not batch:
                        batch = True
                        if self._task is not None or self._later is not None:
                            self._stop_work()
                    if isinstance(action, Send) and self._writable is None:
                        # _do(action), inline: most batches are one Send
                        if transport.is_closing():
                            return False
                        if self._behind or sent or action.note is None or not (out or conn.unread):
                            # written alone, performed once the socket took all of it: the
                            # client fell behind before, pieces of one reply (a fragment fault;
                            # only a whole reply is queued, Connection.queued), or a reply no
                            # other joins (QUIT's 221 before the close, say)
                            if out:
                                self._flush()
                            written = self._writable is None
                            if written:
                                now = conn.session.clock.now()  # (before the write: above)
                                transport.write(action.data)
                                if self._raw.is_closing():  # type: ignore[union-attr]
                                    return self._refused()
                                if self._tls:
                                    self._tls_wrote()
                            if self._writable is not None:
                                if written:
                                    self._held_at = now
                                waiting = self._carry_waiting(
                                    actions[i:], self._loop.time(), written=written
                                )
                                self._task = self._loop.create_task(waiting)
                                return False
                            conn.performed(action, now)
                        else:
                            out.append(action.data)
                            conn.queued(action)  # recorded once the socket took it
                        sent = True
                        continue
                    if out:
                        # what was written before it goes first; its record too, so an action
                        # that records (a close) waits for the socket to take it (below)
                        self._flush()
                    if kind is StartTLS and self._transport is not None:
                        # Not a byte more until the handshake takes over the transport.
                        self._transport.pause_reading()
                    if (
                        kind is Sleep
                        or kind is StartTLS
                        or kind is Consult
                        or self._writable is not None
                    ):
                        waiting = self._carry_waiting(actions[i:], self._loop.time())
                        self._task = self._loop.create_task(waiting)
                        return False
                    if not self._do(action):
                        return False
                if not batch:
                    return False
                turns += 1
                if turns >= BATCHES_PER_TURN:
                    self._later = self._loop.call_soon(self._next_batch)
                    return False
                actions = conn.done()
                if len(actions) == 1 and type(actions[0]) is ArmTimer:
                    # the idle timer after the reply (most commands): set here, not in a
                    # second pass through this loop
                    self._timer_action(actions[0])
                    actions = ()
                if self._read_paused:
                    self._resume_reading(conn)
        except Exception as error:
            self._failed(error)
        finally:
            if outer:
                self._out = None
                if out:
                    self._write_out(out)  # once per callback
        return False

    def _refused(self) -> bool:
        """A write of ours closed the transport, which was open before it: the socket refused
        it (ECONNRESET, EPIPE: the client reset; asyncio and uvloop say so only later, through
        connection_lost). Not performed: the end records that reply and those after it as not
        delivered, 0 octets written, and the close as the client's reset. False, for _carry."""
        self._reset = True
        return False

    def _flush(self) -> None:
        if self._out:
            self._write_out(self._out)

    def _write_out(self, out: list[bytes]) -> None:
        """Write the replies queued in this callback (Connection.queued) in one write; the engine
        learns how many of their octets the socket took: all of them, nearly always (a closing
        transport takes none: they are not delivered, Connection.connection_lost)."""
        transport = self._transport
        if transport is not None:
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()
            if not transport.is_closing():
                conn = self._conn
                # their time: read before the write (_carry)
                now = conn.session.clock.now() if conn is not None else 0.0
                transport.write(data)
                if self._raw.is_closing():  # type: ignore[union-attr]
                    self._refused()  # (the queued replies stay unsent: not delivered)
                    return
                if self._tls:
                    self._tls_wrote()
                if self._writable is None:  # (limits of 0: the socket took it all)
                    if conn is not None:
                        try:
                            conn.sent(None, now)
                        except Exception as error:
                            self._failed(error)
                    return
                # the transport held none before (only a write while it holds none queues)
                self._held_at = now
                self._kept = self._flying = min(self._held() or 0, len(data))
                self._look()
                self._sent(len(data) - self._flying, now)  # (those taken by the write)

    def _sent(self, octets: int | None, at: float | None = None) -> None:
        """Connection.sent(octets, at), its errors reported."""
        conn = self._conn
        if conn is not None:
            try:
                conn.sent(octets, at)
            except Exception as error:
                self._failed(error)

    def _stall(self, full: bool) -> None:
        """Connection.stalled(full): the timer it arms, its errors reported."""
        conn = self._conn
        if conn is not None and not self._lost:
            try:
                for action in conn.stalled(full):
                    self._timer_action(action)
            except Exception as error:
                self._failed(error)

    def _next_batch(self) -> None:
        self._later = None
        conn = self._conn
        if conn is not None:
            self._call(conn.done)
            self._resume_reading(conn)

    async def _carry_waiting(
        self, actions: tuple[Action, ...], since: float, written: bool = False
    ) -> None:
        """The rest of a batch that waits somewhere, then the engine's next actions. ``since``
        (loop time): when the batch was handed over. A Sleep runs from there, or from the end
        of the Sleep before it: neither the task's own start nor a late wake-up (the loop's
        timers are only as fine as its poll, a millisecond) is added to the pause asked for.
        ``written``: the first action is a Send already written, its last octets maybe still
        in the transport's buffer."""
        conn, transport = self._conn, self._transport
        assert conn is not None and transport is not None
        try:
            for action in actions:
                kind = type(action)
                if kind is ArmTimer or kind is CancelTimer:
                    self._timer_action(action)
                elif isinstance(action, Sleep):
                    since += action.seconds
                    await asyncio.sleep(max(0.0, since - self._loop.time()))
                    conn.performed(action)
                elif isinstance(action, StartTLS):
                    await self._start_tls(action)
                    return
                elif isinstance(action, Consult):
                    reply = await self._hub.consult(conn.session, action)
                    conn.performed(action)
                    self._task = None
                    after = conn.consulted(reply)
                    self._resume_reading(conn)
                    if after:
                        self._carry(after)
                    return
                else:
                    first_written, written = written, False  # (the first action only)
                    if not first_written and self._writable is not None:
                        await self._handed_over()
                        since = self._loop.time()  # a pause after this counts from now
                    if isinstance(action, Send):
                        now = None
                        if not first_written:
                            if transport.is_closing():
                                return
                            now = conn.session.clock.now()  # (before the write: _carry)
                            transport.write(action.data)
                            if self._raw.is_closing():  # type: ignore[union-attr]
                                self._refused()
                                return
                            if self._tls:
                                self._tls_wrote()
                        if self._writable is not None:
                            if now is not None:
                                self._held_at = now
                            await self._until_taken(action)
                            since = self._loop.time()
                            now = None
                        if now is None:  # held after its write: its last octet was taken after
                            # the transport was last seen holding it, the client read it later
                            now = conn.held_until(self._held_at)
                        conn.performed(action, now)  # its last octet is with the socket
                        rearm = conn.paced_write()  # (pieces going out are no silence)
                        if rearm is not None:
                            self._timer_action(rearm)
                    elif not self._do(action):
                        return
            self._task = None
            next_actions = conn.done()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._task = None
            self._failed(error)
            return
        self._resume_reading(conn)
        if next_actions:
            self._carry(next_actions)

    async def _until_taken(self, send: Send) -> None:
        """Until the socket took the last octet of ``send``, just written (the transport holds
        none: resume_writing); an end meanwhile learns how much went (:meth:`_report_kept`)."""
        assert self._transport is not None
        self._pending = send
        self._look()
        await self._handed_over()
        self._pending = None

    def _look(self) -> None:
        """Note the octets the transport holds (:meth:`_report_kept` learns from it how much of
        the replies it holds the socket took), and look again soon while it holds some."""
        if self._looking is not None:
            self._looking.cancel()  # (one chain of looks at a time)
            self._looking = None
        transport = self._transport
        conn = self._conn
        if (
            (self._pending is not None or self._flying)
            and self._writable is not None
            and transport is not None
            and conn is not None
            and not transport.is_closing()
        ):
            seen = conn.session.clock.now()  # before the look: the octets were held then
            held = self._held()
            if held is None:  # (the connection is going: its end reports what went)
                self._closed_under()
                return
            self._kept = held
            if held:
                self._held_at = seen
            self._looking = self._loop.call_later(LOOK_EVERY, self._look)

    def _reads_slowly(self) -> bool:
        """Whether the client took octets since the idle timer last started over: what the
        transport's buffers and the kernel's send queue hold (when the socket filled, or at the
        last start over) went down. The kernel's queue counts: loopback's grows to megabytes and
        a socket is writable again only once a third of it went, so a client reading 0.4 MB/s
        left the transport's buffer unchanged for seconds while it read (fresh20 F1)."""
        held = self._waiting()
        mark, self._idle_mark = self._idle_mark, held
        return held is not None and mark is not None and held < mark

    def _sample_later(self) -> None:
        conn = self._conn
        if conn is not None:
            # (never under a look's period: an idle_timeout of 0 would have it spin)
            every = max(min(conn.stall_timer().seconds / 4, SAMPLE_EVERY), LOOK_EVERY)
            self._sampling = self._loop.call_later(every, self._sample)

    def _sample(self) -> None:
        """While the socket is full: the client took some of what waits since the last look,
        so the idle timer (when it runs) starts over from now (see SAMPLE_EVERY)."""
        self._sampling = None
        conn = self._conn
        if conn is None or self._lost or self._writable is None:
            return
        if self._reads_slowly() and IDLE_TIMER in self._deadlines:
            self._timer_action(conn.stall_timer())
        self._sample_later()

    def _waiting(self) -> int | None:
        """What the client has not taken: :meth:`_held` and the kernel's send queue."""
        held = self._held()
        return None if held is None else held + _kernel_unsent(self._raw)

    def _held(self) -> int | None:
        """The octets written that the socket has not taken: in the transport's buffer and, over
        TLS, in the socket's own transport under it, to which asyncio 3.11+'s and uvloop's TLS
        layer hand a whole write's ciphertext at once (each ciphertext octet counted for one
        octet of the replies: never fewer than the plaintext it carries, so "delivered" stays
        true). None once either transport is closing (then their buffers tell nothing)."""
        transport, raw = self._transport, self._raw
        if transport is None or raw is None or raw.is_closing() or transport.is_closing():
            return None
        held = transport.get_write_buffer_size()
        if transport is not raw and _TLS_OWN_BUFFER.get(loops.name(self._loop), True):
            held += raw.get_write_buffer_size()
        return held

    def _closed_under(self) -> None:
        """The socket's transport under TLS is closing, the TLS one not: we closed neither, so
        the client sent its FIN (fresh16 F2), or reset. uvloop's TLS layer closes the socket's
        transport at a FIN without a word to the protocol (no eof_received), and connection_lost
        comes only once the socket took what it holds: never from a client that does not read.
        A reset's connection_lost is on its way already, two call_soon hops behind (the socket's
        transport's, then the TLS layer's): asked again three hops on, a FIN is what is left."""
        if self._fin_unsaid():
            call_soon = self._loop.call_soon
            call_soon(call_soon, call_soon, self._fin_under)

    def _fin_under(self) -> None:
        """:meth:`_closed_under`'s FIN: the engine hears of it as an EOF, as on asyncio."""
        if self._fin_unsaid():
            self.eof_received()

    def _fin_unsaid(self) -> bool:
        """Over TLS, the socket's transport closing under an open TLS one, no end heard yet."""
        raw, transport = self._raw, self._transport
        return (
            self._tls
            and not self._eof
            and not self._lost
            and not self._reset  # (a write of ours met the client's reset: _refused)
            and raw is not None
            and raw.is_closing()
            and transport is not None
            and not transport.is_closing()
        )

    def _tls_wrote(self) -> None:
        """After a write over TLS: the TLS layer pauses the wire only for what it holds itself,
        not for the ciphertext it handed to the socket's transport; while that holds some the
        wire waits as if paused (the socket has not taken it), and looks again soon."""
        if self._writable is None and self._held():
            self.pause_writing()
            self._loop.call_later(LOOK_EVERY, self.resume_writing)

    async def _handed_over(self) -> None:
        """Until the transport holds no octet the socket has not taken."""
        while self._writable is not None:
            # shielded: a batch that replaces this one (the client's close) cancels this task,
            # and a cancelled task cancels the future it awaits: the next batch's wait on that
            # same future would end cancelled too, and its close never come
            await asyncio.shield(self._writable)

    def _report_kept(self) -> int:
        """The engine is about to hear of an end (the client's close, a timer, a stop) while a
        reply written is partly in the transport's buffer: it learns how many of its octets
        the socket took, for the record's ``written`` (the reply is not delivered). Returns
        the octets the transport still holds (0 with no such reply)."""
        pending, conn = self._pending, self._conn
        if (pending is None and not self._flying) or conn is None:
            return 0
        held = self._held()  # (a closed transport drops its buffer: the last size known)
        kept = self._kept if held is None else held
        if pending is not None:
            self._pending = None
            size = len(pending.data)
            conn.handed(size - min(kept, size))
        else:  # a write of queued replies (Connection.sent)
            flying = self._flying
            self._kept = self._flying = min(kept, flying)
            conn.sent(flying - self._flying)
        return kept

    def _do(self, action: Action) -> bool:
        """One action that does not wait and is no Send; False when the connection is over."""
        conn, transport = self._conn, self._transport
        assert conn is not None and transport is not None
        self._flush()  # what was written before the close goes first
        if self._reset:  # that write was refused: the client's reset ends it (_refused)
            return False
        if isinstance(action, HalfClose):
            if self._tls:
                # TLS has no half-close: the server only reads on for the grace period and
                # closes at its end (or at the client's close): recorded then (Close, below)
                self._closed_note = action.note
                conn.performed(_READ_ON)
                return True
            if transport.can_write_eof() and not transport.is_closing():
                try:
                    transport.write_eof()
                except OSError as error:  # the client is gone already: nothing to half-close
                    # the client's RST came before any read reported it (smtp-source, a client
                    # closing with SO_LINGER 0 right after the 221): the record says reset, as
                    # a read would have
                    self._reset = _is_reset(error)
                    transport.abort()
                    conn.performed(action)  # the server did close
                    return False
            conn.performed(action)
            return True
        if isinstance(action, Close):
            if self._tls:
                self._close_tls()
                if self._closed_note is not None:  # the close the half-close announced: now
                    action, self._closed_note = Close(self._closed_note), None
            else:
                transport.close()
        elif isinstance(action, Reset):
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # SO_LINGER (on, 0 s): closing then sends RST instead of FIN.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            raise TypeError(f"the wire cannot carry out {action!r}")
        conn.performed(action)
        return False

    def _close_tls(self) -> None:
        """Close over TLS: the close_notify, and the socket closed after it; not asyncio's wait
        for the client's own close_notify (5 s on 3.11+, no limit on 3.10), which would hold
        the session's end back while a client keeps its socket and never answers."""
        assert self._transport is not None and self._raw is not None
        self._transport.close()  # the close_notify goes to the socket's transport at once
        self._raw.close()  # which sends what it holds, then closes: connection_lost follows

    def _stop_work(self) -> None:
        """Drop what is left of a batch under way (a new batch replaces it)."""
        self._pending = None
        if self._task is not None:
            if self._task is not asyncio.current_task():
                self._task.cancel()
            self._task = None
        if self._later is not None:
            self._later.cancel()
            self._later = None

    def _resume_reading(self, conn: Connection) -> None:
        if self._read_paused and len(conn.unread) < READ_LOW and self._transport is not None:
            self._read_paused = False
            self._transport.resume_reading()

    # -- timers ------------------------------------------------------------------------------------

    def _timer_action(self, action: Action) -> None:
        if type(action) is ArmTimer:
            # Moving a deadline later only notes it (the handle re-arms itself when it rings
            # early): the idle timer moves on every command, a new handle each time would cost.
            name = action.name
            deadline = self._loop.time() + action.seconds
            deadlines = self._deadlines
            rings = deadlines.get(name)
            deadlines[name] = deadline
            if rings is None or rings > deadline:  # no handle, or one that may ring too late
                handle = self._timers.get(name)
                if handle is not None:
                    handle.cancel()
                # call_later, not call_at: uvloop's call_at is call_later(when - time()), a
                # second call through the loop's Python-level interface per handle
                self._timers[name] = self._loop.call_later(action.seconds, self._ring, name)
        elif isinstance(action, CancelTimer):
            self._deadlines.pop(action.name, None)
            handle = self._timers.pop(action.name, None)
            if handle is not None:
                handle.cancel()

    def _ring(self, name: str) -> None:
        # a deadline is noted exactly while its handle is armed (_timer_action relies on it)
        self._timers.pop(name, None)
        deadline = self._deadlines.pop(name, None)
        if deadline is None or self._conn is None:
            return
        left = deadline - self._loop.time()
        if left > 0.001:
            self._deadlines[name] = deadline
            self._timers[name] = self._loop.call_later(left, self._ring, name)
            return
        conn = self._conn
        if self._writable is None:
            self._call(lambda: conn.timer_fired(name))
            return
        if name == IDLE_TIMER and self._reads_slowly():
            # the socket took some of what it held since the timer started: the client reads,
            # slowly (a small window behind a big group), so its timer starts over from now, as
            # the README's idle_timeout row says: it runs while the socket takes nothing more
            # (fresh18 F5: it was cut however steadily it read, the transport emptying too late)
            self._timer_action(conn.stall_timer())
            return
        # the client does not read: the timer's end does not wait on it; the socket keeps what
        # it took (the client can still read that, then the close), the rest never goes
        pending = self._pending
        self._report_kept()
        try:
            actions = conn.timer_fired(name, socket_full=True)  # its close or reset, or none
            if not actions:  # (the session had closed already: what is under way goes on)
                self._pending = pending
                return
            self._stop_work()
            for action in actions:
                if isinstance(action, Close) and self._transport is not None:
                    _stop_sending(self._transport)
                    if self._closed_note is not None:  # (over TLS: _do)
                        action, self._closed_note = Close(self._closed_note), None
                    conn.performed(action)
                else:
                    self._do(action)
        except Exception as error:
            self._failed(error)

    # -- TLS ---------------------------------------------------------------------------------------

    async def _start_tls(self, action: StartTLS) -> None:
        """The handshake the batch ends with; its outcome goes to the engine."""
        conn, transport = self._conn, self._transport
        assert conn is not None and transport is not None
        conn.performed(action)
        # Make sure nothing is read from here until the handshake owns the transport: on Python
        # 3.10 a pause_reading() in connection_made() does not hold (the transport starts its
        # reader after it), so pause again from a reading state.
        transport.resume_reading()
        transport.pause_reading()
        early = conn.before_tls()  # implicit TLS: a ClientHello read before reading paused
        from smtpfake.wire.tls import CutHandshake, describe  # a server without TLS never needs it

        context = self._hub.tls_context(conn.session)
        if action.cut_after is not None:
            self._cut = CutHandshake(context, action.cut_after)
            self._cut_done = self._loop.create_future()
            if early:
                self._feed_cut(early)
            transport.resume_reading()  # implicit TLS paused it
            reason = await self._cut_done
            self._task = None
            self._carry(conn.tls_failed(reason))
            return
        options: dict[str, Any] = {"server_side": True, "ssl_handshake_timeout": HANDSHAKE_LIMIT}
        if sys.version_info >= (3, 11):
            options["ssl_shutdown_timeout"] = 5.0  # closing waits this long for close_notify
        # TLS writes through its own buffers: asyncio's default limits on the socket's again
        transport.set_write_buffer_limits()
        if early:
            # start_tls() (awaited just below) switches the transport to its TLS protocol at
            # once and has that protocol's connection_made() called soon: the bytes follow both.
            self._loop.call_soon(self._loop.call_soon, _hand_over, transport, early)
        try:
            secured = await self._loop.start_tls(transport, self, context, **options)
        except (OSError, asyncio.TimeoutError) as error:  # ssl.SSLError is an OSError
            self._task = None
            self._handshake_failed(conn, describe(error))
            return
        self._task = None
        if secured is None or secured.is_closing():
            self._handshake_failed(conn, "the connection was closed during the TLS handshake")
            return
        self._transport = secured
        self._tls = True
        ssl_object: Any = secured.get_extra_info("ssl_object")
        cipher = ssl_object.cipher()
        version = ssl_object.version()
        self._call(lambda: conn.tls_started(version, cipher[0] if cipher else "?"))

    def _handshake_failed(self, conn: Connection, reason: str) -> None:
        self._carry(conn.tls_failed(reason))
        # asyncio tells no protocol about a connection lost in the handshake: end it here.
        self._loop.call_soon(self.connection_lost, None)

    def _feed_cut(self, data: bytes) -> None:
        assert self._cut is not None and self._transport is not None
        answer, reason = self._cut.feed(data)
        if answer:
            self._transport.write(answer)
        if reason is not None:
            self._finish_cut(reason)

    def _finish_cut(self, reason: str) -> None:
        self._cut = None
        if self._cut_done is not None and not self._cut_done.done():
            self._cut_done.set_result(reason)

    # -- smtpfake's own failures -------------------------------------------------------------------

    def _failed(self, error: Exception) -> None:
        """A bug in smtpfake: reported (it reaches the test or the log); the client gets a 451
        and the close, from the engine when it can still say it."""
        conn = self._conn
        self._hub.report_error(error, conn.session if conn is not None else None)
        self._stop_work()
        if conn is not None and not self._failing:
            self._failing = True  # if the engine fails again, the answer below is the last word
            self._call(conn.internal_error)
            return
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(INTERNAL_ERROR)
            transport.close()


class BufferedWire(Wire, asyncio.BufferedProtocol):
    """A :class:`Wire` that asyncio's own loop reads into a buffer: its plain reads cost a
    fresh 256 KiB object each (three syscalls: mmap, mremap, munmap); under uvloop a plain
    Protocol costs less (no get_buffer call, no memoryview per read)."""

    __slots__ = ()


def wire_class(loop: asyncio.AbstractEventLoop) -> type[Wire]:
    """The Wire that reads most cheaply on ``loop``: plain on uvloop, buffered on asyncio's."""
    return Wire if loops.name(loop) == "uvloop" else BufferedWire


def _hand_over(transport: asyncio.Transport, data: bytes) -> None:
    """Give bytes read before a handshake began to the TLS protocol now on the transport, as
    the transport itself would (asyncio's public protocol interface)."""
    protocol: Any = transport.get_protocol()
    if hasattr(protocol, "get_buffer"):  # buffered (uvloop's do not subclass asyncio's)
        view = memoryview(data)
        while view:
            target = memoryview(protocol.get_buffer(len(view)))
            size = min(len(target), len(view))
            target[:size] = view[:size]
            protocol.buffer_updated(size)
            view = view[size:]
    else:
        protocol.data_received(data)


@functools.cache
def _outq() -> int | None:
    """Linux's SIOCOUTQ (= TIOCOUTQ): the octets in a TCP socket's send queue the peer has not
    acknowledged; None elsewhere (then only the transport's buffers tell of a client's reading).
    Found at first use: serve's start loads no more of the stdlib (a test pins it)."""
    if not sys.platform.startswith("linux"):
        return None
    import termios

    return getattr(termios, "TIOCOUTQ", None)


def _kernel_unsent(transport: asyncio.BaseTransport | None) -> int:
    """The octets of the socket's send queue the client has not taken yet (0 when unknown)."""
    request = _outq()
    sock = None if transport is None or request is None else transport.get_extra_info("socket")
    if sock is None or request is None:
        return 0
    try:
        out = fcntl.ioctl(sock.fileno(), request, b"\0\0\0\0")
    except OSError:  # (the connection is gone: nothing more to take)
        return 0
    return int(struct.unpack("i", out)[0])


def _stop_sending(transport: asyncio.Transport) -> None:
    """Let no octet more reach the client and drop what the transport holds: the kernel sends
    what it took, then its FIN (SHUT_WR now, on a duplicate of the socket's descriptor: uvloop's
    transport socket has no shutdown(), and its abort() closes only on a later turn of the
    loop, writing on meanwhile), and abort() ends the transport."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # (an OSError: the connection is gone already, nothing more can go anyway)
        with socket.socket(fileno=os.dup(sock.fileno())) as dup, contextlib.suppress(OSError):
            dup.shutdown(socket.SHUT_WR)
    transport.abort()


def _peer_text(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "")


def _is_reset(exc: Exception | None) -> bool:
    """Whether the loop lost the connection to the client's RST: a read's ECONNRESET, or
    (uvloop, whose half-close fails later, in a callback) ENOTCONN from the half-close, which
    only a reset makes of a connection this end has not closed."""
    return isinstance(exc, ConnectionResetError) or (
        isinstance(exc, OSError) and exc.errno == errno.ENOTCONN
    )
