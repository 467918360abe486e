"""One SMTP session, sans I/O: lines in, actions out (the way h11's Connection works).

The wire layer feeds it what the client sent and carries out the actions it returns. It never
touches a socket, a loop or a real clock, so every scenario is testable without a network.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable

from smtpfake.engine.clock import Clock, SystemClock
from smtpfake.engine.matching import Occurrence, select
from smtpfake.engine.records import (
    Message,
    Observer,
    SessionInfo,
    TranscriptEntry,
    Violation,
)
from smtpfake.engine.shared import Shared
from smtpfake.engine.state import HELO_FIRST, NEEDS_HELO, Mode, Phase, Refusal, transition
from smtpfake.scenario.model import Scenario, Stage
from smtpfake.scenario.plan import Action, Close, Plan, Reset, Send
from smtpfake.scenario.reply import Reply

#: RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with its CRLF
COMMAND_LINE_LIMIT = 512

_PATH_RE = re.compile(r"^(FROM|TO):\s*<([^<>]*)>\s*(.*)$", re.IGNORECASE)
_STAGE_OF = {
    s.value.upper(): s for s in Stage if s not in (Stage.CONNECT, Stage.END_OF_DATA, Stage.ANY)
}

Accept = Callable[[], None] | None


class Session:
    def __init__(
        self,
        scenario: Scenario,
        shared: Shared,
        observer: Observer,
        *,
        peer: str = "",
        clock: Clock | None = None,
    ) -> None:
        self.scenario = scenario
        self.settings = scenario.server
        self.shared = shared
        self.observer = observer
        self.clock = clock or SystemClock()
        self.index = shared.next_connection()
        seed = scenario.seed if scenario.seed is not None else shared.seed
        # One RNG per connection: the same seed and traffic give the same faults even when
        # sessions interleave differently from run to run.
        self._rng = random.Random(f"{seed}:{self.index}")
        self.info = SessionInfo(self.index, peer, self.clock.now())
        self.mode = Mode.COMMAND
        self.phase = Phase.IDLE
        self.greeted = False
        self.quit_seen = False
        self.counts: Counter[Stage] = Counter()
        self.mail_from = ""
        self.rcpt_tos: list[str] = []
        self._body = bytearray()
        self._body_size = 0
        self._enhanced = self.settings.has_extension("ENHANCEDSTATUSCODES")
        self._commands: dict[str, Callable[[str], tuple[Action, ...]]] = {
            "HELO": self._helo,
            "EHLO": self._ehlo,
            "MAIL": self._mail,
            "RCPT": self._rcpt,
            "DATA": self._data,
            "RSET": self._rset,
            "NOOP": self._simple(Stage.NOOP, 250, "2.0.0", "Ok"),
            "VRFY": self._vrfy,
            "EXPN": self._simple(Stage.EXPN, 502, "5.5.1", "Error: EXPN not implemented"),
            "HELP": self._simple(
                Stage.HELP, 214, "2.0.0", "See RFC 5321; smtpfake is a test double"
            ),
            "QUIT": self._quit,
            "STARTTLS": self._simple(Stage.STARTTLS, 454, "4.7.0", "TLS not available"),
            "AUTH": self._simple(Stage.AUTH, 502, "5.5.1", "Error: authentication not enabled"),
        }
        observer.started(self.info)

    # -- FaultContext ------------------------------------------------------------------------

    @property
    def rng(self) -> random.Random:
        return self._rng

    def now(self) -> float:
        return self.clock.now()

    # -- events in ---------------------------------------------------------------------------

    def connect(self) -> tuple[Action, ...]:
        """The client connected: the greeting (enhanced codes never go on a greeting)."""
        greeting = Reply(220, (f"{self.settings.hostname} {self.settings.greeting}",))
        return self._respond(Stage.CONNECT, "", Plan(greeting))

    def receive(self, line: bytes, *, partial: bool = False) -> tuple[Action, ...]:
        """One line from the client, with its line ending. ``partial``: this continues a data
        line begun in an earlier call (an over-long line arrives in pieces; only the first piece
        starts the line, so only it is dot-unstuffed or can be the final ".")."""
        if self.mode is Mode.DATA:
            return self._data_line(line, partial)
        text = line.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
        self._record("client", text)
        if self.mode is Mode.CLOSED:
            self._violate(
                "sent-after-close", "the client kept sending after the server closed", text
            )
            return ()
        if len(line) > COMMAND_LINE_LIMIT:
            return self._respond(Stage.UNKNOWN, text, self._reply(500, "5.5.6", "Line too long"))
        verb, _, arg = text.partition(" ")
        handler = self._commands.get(verb.upper())
        if handler is None:
            # The echo is sanitised: a reply must stay one line of text whatever the client sent.
            shown = "".join(c if " " < c < "\x7f" else "?" for c in verb[:64])
            what = "Error: bad syntax" if not verb else f'Error: command "{shown}" not recognized'
            return self._respond(Stage.UNKNOWN, text, self._reply(500, "5.5.2", what))
        return handler(arg.strip())

    def line_too_long(self) -> tuple[Action, ...]:
        """The client sent a command line longer than the reader would hold (already discarded)."""
        self._record("client", "(over-long line, discarded)")
        return self._respond(Stage.UNKNOWN, "", self._reply(500, "5.5.6", "Line too long"))

    def internal_error(self) -> tuple[Action, ...]:
        """smtpfake itself failed (the wire layer reports the exception): a 451 and the close, so
        the client sees a transient failure, not a hang. No rule applies to it."""
        if self.mode is Mode.CLOSED:
            return ()
        self.mode = Mode.CLOSED  # first: the server ended it, the client is not blamed
        reply = self._reply(451, "4.3.0", "smtpfake internal error, see the test report")
        self._record("server", reply.text())
        self._record("server", "(connection closed)")
        return (Send(reply.render()), Close())

    def timed_out(self) -> tuple[Action, ...]:
        """The idle timer ran out: the server closes, silently as aiosmtpd does. The server hung
        up, so the client is not blamed for a missing QUIT."""
        if self.mode is Mode.CLOSED:
            return ()
        self.mode = Mode.CLOSED
        self._record("server", "(connection closed: idle timeout)")
        return (Close(),)

    def disconnected(self) -> None:
        if self.mode is not Mode.CLOSED and not self.quit_seen:
            self._violate("no-quit", "the client closed the connection without QUIT", "")
        self.mode = Mode.CLOSED
        self.observer.ended(self.info, self.now())

    # -- the core: rules first, then the normal reply -------------------------------------------

    def _respond(
        self, stage: Stage, argument: str, plan: Plan | Reply, accept: Accept = None
    ) -> tuple[Action, ...]:
        if isinstance(plan, Reply):
            plan = Plan(plan)
        self.counts[stage] += 1
        occurrence = Occurrence(
            stage,
            argument,
            self.counts[stage],
            self.index,
            peer=self.info.peer,
            sender=self.mail_from,
            recipients=tuple(self.rcpt_tos),
            time=self.now(),
        )
        # select() also records the firing: per-rule counters, times, next_state
        rule = select(self.scenario.rules, occurrence, self.shared, self.rng)
        label = None
        if rule is not None:
            label = rule.label
            for fault in rule.faults:
                plan = fault.apply(plan, self)
        if accept is not None and plan.reply is not None and plan.reply.is_positive:
            accept()
        actions = plan.actions()
        if plan.raw is not None:
            self._record("server", plan.raw.decode("utf-8", "replace").rstrip("\r\n"), label)
        elif plan.reply is not None:
            self._record("server", plan.reply.text(), label)
        for action in actions:
            if isinstance(action, Close | Reset):
                what = "closed" if isinstance(action, Close) else "reset"
                self._record("server", f"(connection {what})", label)
                self.mode = Mode.CLOSED
        return actions

    def _reply(self, code: int, enhanced: str | None, *lines: str) -> Reply:
        # RFC 2034: enhanced codes only when advertised, never on the greeting or HELO/EHLO.
        return Reply(code, lines, enhanced if self._enhanced else None)

    def _simple(
        self, stage: Stage, code: int, enhanced: str, text: str
    ) -> Callable[[str], tuple[Action, ...]]:
        def handle(arg: str) -> tuple[Action, ...]:
            return self._respond(stage, arg, self._reply(code, enhanced, text))

        return handle

    def _refuse(self, stage: Stage, argument: str, refusal: Refusal) -> tuple[Action, ...]:
        command = stage.value.upper()
        self._violate("bad-sequence", refusal.detail.format(cmd=command), command)
        return self._respond(stage, argument, self._reply(503, "5.5.1", refusal.text))

    def _sequence(self, command: str) -> Phase | Refusal:
        if command in NEEDS_HELO and not self.greeted:
            if self.settings.require_helo:
                return HELO_FIRST
            if command == "MAIL":
                # Accepted (as Postfix does by default), but still against RFC 5321 §4.1.4.
                self._violate("no-helo", "MAIL before HELO/EHLO", command)
        return transition(command, self.phase)

    # -- commands ------------------------------------------------------------------------------

    def _greet(self, esmtp: bool) -> None:
        self.greeted = True
        self._reset_transaction()

    def _helo(self, arg: str) -> tuple[Action, ...]:
        if not arg:
            return self._respond(Stage.HELO, arg, Reply(501, ("Syntax: HELO hostname",)))
        ok = Reply(250, (self.settings.hostname,))
        return self._respond(Stage.HELO, arg, ok, lambda: self._greet(False))

    def _ehlo(self, arg: str) -> tuple[Action, ...]:
        if not arg:
            return self._respond(Stage.EHLO, arg, Reply(501, ("Syntax: EHLO hostname",)))
        ok = Reply(250, (self.settings.hostname, *self.settings.extensions))
        return self._respond(Stage.EHLO, arg, ok, lambda: self._greet(True))

    def _mail(self, arg: str) -> tuple[Action, ...]:
        after = self._sequence("MAIL")
        m = _PATH_RE.match(arg)
        address = m.group(2) if m and m.group(1).upper() == "FROM" else arg
        if isinstance(after, Refusal):
            return self._refuse(Stage.MAIL, address, after)
        if not m or m.group(1).upper() != "FROM":
            syntax = self._reply(501, "5.5.4", "Syntax: MAIL FROM:<address>")
            return self._respond(Stage.MAIL, address, syntax)
        limit = self.settings.size_limit()
        declared = _size_param(m.group(3))
        if limit is not None and declared is not None and declared > limit:
            big = self._reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
            return self._respond(Stage.MAIL, address, big)

        def accept() -> None:
            self.phase = Phase.MAIL
            self.mail_from = address
            self.rcpt_tos = []

        return self._respond(Stage.MAIL, address, self._reply(250, "2.1.0", "Ok"), accept)

    def _rcpt(self, arg: str) -> tuple[Action, ...]:
        after = self._sequence("RCPT")
        m = _PATH_RE.match(arg)
        address = m.group(2) if m and m.group(1).upper() == "TO" else arg
        if isinstance(after, Refusal):
            return self._refuse(Stage.RCPT, address, after)
        if not m or m.group(1).upper() != "TO":
            syntax = self._reply(501, "5.5.4", "Syntax: RCPT TO:<address>")
            return self._respond(Stage.RCPT, address, syntax)
        if len(self.rcpt_tos) >= self.settings.max_recipients:
            many = self._reply(452, "4.5.3", "Error: too many recipients")
            return self._respond(Stage.RCPT, address, many)

        def accept() -> None:
            self.phase = Phase.RCPT
            self.rcpt_tos.append(address)

        return self._respond(Stage.RCPT, address, self._reply(250, "2.1.5", "Ok"), accept)

    def _data(self, arg: str) -> tuple[Action, ...]:
        after = self._sequence("DATA")
        if isinstance(after, Refusal):
            return self._refuse(Stage.DATA, arg, after)
        if arg:
            return self._respond(Stage.DATA, arg, self._reply(501, "5.5.4", "Syntax: DATA"))

        def accept() -> None:
            self.phase = Phase.IDLE
            self.mode = Mode.DATA
            self._body = bytearray()
            self._body_size = 0

        go = Reply(354, ("End data with <CR><LF>.<CR><LF>",))
        return self._respond(Stage.DATA, arg, go, accept)

    def _rset(self, arg: str) -> tuple[Action, ...]:
        return self._respond(
            Stage.RSET, arg, self._reply(250, "2.0.0", "Ok"), self._reset_transaction
        )

    def _vrfy(self, arg: str) -> tuple[Action, ...]:
        if not arg:
            return self._respond(
                Stage.VRFY, arg, self._reply(501, "5.5.4", "Syntax: VRFY <address>")
            )
        text = "Cannot VRFY user, but will accept message and attempt delivery"
        return self._respond(Stage.VRFY, arg, self._reply(252, "2.0.0", text))

    def _quit(self, arg: str) -> tuple[Action, ...]:
        self.quit_seen = True
        bye = Plan(self._reply(221, "2.0.0", "Bye"), after=(Close(),))
        return self._respond(Stage.QUIT, arg, bye)

    def _reset_transaction(self) -> None:
        self.phase = Phase.IDLE
        self.mail_from = ""
        self.rcpt_tos = []

    # -- the message body ----------------------------------------------------------------------

    def _data_line(self, line: bytes, partial: bool) -> tuple[Action, ...]:
        if not partial and line in (b".\r\n", b".\n", b"."):
            self._record("client", f"(message data, {self._body_size} bytes)")
            self._record("client", ".")
            return self._end_of_data()
        if line.startswith(b".") and not partial:
            line = line[1:]  # RFC 5321 §4.5.2 transparency
        self._body_size += len(line)
        # Bounded in memory whatever the client sends: past the cap, count but do not keep.
        if len(self._body) + len(line) <= self.settings.max_message_bytes:
            self._body += line
        return ()

    def _end_of_data(self) -> tuple[Action, ...]:
        self.mode = Mode.COMMAND
        limit = min(self.settings.size_limit() or self._body_size, self.settings.max_message_bytes)
        if self._body_size > limit:
            big = self._reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
            return self._respond(Stage.END_OF_DATA, self.mail_from, big)
        queue_id = self.shared.next_queue_id()
        message = Message(
            mail_from=self.mail_from,
            rcpt_tos=tuple(self.rcpt_tos),
            data=bytes(self._body),
            session=self.index,
            time=self.now(),
            queue_id=queue_id,
        )

        def accept() -> None:
            self.observer.message(self.info, message)

        ok = self._reply(250, "2.0.0", f"Ok: queued as {queue_id}")
        actions = self._respond(Stage.END_OF_DATA, self.mail_from, ok, accept)
        self._reset_transaction()
        return actions

    # -- the record ----------------------------------------------------------------------------

    def _record(self, side: str, text: str, rule: str | None = None) -> None:
        entry = TranscriptEntry(self.now(), "client" if side == "client" else "server", text, rule)
        self.observer.transcript(self.info, entry)

    def _violate(self, kind: str, detail: str, command: str) -> None:
        self.observer.violation(self.info, Violation(kind, detail, command, self.now()))


def _size_param(params: str) -> int | None:
    for word in params.split():
        key, _, value = word.partition("=")
        if key.upper() == "SIZE" and value.isdigit():
            return int(value)
    return None
