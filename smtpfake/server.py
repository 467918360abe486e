"""Server lifecycle: the engine and journal behind a listening socket.

``start()``/``stop()`` run it in a background thread (tests, the pytest plugin); ``serve()`` runs it
in the caller's loop (``smtpfake serve``). aiosmtpd's Controller is not used: it makes a real
connection to itself on start (which would count as a session) and cannot bind port 0.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import socket
import ssl
import sys
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from smtpfake.engine import (
    AdvanceableClock,
    Clock,
    Message,
    Observer,
    Session,
    SessionInfo,
    Shared,
    SystemClock,
)
from smtpfake.engine.connection import GRACE_PERIOD, Connection
from smtpfake.engine.consult import answer_problem, answer_reply, ehlo_change
from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.journal import Journal, JournalCounts, JournalLimits, SessionRecord
from smtpfake.scenario import Reply, Scenario, ScenarioRef, resolve
from smtpfake.scenario.limits import MAX_SECONDS, MAX_SEED, LimitError, check_number
from smtpfake.scenario.plan import Consult
from smtpfake.wire import Wire, loops
from smtpfake.wire.protocol import read_buffer, wire_class

# a back end and a handler's hooks load when a server is given them (start-up time)
if TYPE_CHECKING:
    from pathlib import Path

    from smtpfake.delivery import Handler
    from smtpfake.engine.records import Violation
    from smtpfake.hooks import Hooks
    from smtpfake.scenario.model import ServerSettings
    from smtpfake.settling import LoopRead, Stalled
    from smtpfake.tls import TlsContexts


#: the default of Server(stop_grace_period=): the longest grace period a session open at the
#: server's stop gets after its 421, in seconds (stop() stays bounded with any number of sessions
#: open: they all run it at once)
STOP_GRACE_PERIOD = 0.25


@frozen_dataclass
class ServerError:
    """An exception raised inside smtpfake while serving; it is never dropped."""

    error: BaseException
    session: int | None
    traceback: str

    def __str__(self) -> str:
        where = f" in session {self.session}" if self.session is not None else ""
        return f"smtpfake server error{where}:\n{self.traceback}"


def _whole(value: int, name: str, maximum: int) -> int:
    """A port or seed given in code: a whole number 0 to ``maximum`` (a seed's as a scenario's
    ``seed:`` and ``serve --seed`` take), else LimitError (a ValueError) naming ``name``."""
    __tracebackhide__ = True  # the caller's mistake: pytest points at the caller's line
    try:
        return int(check_number(value, name, minimum=0, maximum=maximum, integer=True))
    except LimitError as exc:
        raise LimitError(f"{exc}, got {value!r}") from None


def _grace(value: float, name: str) -> float:
    """A grace period given to Server(``name``=): seconds in [0, MAX_SECONDS] (LimitError)."""
    return float(
        check_number(value, f"Server({name}=)", minimum=0, maximum=MAX_SECONDS, unit=" seconds")
    )


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _bound(host: str, port: int) -> socket.socket | None:
    """A socket bound to ``host`` (an IPv4 or IPv6 address, as the default 127.0.0.1) and
    ``port``, set up as the loop's create_server sets up the one it makes for that address
    (SO_REUSEADDR on POSIX, IPv6 only for an IPv6 one); None for any other host or when the bind
    fails (create_server then tries and says why, in its words). Why (start-up time): uvloop's
    create_server encodes any host it is given with the idna codec, and importing that codec
    (encodings.idna, stringprep, unicodedata) is some 5 million instructions of serve's start."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if os.name == "posix" and sys.platform != "cygwin":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port))
        except OSError:
            sock.close()
            return None
        return sock
    return None


#: seconds a stop waits for deliveries under way before giving them up
_DELIVERY_WAIT = 5.0


class DeliveryRefused(Exception):
    """A delivery back end did not take a message the scenario accepted."""


class DeliveryAbandoned(Exception):
    """A delivery still under way when the server stopped (after its wait): given up."""


