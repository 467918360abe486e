"""The sidecar's servers: its own (``main``) and servers on demand, each isolated.

Like Toxiproxy's proxies: ``POST /api/servers`` opens a fresh :class:`Server` (own journal,
counters, state, clock) on the next free SMTP port of a configured range, in the API's event loop;
``DELETE`` closes it. Parallel suites (pytest-xdist workers) each take one and never see the
others' sessions.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smtpfake.control import SmtpFake
from smtpfake.engine.clock import ManualClock
from smtpfake.http.events import EventHub, EventJournal, LoggingEventJournal, Publishing
from smtpfake.http.inputs import ApiError
from smtpfake.http.messages import Numbered, Summaries
from smtpfake.journal import Journal
from smtpfake.logging_observer import EventLog, LoggingJournal
from smtpfake.server import Server

MAIN = "main"
#: servers on demand at once when no port range bounds them
MAX_SERVERS = 100


def publishing(journal: Journal, hub: EventHub, server_id: str) -> Publishing:
    """``journal``'s kind (logging or not) and limits, publishing its events to ``hub``."""
    if isinstance(journal, Publishing):
        return journal
    limits = journal.limits.keywords()  # serve --journal-* and Server(journal_limits=) hold
    if isinstance(journal, LoggingJournal):
        return LoggingEventJournal(journal.log, journal.tag, hub=hub, server=server_id, **limits)
    return EventJournal(hub=hub, server=server_id, **limits)


@dataclass(frozen=True)
class Instance:
    """One server as the API sees it: the control object tests also get, and its messages."""

    id: str
    server: Server
    journal: Publishing
    created: float = field(default_factory=time.time)
    #: each message's summary, made once for every listing
    summaries: Summaries = field(default_factory=Summaries)
    #: whole-message parses at once (GET /api/messages/{id}: about twice the message in memory)
    parsing: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))

    @property
    def fake(self) -> SmtpFake:
        return SmtpFake(self.server)

    def numbered(self) -> list[Numbered]:
        """The messages the API shows, with their ids, oldest first."""
        out = []
        for message in self.fake.messages:
            number = self.journal.message_id(message)
            if number and number not in self.journal.deleted:
                out.append(Numbered(number, message))
        return out

    def reset(self, cleared: Callable[[], None] | None = None) -> None:
        """Server.reset: ``cleared`` runs once the journal is empty, before the sessions still
        open join the new one."""
        self.server.reset(cleared)


class Fleet:
    """The servers by id; on-demand ones are opened and closed in the running loop."""

    def __init__(
        self,
        main: Server,
        hub: EventHub,
        *,
        ports: range | None = None,
        scenario_dirs: Sequence[str | Path] = (),
        log: EventLog | None = None,
    ) -> None:
        self.hub = hub
        self.log = log
        self.ports = ports
        self.scenario_dirs = tuple(scenario_dirs) or main.scenario_dirs
        main.journal = publishing(main.journal, hub, MAIN)
        self.main = Instance(MAIN, main, main.journal)
        self.instances: dict[str, Instance] = {MAIN: self.main}
        #: servers on demand made since the start (deleted ones included)
        self.made = 0
        self._ids = itertools.count(1)
        #: this sidecar process's run, random at start: a client of a server on demand sends it
        #: back (RUN_HEADER), so after a restart its ``s1`` is not taken for the new run's
        self.run = secrets.token_hex(8)

    def get(self, server_id: str) -> Instance:
        found = self.instances.get(server_id)
        if found is None:
            raise ApiError(404, f"no server {server_id!r} (GET /api/servers lists them)")
        return found

    @property
    def capacity(self) -> int:
        return len(self.ports) if self.ports is not None else MAX_SERVERS

    async def create(
        self, scenario: str, seed: int | None, params: Mapping[str, Any] | None = None
    ) -> Instance:
        """A new server playing ``scenario`` on a free port of the range (any port without one).
        Raises ScenarioError for a bad name, ApiError(503) when the range is used up."""
        if len(self.instances) - 1 >= self.capacity:
            raise ApiError(
                503, f"all {self.capacity} servers on demand are in use; DELETE one first"
            )
        main = self.main.server
        server_id = f"s{next(self._ids)}"
        server = Server(
            scenario,
            host=main.host,
            seed=seed,
            scenario_dirs=self.scenario_dirs,
            idle_timeout=main.idle_timeout,
            grace_period=main.grace_period,
            stop_grace_period=main.stop_grace_period,
            params=params,
            # the sidecar's back end (serve --deliver): each test's server with
            # --smtpfake-remote delivers where the README says the sidecar's mail goes
            delivery=main.delivery,
            # a clock of its own, of the sidecar's kind (manual with serve --clock manual)
            clock=ManualClock() if isinstance(main.clock, ManualClock) else None,
        )
        # the sidecar's journal limits hold for its servers on demand too
        limits = main.journal.limits.keywords()
        fresh = (
            Journal(**limits)
            if self.log is None
            # its lines in the sidecar's log, tagged with its id (``server`` in JSON)
            else LoggingJournal(self.log, server_id, **limits)
        )
        journal = publishing(fresh, self.hub, server_id)
        server.journal = journal
        server.on_error = main.on_error
        taken = {i.server.port for i in self.instances.values()}
        for port in self.ports if self.ports is not None else [0]:
            if port in taken:
                continue
            server.port = port
            try:
                await server.open()
            except OSError:
                continue  # something else holds it: the next one
            break
        else:
            raise ApiError(
                503,
                f"no free SMTP port in {self.ports.start}-{self.ports.stop - 1}"
                if self.ports is not None
                else "cannot listen",
            )
        instance = Instance(server_id, server, journal)
        self.instances[server_id] = instance
        self.made += 1
        return instance

    async def delete(self, server_id: str) -> None:
        if server_id == MAIN:
            raise ApiError(400, "the sidecar's own server cannot be deleted; reset it instead")
        instance = self.get(server_id)
        del self.instances[server_id]
        await instance.server.aclose()

    async def close(self) -> None:
        """Close every server on demand (shutdown; the main one is its owner's to close)."""
        for server_id in [i for i in self.instances if i != MAIN]:
            await self.delete(server_id)
