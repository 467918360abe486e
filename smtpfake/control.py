"""The control interface: one set of methods, in-process (this module) or over HTTP (``remote``).

A test suite written against :class:`SmtpFake` runs unchanged against a sidecar, the way
WireMock's ``Admin`` works both in-process and over HTTP. :class:`Control` is the type of the
``smtpfake`` fixture: annotate a test's argument with it (``smtpfake: Control``) and mypy checks
every documented method. Importing this module is cheap (types only; the server is not loaded).

Reads settle first: ``sessions``, ``violations`` and every query and assertion helper wait
(at most :attr:`ControlHelpers.settle_timeout` seconds, 2.0 by default) until the sessions open
at the moment of the read have ended, so a read right after a client's ``close()`` sees that
session whole. A session still open after the wait is reported as it stands, and a read does
not wait for it again until something more of it is recorded (:class:`Stalled`); ``settle()``
itself waits for every open session.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from smtpfake import arguments
from smtpfake.queries import (
    MessageQuery,
    Retry,
    Want,
    find_messages,
    fired_rules,
    near_misses,
    retries,
    sessions_where,
)
from smtpfake.scenario.use_errors import use_errors
from smtpfake.settling import (
    SETTLE_TIMEOUT,
    Key,
    LoopRead,
    Stalled,
    in_running_loop,
    in_worker_thread,
    key,
    off_loop,
    refuse_blocking_wait,
    wait_ended,
)
from smtpfake.wait_cancel import pause

if TYPE_CHECKING:
    import ssl

    from smtpfake.engine.records import Message, Violation
    from smtpfake.journal import Journal, JournalCounts, SessionRecord
    from smtpfake.scenario import ScenarioRef
    from smtpfake.serialize import ScenarioDescription
    from smtpfake.server import Server

# how often the remote transport re-reads while settling; the in-process one is woken instead
_POLL = 0.01


def wait_count(kind: str, journal: Journal, *, not_counted: int = 0) -> int:
    """What the waits count, for every transport (``wait_for_messages``/``wait_for_sessions``
    here, ``POST /api/wait`` on the sidecar): ``messages`` accepted, or ``sessions`` ended (so
    their transcripts are whole), since the last reset; counted as they happened, not as the
    journal keeps them, so a wait for more than its limits can still succeed. ``not_counted``:
    messages taken out since (the sidecar's DELETE). Raises KeyError for another kind."""
    counts = journal.counts()
    counters = {
        "messages": lambda: counts.messages_accepted - not_counted,
        "sessions": lambda: counts.sessions_ended,
    }
    return counters[kind]()


class Control(Protocol):
    """Everything the ``smtpfake`` fixture offers, in-process or against a sidecar."""

    settle_timeout: float

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def address(self) -> tuple[str, int]: ...

    @property
    def scenario_name(self) -> str: ...

    @property
    def scenario(self) -> ScenarioDescription: ...

    @property
    def messages(self) -> tuple[Message, ...]: ...

    @property
    def sessions(self) -> tuple[SessionRecord, ...]: ...

    @property
    def violations(self) -> tuple[Violation, ...]: ...

    @property
    def counts(self) -> JournalCounts: ...

    def use(
        self,
        scenario: ScenarioRef,
        *,
        seed: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None: ...

    def reset(self) -> None: ...

    def advance(self, seconds: float) -> float: ...

    def settle(self, timeout: float | None = None) -> bool: ...

    async def asettle(self, timeout: float | None = None) -> bool: ...

    def wait_for_messages(self, count: int = 1, timeout: float = 5.0) -> tuple[Message, ...]: ...

    def wait_for_sessions(
        self, count: int = 1, timeout: float = 5.0
    ) -> tuple[SessionRecord, ...]: ...

    async def await_for_messages(
        self, count: int = 1, timeout: float = 5.0
    ) -> tuple[Message, ...]: ...

    async def await_for_sessions(
        self, count: int = 1, timeout: float = 5.0
    ) -> tuple[SessionRecord, ...]: ...

    @property
    def ca_file(self) -> str: ...

    def client_ssl_context(self) -> ssl.SSLContext: ...

    def transcript(self) -> str: ...

    def find_messages(
        self,
        *,
        to: Want | None = None,
        sender: Want | None = None,
        subject: Want | None = None,
        headers: Mapping[str, Want] | None = None,
    ) -> tuple[Message, ...]: ...

    def sessions_where(
        self, *, rule: str | None = None, code: int | None = None
    ) -> tuple[SessionRecord, ...]: ...

    def retries(self) -> tuple[Retry, ...]: ...

    def assert_no_violations(self) -> None: ...

    def assert_delivered(
        self,
        count: int | None = None,
        *,
        to: Want | None = None,
        sender: Want | None = None,
        subject: Want | None = None,
        headers: Mapping[str, Want] | None = None,
    ) -> tuple[Message, ...]: ...

    def assert_not_delivered(
        self,
        *,
        to: Want | None = None,
        sender: Want | None = None,
        subject: Want | None = None,
        headers: Mapping[str, Want] | None = None,
    ) -> None: ...

    def assert_sent(
        self, *, rule: str | None = None, code: int | None = None
    ) -> tuple[SessionRecord, ...]: ...

    def assert_retried(
        self, times: int | None = None, *, min_delay: float = 0.0
    ) -> tuple[Retry, ...]: ...


class ControlHelpers(abc.ABC):
    """Settling, queries and assertion helpers shared by both transports.

    A transport provides ``messages`` and ``sessions`` (what the journal holds now); the helpers
    settle before reading them. ``transcript_in_errors`` False leaves the transcript out of
    assertion messages (the pytest plugin prints it once, in the report's own section).
    """

    transcript_in_errors: bool = True

    @property
    def settle_timeout(self) -> float:
        """Seconds a settling read waits at most (see the module docstring); 2.0 unless set."""
        found: float = self.__dict__.get("_settle_timeout", SETTLE_TIMEOUT)
        return found

    @settle_timeout.setter
    def settle_timeout(self, seconds: float) -> None:
        __tracebackhide__ = True  # -1 or "2" would otherwise fail at some later read
        arguments.seconds("settle_timeout", "", seconds, high=arguments.MAX_SECONDS)
        self.__dict__["_settle_timeout"] = seconds

    @property
    @abc.abstractmethod
    def messages(self) -> tuple[Message, ...]: ...

    @property
    @abc.abstractmethod
    def sessions(self) -> tuple[SessionRecord, ...]: ...

    @property
    @abc.abstractmethod
    def scenario_name(self) -> str: ...

    @property
    @abc.abstractmethod
    def scenario(self) -> ScenarioDescription: ...

    @abc.abstractmethod
    def wait_for_messages(self, count: int = 1, timeout: float = 5.0) -> tuple[Message, ...]: ...

    @abc.abstractmethod
    def wait_for_sessions(
        self, count: int = 1, timeout: float = 5.0
    ) -> tuple[SessionRecord, ...]: ...

    # -- waiting in an async test ---------------------------------------------------------------

    async def await_for_messages(self, count: int = 1, timeout: float = 5.0) -> tuple[Message, ...]:
        """:meth:`wait_for_messages` for an async test (asyncio or trio, as :meth:`asettle`):
        the wait runs in a worker thread while the test's loop, and a client running on it as a
        task, go on. The blocking form there raises WaitInLoopError at once."""
        return await off_loop(lambda: self.wait_for_messages(count, timeout))

    async def await_for_sessions(
        self, count: int = 1, timeout: float = 5.0
    ) -> tuple[SessionRecord, ...]:
        """:meth:`wait_for_sessions` for an async test (see :meth:`await_for_messages`)."""
        return await off_loop(lambda: self.wait_for_sessions(count, timeout))

    # -- settling ------------------------------------------------------------------------------

    def _journal_sessions(self) -> tuple[SessionRecord, ...]:
        """What the journal holds now, without settling (a transport whose ``sessions`` settles
        overrides this with its raw read)."""
        return self.sessions

    @property
    def _stalled(self) -> Stalled:
        # made on first use: a transport's own __init__ need not call ours
        found = self.__dict__.get("_stalled_sessions")
        if found is None:
            found = self.__dict__["_stalled_sessions"] = Stalled()
        return found

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until every session open now has ended; at most ``timeout`` seconds (default
        :attr:`settle_timeout`). True when they all ended, False when the wait ran out."""
        __tracebackhide__ = True
        arguments.seconds("settle", "timeout", timeout, high=arguments.MAX_SECONDS, none=True)
        return self._settle(timeout, every=True)

    async def asettle(self, timeout: float | None = None) -> bool:
        """:meth:`settle` for an async test (asyncio: pytest-asyncio, anyio's asyncio backend;
        trio: anyio's trio backend, pytest-trio): the wait runs in a worker thread while the
        test's loop goes on, so the close of the test's own async client (done on the loop's
        next turn) ends its session. A sync read in a running loop does not wait (see
        :class:`~smtpfake.settling.SettleInLoopWarning`): ``await smtpfake.asettle()`` after
        closing a client, then read."""
        __tracebackhide__ = True
        arguments.seconds("asettle", "timeout", timeout, high=arguments.MAX_SECONDS, none=True)
        return await in_worker_thread(self.settle, timeout)

    def _settle(self, timeout: float | None, *, every: bool) -> bool:
        """``settle``; a read's (``every`` False) skips the sessions :class:`Stalled` holds."""
        if in_running_loop():
            return self._stalled.without_waiting(self._journal_sessions(), every=every)
        limit = self.settle_timeout if timeout is None else timeout
        return self._stalled.settle(self._journal_sessions, self._wait_ended, limit, every=every)

    def missed_reads(self) -> list[tuple[LoopRead, int]]:
        """At the test's end (the fixture's teardown): the reads in the test's loop that missed
        a session's close (:meth:`~smtpfake.settling.Stalled.at_the_end`)."""
        return self._stalled.at_the_end(self._journal_sessions, self._wait_ended)

    def _wait_ended(self, keys: set[Key], limit: float) -> set[Key]:
        """Wait at most ``limit`` seconds until the sessions ``keys`` name have ended; those
        still open then (re-reading the journal every ``_POLL`` seconds; in-process, the
        journal wakes the wait instead)."""
        deadline = time.monotonic() + limit
        while True:
            keys = keys - {key(s) for s in self._journal_sessions() if s.ended is not None}
            if not keys or time.monotonic() >= deadline:
                return keys
            pause(_POLL)  # ends at once when an awaitable wait's await is cancelled

    def _read_settle(self) -> None:
        """What every read does first: settle, but not again for a session a settle already ran
        out waiting for and of which nothing more has been recorded since."""
        self._settle(None, every=False)

    def _settled_sessions(self) -> tuple[SessionRecord, ...]:
        self._read_settle()
        return self._journal_sessions()

    # -- reading -------------------------------------------------------------------------------

    @property
    def violations(self) -> tuple[Violation, ...]:
        """Every protocol violation of every session, in order (settled first)."""
        return tuple(v for s in self._settled_sessions() for v in s.violations)

    def transcript(self) -> str:
        """Every session's transcript, for failure messages (settled first). What a client sent
        that a terminal would act on, or that is not text, is shown as ``\\xNN`` (as
        ``SessionRecord.format`` writes it)."""
        return "\n".join(s.format() for s in self._settled_sessions()) or "(no sessions)"

    def _with_transcript(self, text: str) -> str:
        return f"{text}\n{self.transcript()}" if self.transcript_in_errors else text

    def find_messages(
        self,
        *,
        to: Want | None = None,
        sender: Want | None = None,
        subject: Want | None = None,
        headers: Mapping[str, Want] | None = None,
    ) -> tuple[Message, ...]:
        """Accepted messages with every field given: ``to`` any one recipient, ``sender`` the
        MAIL FROM address (both case-insensitive), ``subject`` and ``headers`` exact; any value
        may be an ``re.compile(...)`` pattern, which must match somewhere (``re.search``)."""
        __tracebackhide__ = True
        arguments.query("find_messages", to, sender, subject, headers)
        self._read_settle()
        return find_messages(self.messages, MessageQuery(to, sender, subject, headers))

    def sessions_where(
        self, *, rule: str | None = None, code: int | None = None
    ) -> tuple[SessionRecord, ...]:
        """Sessions where the rule named ``rule`` shaped a reply and/or reply ``code`` was sent.
        ValueError for a ``rule`` that neither the scenario in force has nor fired (a typo
        would otherwise find nothing, and ``assert not sessions_where(...)`` pass)."""
        __tracebackhide__ = True
        arguments.rule_and_code("sessions_where", rule, code)
        sessions = self._settled_sessions()
        if rule is not None:
            self._check_rule("sessions_where", rule, sessions)
        return sessions_where(sessions, rule=rule, code=code)

    def _rule_labels(self) -> tuple[str, ...] | None:
        """The labels of the scenario in force's rules (a rule's ``name``, else ``rule N (on
        ...)``); None when the transport cannot say (nothing is then refused)."""
        return None

    def _check_rule(self, helper: str, rule: str, sessions: tuple[SessionRecord, ...]) -> None:
        __tracebackhide__ = True
        labels = self._rule_labels()
        if labels is None:
            return
        known = dict.fromkeys((*labels, *fired_rules(sessions)))
        if rule not in known:
            from smtpfake.scenario.yamlwalk import did_you_mean

            listed = ", ".join(repr(k) for k in known) or "none"
            raise ValueError(
                f"{helper}(rule={rule!r}): scenario {self.scenario_name!r} has no rule of that "
                f"name{did_you_mean(rule, known)} (its rules, and those that fired: {listed})"
            )

    def retries(self) -> tuple[Retry, ...]:
        """Connections that followed a session with a 4xx reply, each with ``delay`` seconds
        from the server's last reply in the failed session to the start of the retry."""
        return retries(self._settled_sessions())

    # -- assertions ----------------------------------------------------------------------------

    def assert_no_violations(self) -> None:
        __tracebackhide__ = True
        found = self.violations
        if found:
            lines = "\n".join(f"  {v}" for v in found)
            raise AssertionError(
                self._with_transcript(
                    f"the client made {len(found)} protocol violation(s):\n{lines}"
                )
            )

    def assert_delivered(
        self,
        count: int | None = None,
        *,
        to: Want | None = None,
        sender: Want | None = None,
        subject: Want | None = None,
        headers: Mapping[str, Want] | None = None,
    ) -> tuple[Message, ...]:
        """The matching messages (fields as in :meth:`find_messages`); fails unless there are
        exactly ``count`` of them (None: at least one). ``assert_delivered(1)``: delivered once,
        not duplicated. A failure lists the closest messages and what differed."""
        __tracebackhide__ = True
        arguments.how_many("assert_delivered", "count", count)
        arguments.query("assert_delivered", to, sender, subject, headers)
        query = MessageQuery(to, sender, subject, headers)
        self._read_settle()
        everything = self.messages
        got = find_messages(everything, query)
        if (count is None and got) or len(got) == count:
            return got
        wanted = "at least 1" if count is None else str(count)
        text = f"expected {wanted} accepted message(s) matching {query.describe()}, got {len(got)}"
        if not got:
            text += "\n" + near_misses(everything, query)
        raise AssertionError(self._with_transcript(text))

    def assert_not_delivered(
        self,
        *,
        to: Want | None = None,
        sender: Want | None = None,
        subject: Want | None = None,
        headers: Mapping[str, Want] | None = None,
    ) -> None:
        """No accepted message matches (fields as in :meth:`find_messages`)."""
        __tracebackhide__ = True
        arguments.query("assert_not_delivered", to, sender, subject, headers)
        query = MessageQuery(to, sender, subject, headers)
        got = self.find_messages(to=to, sender=sender, subject=subject, headers=headers)
        if got:
            ids = ", ".join(m.queue_id for m in got)
            raise AssertionError(
                self._with_transcript(
                    f"expected no message matching {query.describe()}, got {len(got)}: {ids}"
                )
            )

    def assert_sent(
        self, *, rule: str | None = None, code: int | None = None
    ) -> tuple[SessionRecord, ...]:
        """The sessions where ``rule`` fired and/or ``code`` was sent; fails if there are none,
        naming the rules that did fire and the codes that were sent."""
        __tracebackhide__ = True
        arguments.rule_and_code("assert_sent", rule, code)
        sessions = self._settled_sessions()
        if rule is not None:
            self._check_rule("assert_sent", rule, sessions)
        found = sessions_where(sessions, rule=rule, code=code)
        if found:
            return found
        asked = [f"rule {rule!r} fired"] if rule is not None else []
        asked += [f"code {code} was sent"] if code is not None else []
        fired = ", ".join(fired_rules(sessions)) or "none"
        codes = ", ".join(str(c) for c in dict.fromkeys(c for s in sessions for c in s.reply_codes))
        raise AssertionError(
            self._with_transcript(
                f"no session where {' and '.join(asked) or 'anything happened'}, of "
                f"{len(sessions)} session(s); rules that fired: {fired}; codes sent: "
                f"{codes or 'none'}"
            )
        )

    def assert_retried(
        self, times: int | None = None, *, min_delay: float = 0.0
    ) -> tuple[Retry, ...]:
        """The client reconnected after each transient (4xx) failure: exactly ``times`` retries
        (None: at least one), each at least ``min_delay`` seconds after the server's last reply
        in the failed session."""
        __tracebackhide__ = True
        arguments.how_many("assert_retried", "times", times)
        arguments.seconds("assert_retried", "min_delay", min_delay, high=arguments.MAX_SECONDS)
        found = self.retries()
        problems = []
        if (times is None and not found) or (times is not None and len(found) != times):
            # times=0 ("never reconnects") is not None: it was told as "at least 1"
            wanted = "at least 1" if times is None else str(times)
            seen = "".join(
                f"\n  session {r.retry.index}, {r.delay:.3f}s after session {r.failed.index}'s "
                f"{r.code}"
                for r in found
            )
            problems.append(f"expected {wanted} retry(ies), got {len(found)}{seen}")
        early = [r for r in found if r.delay < min_delay]
        problems += [
            f"session {r.retry.index} came {r.delay:.3f}s after the last reply of session "
            f"{r.failed.index} (which had a {r.code}); wanted at least {min_delay}s"
            for r in early
        ]
        if problems:
            raise AssertionError(self._with_transcript("\n".join(problems)))
        return found


class SmtpFake(ControlHelpers):
    """In-process control of a :class:`Server` (what the ``smtpfake`` fixture returns)."""

    def __init__(self, server: Server) -> None:
        self.server = server

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def ca_file(self) -> str:
        """The CA certificate (PEM file) that issued the server's generated TLS certificates."""
        return self.server.tls_ca_file

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts :attr:`ca_file`, hostname checks on: pass it to
        ``smtplib.SMTP.starttls(context=...)`` or aiosmtplib's ``tls_context``."""
        return self.server.tls_client_context()

    @property
    def scenario_name(self) -> str:
        return self.server.scenario.name

    @property
    def scenario(self) -> ScenarioDescription:
        """The scenario in force as ``GET /api/scenario`` describes it, as against a sidecar."""
        from smtpfake.serialize import scenario_in_force

        return scenario_in_force(self.server)

    def _rule_labels(self) -> tuple[str, ...]:
        return tuple(r.label for r in self.server.scenario.rules)

    @property
    def messages(self) -> tuple[Message, ...]:
        return self.server.messages

    @property
    def sessions(self) -> tuple[SessionRecord, ...]:
        """One record per connection, settled first (see the module docstring)."""
        return tuple(self._settled_sessions())

    def _journal_sessions(self) -> tuple[SessionRecord, ...]:
        return self.server.sessions

    @property
    def counts(self) -> JournalCounts:
        """Sessions and messages seen, kept and dropped since the last reset (settled first,
        as every read is: a session that just closed is counted as ended)."""
        self._read_settle()
        return self.server.journal.counts()

    def _wait_ended(self, keys: set[Key], limit: float) -> set[Key]:
        return wait_ended(self.server.journal, keys, limit)  # woken by the journal: no polling

    def use(
        self,
        scenario: ScenarioRef,
        *,
        seed: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        """Switch scenario (a name, a YAML path, a dict); ``params`` sets its parameters by name
        (``{"delay": 5}``); ScenarioError lists every problem (see :func:`use_errors`: a bad
        ``params`` value is a ParamsError naming this call, a dict's problems name key paths)."""
        __tracebackhide__ = True
        arguments.use(scenario, seed, params)
        with use_errors(scenario, params):
            self.server.use(scenario, seed=seed, params=params)

    def reset(self) -> None:
        self.server.reset()

    def advance(self, seconds: float) -> float:
        """Move the server's clock forward (greylisting, rate-limit windows, retry_after) instead
        of sleeping; returns its new time. The waits on the wire (delay, hang) stay real."""
        __tracebackhide__ = True
        arguments.seconds("advance", "seconds", seconds, high=arguments.MAX_SECONDS)
        return self.server.advance(seconds)

    def wait_for_messages(self, count: int = 1, timeout: float = 5.0) -> tuple[Message, ...]:
        __tracebackhide__ = True  # a timeout points at the test's line, as a failing helper does
        arguments.wait("wait_for_messages", count, timeout)
        journal = self.server.journal
        # blocking would hold up the loop of the client
        refuse_blocking_wait("wait_for_messages", lambda: wait_count("messages", journal) >= count)
        got = journal.wait(lambda j: wait_count("messages", j) >= count, timeout)
        if not got:
            raise TimeoutError(
                self._with_transcript(
                    f"waited {timeout}s for {count} message(s), got {len(self.messages)}"
                )
            )
        return self.messages

    def wait_for_sessions(self, count: int = 1, timeout: float = 5.0) -> tuple[SessionRecord, ...]:
        """Wait until ``count`` sessions have ended (so their transcripts are complete)."""
        __tracebackhide__ = True
        arguments.wait("wait_for_sessions", count, timeout)

        def ended(j: Journal) -> bool:
            return wait_count("sessions", j) >= count

        refuse_blocking_wait("wait_for_sessions", lambda: ended(self.server.journal))

        if not self.server.journal.wait(ended, timeout):
            got = wait_count("sessions", self.server.journal)
            raise TimeoutError(
                self._with_transcript(
                    f"waited {timeout}s for {count} finished session(s), got {got}"
                )
            )
        return self.sessions

    def __repr__(self) -> str:
        return f"<SmtpFake {self.host}:{self.port} scenario={self.scenario_name!r}>"


if TYPE_CHECKING:
    # mypy holds the in-process transport to the documented interface
    def _same_interface(fake: SmtpFake) -> Control:
        return fake


__all__ = ["SETTLE_TIMEOUT", "Control", "ControlHelpers", "Retry", "SmtpFake", "Want"]
