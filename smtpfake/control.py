"""The control interface: one set of methods, in-process (this module) or over HTTP (``remote``).

A test suite written against :class:`SmtpFake` runs unchanged against a sidecar, the way
WireMock's ``Admin`` works both in-process and over HTTP.
"""

from __future__ import annotations

import abc
import ssl
from collections.abc import Sequence
from typing import Protocol

from smtpfake.engine.records import Message, Violation
from smtpfake.journal import SessionRecord
from smtpfake.scenario import ScenarioRef
from smtpfake.server import Server


class Control(Protocol):
    """What both transports offer."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def scenario_name(self) -> str: ...

    @property
    def messages(self) -> Sequence[Message]: ...

    @property
    def sessions(self) -> Sequence[SessionRecord]: ...

    def use(self, scenario: ScenarioRef, *, seed: int | None = None) -> None: ...

    def reset(self) -> None: ...

    def wait_for_messages(self, count: int = 1, timeout: float = 5.0) -> Sequence[Message]: ...

    def wait_for_sessions(
        self, count: int = 1, timeout: float = 5.0
    ) -> Sequence[SessionRecord]: ...

    @property
    def ca_file(self) -> str: ...

    def client_ssl_context(self) -> ssl.SSLContext: ...


class ControlHelpers(abc.ABC):
    """Assertion helpers shared by both transports; they only use the Control methods."""

    @property
    @abc.abstractmethod
    def messages(self) -> Sequence[Message]: ...

    @property
    @abc.abstractmethod
    def sessions(self) -> Sequence[SessionRecord]: ...

    @property
    def violations(self) -> list[Violation]:
        return [v for s in self.sessions for v in s.violations]

    def transcript(self) -> str:
        """Every session's transcript, for failure messages."""
        return "\n".join(s.format() for s in self.sessions) or "(no sessions)"

    def assert_no_violations(self) -> None:
        found = self.violations
        if found:
            lines = "\n".join(f"  {v}" for v in found)
            raise AssertionError(
                f"the client made {len(found)} protocol violation(s):\n{lines}\n{self.transcript()}"
            )

    def assert_delivered(self, count: int) -> Sequence[Message]:
        """Exactly ``count`` messages were accepted (e.g. 1: delivered once, not duplicated)."""
        got = self.messages
        if len(got) != count:
            raise AssertionError(
                f"expected {count} accepted message(s), got {len(got)}\n{self.transcript()}"
            )
        return got


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
    def messages(self) -> Sequence[Message]:
        return self.server.messages

    @property
    def sessions(self) -> Sequence[SessionRecord]:
        return self.server.sessions

    def use(self, scenario: ScenarioRef, *, seed: int | None = None) -> None:
        self.server.use(scenario, seed=seed)

    def reset(self) -> None:
        self.server.reset()

    def wait_for_messages(self, count: int = 1, timeout: float = 5.0) -> Sequence[Message]:
        # accepted, not kept: a wait for more messages than the journal keeps can succeed
        if not self.server.journal.wait_for_messages(count, timeout):
            raise TimeoutError(
                f"waited {timeout}s for {count} message(s), got {len(self.messages)}\n"
                f"{self.transcript()}"
            )
        return self.messages

    def wait_for_sessions(self, count: int = 1, timeout: float = 5.0) -> Sequence[SessionRecord]:
        """Wait until ``count`` sessions have ended (so their transcripts are complete)."""

        if not self.server.journal.wait_for_sessions(count, timeout):
            raise TimeoutError(
                f"waited {timeout}s for {count} finished session(s)\n{self.transcript()}"
            )
        return self.sessions

    def __repr__(self) -> str:
        return f"<SmtpFake {self.host}:{self.port} scenario={self.scenario_name!r}>"