class Server:
    def __init__(
        self,
        scenario: ScenarioRef = "default",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        scenario_dirs: Sequence[str | Path] = (),
        clock: Clock | None = None,
        idle_timeout: float = 300.0,
        params: Mapping[str, Any] | None = None,
        grace_period: float = GRACE_PERIOD,
        stop_grace_period: float = STOP_GRACE_PERIOD,
        loop: str = "auto",
        delivery: Handler | str | None = None,
        journal_limits: JournalLimits | None = None,
        handler: object | None = None,
    ) -> None:
        """``idle_timeout``: seconds of silence (either side's) after which the server closes
        without a word (a scenario's ``server.idle_timeout`` answers 421 sooner).
        ``grace_period``: seconds the server keeps reading after its last reply (221, 421, a
        close fault), recording what the client still sends; it ends early at the client's EOF.
        ``stop_grace_period``: the longest grace period a session still open at :meth:`stop`
        gets after its 421, seconds (the shorter of the two holds); stop() waits that long for
        the clients to close, however many there are, then drops the rest (0: at once).
        ``loop``: the event loop start() runs: ``auto`` (uvloop when installed), ``asyncio`` or
        ``uvloop``; serve() runs in the caller's loop.
        ``delivery``: a back end each accepted message is handed to (smtpfake/delivery.py): an
        aiosmtpd handler object, or ``maildir:PATH`` / ``proxy:HOST:PORT``. Raises ValueError
        for a name it does not know, and LimitError (a ValueError) for an ``idle_timeout`` not
        in (0, MAX_SECONDS] or a ``grace_period`` or ``stop_grace_period`` not in
        [0, MAX_SECONDS]: NaN would never fire, and a negative timer fires at once.
        ``handler``: an object with aiosmtpd's reply-deciding hooks (``async handle_RCPT`` ...,
        smtpfake/hooks.py) asked for the reply to each command the server would accept; an
        exception in it is a server error (:attr:`errors`) and the client gets a 451. TypeError
        at once for a hook (or a back end's ``handle_DATA``) that is a plain ``def``: the server
        awaits them, as aiosmtpd does."""
        self.host = host
        self.port = _whole(port, "Server(port=)", 65535)
        self.seed = None if seed is None else _whole(seed, "Server(seed=)", MAX_SEED)
        self.scenario_dirs = tuple(scenario_dirs)
        self.clock = clock or SystemClock()
        self.idle_timeout = float(
            check_number(
                idle_timeout,
                "Server(idle_timeout=)",
                minimum=0,
                exclusive_minimum=True,
                maximum=MAX_SECONDS,
                unit=" seconds",
            )
        )
        self.grace_period = _grace(grace_period, "grace_period")
        self.stop_grace_period = _grace(stop_grace_period, "stop_grace_period")
        self.loop = loop
        if isinstance(delivery, str):
            from smtpfake.delivery import named

            delivery = named(delivery)
        elif delivery is not None:
            from smtpfake.hooks import check_async

            check_async(delivery, ("DATA",), "Server(delivery=...)")
            if not callable(getattr(delivery, "handle_DATA", None)):
                # said when it is given, not as a bare AttributeError at the first delivery
                raise TypeError(
                    f"Server(delivery=...): {delivery!r} has no handle_DATA(server, session, "
                    "envelope): a back end is an aiosmtpd handler that takes each message there"
                )
        self.delivery: Handler | None = delivery
        self._deliveries: set[asyncio.Task[None]] = set()
        self._giving_up = ""  # why deliveries under way are being given up (give_up_deliveries)
        self.hooks: Hooks | None = None
        if handler is not None:
            from smtpfake.hooks import Hooks, check_async, hook_names

            check_async(handler, hook_names(handler), "Server(handler=...)")
            self.hooks = Hooks(handler, self)
        self.journal = Journal(journal_limits)
        # what the settling reads keep (smtpfake/settling.py, loaded by the first such read)
        self._settle_timeout: float | None = None
        self._stalled: Stalled | None = None
        self.errors: list[ServerError] = []
        self.scenario: Scenario = resolve(scenario, self.scenario_dirs, params)
        self._tls_made: TlsContexts | None = None  # see _tls()
        self._tls_lock = threading.Lock()
        self._tls_context(self.scenario.server)  # a TLS scenario's certificate, made or loaded
        self._use_seed: int | None = None
        self._shared = Shared(seed=self._seed_for(self.scenario))
        self._lock = threading.Lock()
        self._live: set[Wire] = set()
        self._pristine = False  # True from a reset until the next session starts
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._runner: loops.LoopThread | None = None
        self.on_error: Callable[[ServerError], None] | None = None

    # -- the Hub the wire talks to ---------------------------------------------------------------

    def new_connection(self, peer: str) -> Connection:
        with self._lock:
            scenario, shared = self.scenario, self._shared
            self._pristine = False
        observer: Observer = self.journal
        if self.delivery is not None:
            from smtpfake.delivery import Delivering

            observer = Delivering(self.journal, self._deliver)
        hooks = self.hooks.names if self.hooks is not None else frozenset()
        session = Session(scenario, shared, observer, peer=peer, clock=self.clock, hooks=hooks)
        return Connection(session, idle=self.idle_timeout, grace=self.grace_period)

    def _deliver(self, info: SessionInfo, message: Message) -> None:
        """Hand an accepted message to the back end (in the loop; it runs on its own)."""
        from smtpfake.delivery import deliver

        handler = self.delivery
        assert handler is not None

        async def one() -> None:
            try:
                status = await deliver(handler, info, message)
            except asyncio.CancelledError:  # a wait ran out: not lost without a word
                when = self._giving_up or "when the server stopped"
                why = f"the back end had not finished {message.queue_id} {when}"
                self._report(DeliveryAbandoned(why), info.index)
                raise
            except Exception as error:  # the handler's failure fails the test that caused it
                self._report(error, info.index)
                return
            if not str(status).startswith("2"):
                refused = DeliveryRefused(f"the back end refused {message.queue_id}: {status}")
                self._report(refused, info.index)

        task = asyncio.get_running_loop().create_task(one())
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def deliveries_done(self, timeout: float = 10.0) -> None:
        """Wait (in the server's loop) until the messages accepted so far are delivered."""
        if self._deliveries:
            await asyncio.wait(set(self._deliveries), timeout=timeout)

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """From a thread other than the server's: wait up to ``timeout`` seconds until the
        messages accepted so far are delivered (or failed: see :attr:`errors`). True when none
        is still under way. In the server's own loop it does not wait (it would hold up the
        deliveries it waits for); in another thread's running loop (an async test) with a
        delivery under way, WaitInLoopError at once: :meth:`await_for_deliveries` there."""
        __tracebackhide__ = True
        from smtpfake import arguments
        from smtpfake.settling import refuse_blocking_wait

        arguments.seconds("wait_for_deliveries", "timeout", timeout, high=arguments.MAX_WAIT)
        loop = self._loop
        if loop is None or not loop.is_running() or self._in_own_loop():
            return not self._deliveries
        # blocking would hold up the test's loop, and whatever of it a back end waits for
        refuse_blocking_wait("wait_for_deliveries", lambda: not self._deliveries, owner="server")

        async def wait() -> bool:
            await self.deliveries_done(timeout)
            return all(task.done() for task in self._deliveries)

        import time

        from smtpfake import wait_cancel

        future = asyncio.run_coroutine_threadsafe(wait(), loop)
        deadline = time.monotonic() + timeout + 5
        while True:  # in slices in await_for_deliveries' worker thread: its cancel ends it
            try:
                return future.result(wait_cancel.slice_of(max(0.0, deadline - time.monotonic())))
            except concurrent.futures.TimeoutError:
                if time.monotonic() >= deadline:
                    raise
                try:
                    wait_cancel.check()
                except wait_cancel.WaitCancelled:
                    future.cancel()
                    raise

    async def await_for_deliveries(self, timeout: float = 10.0) -> bool:
        """:meth:`wait_for_deliveries` for an async test (asyncio or trio, as :meth:`asettle`):
        the wait runs in a worker thread while the test's loop goes on. In the server's own loop
        (``serve()``, ``open()``), awaited there."""
        __tracebackhide__ = True
        from smtpfake import arguments
        from smtpfake.settling import off_loop

        arguments.seconds("await_for_deliveries", "timeout", timeout, high=arguments.MAX_WAIT)
        if self._in_own_loop():
            await self.deliveries_done(timeout)
            return all(task.done() for task in self._deliveries)
        return await off_loop(lambda: self.wait_for_deliveries(timeout))

    def _in_own_loop(self) -> bool:
        """Whether this is the server's loop's thread (a hook, serve()'s or open()'s caller)."""
        loop = self._loop
        return self._thread is threading.current_thread() or (
            loop is not None and _running_loop() is loop
        )

    async def consult(self, session: Session, action: Consult) -> Reply | None:
        """The user's handler's reply for the Consult; None when it raised or answered what is
        not a reply: that is a server error, reported against the session (it fails the test)."""
        assert self.hooks is not None, "a Consult only comes when there is a handler"
        try:
            answer = await self.hooks.ask(session, action)
        except Exception as error:
            self._report(error, session.index)
            return None
        reply = answer_reply(answer)
        why = "not an SMTP reply" if reply is None else answer_problem(reply)
        if reply is None or why:
            shown = repr(answer)
            if len(shown) > 200:  # 101 lines or a 600-octet one: the start says which
                shown = f"{shown[:150]}... ({len(shown):,} characters)"
            self._report(ValueError(f"handle_{action.hook} answered {shown}: {why}"), session.index)
            return None
        if action.hook == "EHLO" and reply.code < 400 and self.hooks.ehlo_lines:
            # the session is judged by the scenario's extensions: a hook may reword the lines,
            # not change what is advertised (fresh17 F5)
            change = ehlo_change(action.lines, reply.lines)
            if change:
                bad = ValueError(
                    f"handle_EHLO answered {answer!r}: changes the advertised extensions"
                    f" ({change}); change them in the scenario's `extensions`/"
                    "`extensions_add`/`extensions_remove`"
                )
                self._report(bad, session.index)
                return None
        return reply

    def _tls(self) -> TlsContexts:
        """The server's TLS contexts and CA (smtpfake.tls), made on first use, once: a server
        whose scenarios have no ``server.tls`` never loads them (start-up time)."""
        with self._tls_lock:
            if self._tls_made is None:
                from smtpfake.tls import TlsContexts

                self._tls_made = TlsContexts(self.host)
            return self._tls_made

    def _tls_context(self, settings: ServerSettings) -> ssl.SSLContext | None:
        """The SSL context for these settings (TlsContexts.context), None without TLS."""
        return self._tls().context(settings) if settings.tls.enabled else None

    def tls_context(self, session: Session) -> ssl.SSLContext:
        context = self._tls_context(session.settings)
        if context is None:
            raise RuntimeError("the engine asked for TLS in a scenario without server.tls")
        return context

    def register(self, wire: Wire) -> None:
        self._live.add(wire)

    def unregister(self, wire: Wire) -> None:
        self._live.discard(wire)
        if self.hooks is not None and wire.session is not None:
            self.hooks.forget(wire.session.index)

    def give_up_deliveries(self, when: str) -> None:
        """From a thread other than the server's (the fixture's teardown, after its wait ran
        out): the deliveries still under way are given up (cancelled), each reported in
        :attr:`errors` as DeliveryAbandoned saying ``when`` ("after the fixture's 10 s wait"),
        before this returns."""
        loop = self._loop
        if not self._deliveries or loop is None or not loop.is_running():
            return

        async def cancel() -> None:
            self._giving_up = when
            try:
                for task in list(self._deliveries):
                    task.cancel()
                await asyncio.wait(set(self._deliveries), timeout=1.0)
            finally:
                self._giving_up = ""

        asyncio.run_coroutine_threadsafe(cancel(), loop).result(5.0)

    def report_error(self, error: BaseException, session: Session | None) -> None:
        self._report(error, session.index if session else None)

    def _report(self, error: BaseException, session: int | None) -> None:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        record = ServerError(error, session, text)
        with self._lock:
            self.errors.append(record)
        if self.on_error is not None:
            self.on_error(record)

    # -- control ---------------------------------------------------------------------------------

    def _seed_for(self, scenario: Scenario) -> int:
        """The most specific seed wins: use(seed=), then the server's (command line), then the
        scenario file's, then 0."""
        for seed in (self._use_seed, self.seed, scenario.seed):
            if seed is not None:
                return seed
        return 0

    @property
    def effective_seed(self) -> int:
        return self._seed_for(self.scenario)

    def use(
        self,
        scenario: ScenarioRef,
        *,
        seed: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Scenario:
        """Switch scenario: connections made after this returns meet it; counters, rule state and
        ``connection:`` numbers restart, session numbers and queue ids do not (see reset()).
        ``seed`` applies to this scenario only (None: the server's seed, else the file's);
        ``params`` sets its parameters by name (ScenarioError for a bad one; see
        scenario/params.py; a bad value is told as this call's, see use_errors)."""
        __tracebackhide__ = True
        from smtpfake import arguments
        from smtpfake.scenario.use_errors import use_errors  # not at serve's start: see its test

        arguments.use(scenario, seed, params)  # the fixture's words (it checks the same first)
        with use_errors(scenario, params):
            resolved = resolve(scenario, self.scenario_dirs, params)
        self._tls_context(resolved.server)  # before the switch: a TLS problem leaves it undone
        with self._lock:
            self._use_seed = seed
            self.scenario = resolved
            # Rule state and counters restart; session numbers and queue ids go on, since the
            # journal keeps the sessions before the switch (only a reset clears it).
            numbering = self._shared.numbering
            self._shared = Shared(seed=self._seed_for(resolved), numbering=numbering)
        return resolved

    def advance(self, seconds: float) -> float:
        """Move the server's clock forward by ``seconds`` (what rule windows, greylisting, rate
        limits and ``retry_after`` measure; not the waits on the wire: see engine/clock.py).
        Returns the clock's new time. ValueError for a negative amount; TypeError when the
        server was given a clock that cannot be moved."""
        clock = self.clock
        if not isinstance(clock, AdvanceableClock):
            raise TypeError(f"the server's clock ({type(clock).__name__}) cannot be advanced")
        __tracebackhide__ = True  # a negative one points at the caller's line
        with self._lock:  # the test's thread and API requests may both advance it
            return clock.advance(seconds)

    @property
    def rule_hits(self) -> dict[str, int]:
        """Rule label -> times it fired, over all sessions since the scenario was put in force
        (or reset); each session's own are in ``SessionRecord.rule_hits``."""
        with self._lock:
            shared, scenario = self._shared, self.scenario
        fired = dict(shared.fired)  # one C-level copy: the loop thread may be counting
        return {r.label: fired[r.index] for r in scenario.rules if fired.get(r.index)}

    def now(self) -> float:
        """The server's clock: seconds since the epoch, advances included."""
        return self.clock.now()

    def reset(self, cleared: Callable[[], None] | None = None) -> None:
        """Forget everything: journal, counters, errors. Live connections get "421 4.3.2" and
        are closed; each is recorded as a session of the new journal holding just that.
        ``cleared``: called once the journal is empty, before those sessions join the new
        one, in the server's loop (the API's ``reset`` event goes out there, ahead of their
        events); at once when there was nothing to forget."""

        def forget() -> None:
            # in the order they connected: they are numbered in the new journal in that order
            live = sorted(self._live, key=lambda w: w.session.index if w.session else 0)
            with self._lock:
                shared = self._shared = Shared(seed=self._seed_for(self.scenario))
                self.errors.clear()
                self._pristine = not live
            self.journal.clear()
            if cleared is not None:
                cleared()
            for wire in live:
                # Each open session goes on in the new journal, numbered there, with the
                # reset's 421 and the close: a connection a session-scoped fixture kept open
                # shows in the record of the test whose reset ended it.
                if self.hooks is not None and wire.session is not None:
                    self.hooks.forget(wire.session.index)
                wire.rejoin(shared)
                wire.shut_down("reset", 0.0)

        if self._pristine and not self._live and not self.errors:
            if cleared is not None:
                cleared()
            return  # nothing happened since the last reset: skip the thread round trip
        # All in the loop thread: no connection can start between the drop and the clear, where
        # it would count on the old counters and be missing from the new journal.
        self._call_in_loop(forget)

    @property
    def listening(self) -> bool:
        """True while the SMTP socket accepts connections (the sidecar's readiness)."""
        srv = self._server
        return srv is not None and srv.is_serving()

    @property
    def tls_ca_pem(self) -> str:
        """The PEM certificate of the throwaway CA that issues generated server certificates
        (made on first use; needs trustme)."""
        return self._tls().authority.ca_pem

    @property
    def tls_ca_file(self) -> str:
        """A file holding :attr:`tls_ca_pem`, for ``ssl.create_default_context(cafile=...)``."""
        return self._tls().authority.ca_file

    def tls_client_context(self) -> ssl.SSLContext:
        """A client context that trusts the generated certificates, hostname checks on."""
        return self._tls().authority.client_context()

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``, for ``socket.create_connection`` (as the fixture's)."""
        return (self.host, self.port)

    @property
    def sessions(self) -> tuple[SessionRecord, ...]:
        """Every session the journal holds, as it stands (no wait: the sidecar reads this in
        the server's loop): one still open has ``ended`` None, through the grace period after
        the server's last reply too. :meth:`settle` first to see them whole."""
        return self.journal.sessions()

    @property
    def messages(self) -> tuple[Message, ...]:
        return self.journal.messages()

    # -- reads that settle first, as the fixture's (smtpfake/settling.py) ------------------------

    @property
    def settle_timeout(self) -> float:
        """Seconds a settling read (:attr:`violations`, :attr:`counts`, :meth:`settle`) waits
        at most for the sessions open at that moment to end; 2.0 unless set."""
        from smtpfake.settling import SETTLE_TIMEOUT

        return SETTLE_TIMEOUT if self._settle_timeout is None else self._settle_timeout

    @settle_timeout.setter
    def settle_timeout(self, seconds: float) -> None:
        __tracebackhide__ = True  # -1 or "2" would otherwise fail at some later read
        from smtpfake import arguments  # the fixture's words, for the same mistake

        arguments.seconds("settle_timeout", "", seconds, high=arguments.MAX_SECONDS)
        self._settle_timeout = seconds

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until every session open now has ended; at most ``timeout`` seconds (default
        :attr:`settle_timeout`). True when they all ended, False when the wait ran out."""
        __tracebackhide__ = True
        from smtpfake import arguments

        arguments.seconds("settle", "timeout", timeout, high=arguments.MAX_SECONDS, none=True)
        return self._settle(timeout, every=True)

    async def asettle(self, timeout: float | None = None) -> bool:
        """:meth:`settle` from an async test (asyncio or trio): waits in a worker thread, so the
        test's loop goes on (and closes its clients) meanwhile."""
        __tracebackhide__ = True
        from smtpfake import arguments
        from smtpfake.settling import in_worker_thread  # asyncio's or trio's

        arguments.seconds("asettle", "timeout", timeout, high=arguments.MAX_SECONDS, none=True)
        return await in_worker_thread(self.settle, timeout)

    def missed_reads(self) -> list[tuple[LoopRead, int]]:
        """At a test's end: the reads in its loop that missed a close (Stalled.at_the_end)."""
        from smtpfake.settling import wait_ended

        if self._stalled is None:
            return []
        journal = self.journal
        return self._stalled.at_the_end(journal.sessions, lambda k, s: wait_ended(journal, k, s))

    def _settle(self, timeout: float | None, *, every: bool) -> bool:
        from smtpfake.settling import Stalled, in_running_loop, wait_ended

        running = _running_loop()
        if running is not None and running is self._loop:
            # in the server's own loop (a handler's hook, serve's code): a wait there would hold
            # up the very sessions it waits for; read as it stands
            return not any(s.ended is None for s in self.journal.sessions())
        if self._stalled is None:
            self._stalled = Stalled()
        if in_running_loop():
            # an async test's loop: a wait would hold up its clients' close (warned if it did)
            return self._stalled.without_waiting(self.journal.sessions(), every=every)
        limit = self.settle_timeout if timeout is None else timeout
        journal = self.journal
        return self._stalled.settle(
            journal.sessions,
            lambda keys, at_most: wait_ended(journal, keys, at_most),
            limit,
            every=every,
        )

    @property
    def violations(self) -> tuple[Violation, ...]:
        """Every protocol violation of every session, in order, a tuple; settled first (waits
        at most :attr:`settle_timeout` seconds for the sessions open now to end, and not again
        for one it waited for in vain until more of it is recorded), as the fixture's is."""
        self._settle(None, every=False)
        return tuple(v for s in self.journal.sessions() for v in s.violations)

    @property
    def counts(self) -> JournalCounts:
        """Sessions and messages seen, kept and dropped since the last reset; settled first,
        as :attr:`violations` (a session that just closed is counted as ended)."""
        self._settle(None, every=False)
        return self.journal.counts()

    # -- lifecycle -------------------------------------------------------------------------------

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop

        buffer = read_buffer()  # one for all the connections: the loop reads one at a time

        wire = wire_class(loop)

        def factory() -> Wire:
            return wire(self, loop, buffer)

        # A deep accept queue: a burst of connections (a load test, a pool warming up) is
        # accepted, not dropped by the kernel (it caps this at net.core.somaxconn).
        bound = _bound(self.host, self.port)
        if bound is not None:
            try:
                self._server = await loop.create_server(factory, sock=bound, backlog=4096)
            except BaseException:
                bound.close()  # not the loop's yet
                raise
        else:  # a name, several addresses, or a bind that failed: the loop says why
            self._server = await loop.create_server(
                factory, host=self.host, port=self.port, backlog=4096
            )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        # messages accepted before the stop still go out
        await self.deliveries_done(timeout=_DELIVERY_WAIT)
        for task in list(self._deliveries):  # still under way: given up (each reports it)
            task.cancel()
        if self._deliveries:
            await asyncio.wait(set(self._deliveries), timeout=1.0)
        if self._server is not None:
            self._server.close()
            await self._shut_down_all()
            self._abort_all()
            # Python 3.13+: also every transport the listening server still counts as attached
            # (wait_closed() waits for each of them), ours or not yet registered
            abort_clients = getattr(self._server, "abort_clients", None)
            if abort_clients is not None:
                abort_clients()
            # a connection that outlives abort() must not hang shutdown (3.12+)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout=2.0)
            self._server = None

    async def _shut_down_all(self) -> None:
        """Each open session gets "421 4.3.2" and the close (RFC 5321 §3.8), and at most
        :attr:`stop_grace_period` seconds of grace period to close its side; stop() waits for
        them that long (and a little for the loop to see them go), then drops the rest."""
        grace = min(self.grace_period, self.stop_grace_period)
        for wire in list(self._live):
            wire.shut_down("stop", grace)
        deadline = asyncio.get_running_loop().time() + grace + 0.1
        for _ in range(1000):  # bounded: by count, and by the deadline
            if not self._live or asyncio.get_running_loop().time() > deadline:
                return
            await asyncio.sleep(0.01)

    def _abort_all(self) -> None:
        for protocol in list(self._live):
            protocol.abort()

    async def open(self) -> None:
        """Listen in the running loop and return; several Servers may share one loop (the
        sidecar's servers on demand). Pair with :meth:`aclose`."""
        if self._server is not None or self._thread is not None:
            raise RuntimeError("server already started")
        await self._listen()

    async def aclose(self) -> None:
        """Stop listening and drop live connections (the end of :meth:`open`)."""
        await self._close()

    async def serve(self, stop: asyncio.Event, ready: Callable[[], None] | None = None) -> None:
        """Serve in the running loop until ``stop`` is set."""
        await self.open()
        if ready is not None:
            ready()
        try:
            await stop.wait()
        finally:
            await self.aclose()

    def start(self) -> Server:
        """Listen in a background thread; returns once the socket accepts connections."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        runner = loops.LoopThread(
            loops.new_event_loop(self.loop), "smtpfake-server", self._listen, self._close
        )
        self._runner, self._thread = runner, runner.thread
        try:
            runner.start()
        except BaseException:
            if not runner.thread.is_alive():  # it could not listen: nothing is left to stop
                self._runner, self._thread, self._loop = None, None, None
            raise
        return self

    def stop(self, timeout: float = 5.0) -> None:
        runner = self._runner
        if runner is None:
            return
        # the close first waits up to 5 s for deliveries under way, then gives the rest up
        # (each reported): time for that on top, so errors holds them when stop() returns
        runner.stop(timeout + (_DELIVERY_WAIT + 1.5 if self._deliveries else 0.0))
        self._runner, self._thread, self._loop = None, None, None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _call_in_loop(self, fn: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None or not loop.is_running():
            fn()
            return
        if self._thread is threading.current_thread() or _running_loop() is loop:
            fn()  # already in the loop's thread (serve()/open()): waiting on it would deadlock
            return
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def call() -> None:
            try:
                fn()
                done.set_result(None)
            except BaseException as exc:  # handed to the caller's thread, not dropped
                done.set_exception(exc)

        loop.call_soon_threadsafe(call)
        done.result(timeout=5)
