"""One SMTP session, sans I/O: lines in, actions out (the way h11's Connection works).

The wire layer feeds it what the client sent and carries out the actions it returns. It never
touches a socket, a loop or a real clock, so every scenario is testable without a network.
"""

from __future__ import annotations

import base64
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from smtpfake.engine.clock import Clock, SystemClock
from smtpfake.engine.matching import Occurrence, client_ip, select
from smtpfake.engine.records import (
    Message,
    Observer,
    SessionInfo,
    TranscriptEntry,
    Violation,
)
from smtpfake.engine.shared import Shared
from smtpfake.engine.state import (
    AUTH_TWICE,
    EHLO_FIRST,
    HELO_FIRST,
    NEEDS_HELO,
    Mode,
    Phase,
    Refusal,
    transition,
)
from smtpfake.scenario.model import Scenario, Stage
from smtpfake.scenario.plan import Action, BodyCut, Close, Plan, Reset, Send, StartTLS
from smtpfake.scenario.reply import Reply

#: RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with its CRLF
COMMAND_LINE_LIMIT = 512
#: RFC 4954 §4: what an AUTH response line may take (the wire's reader may cut sooner)
AUTH_LINE_LIMIT = 12288
#: what the transcript shows instead of a SASL response (it carries the password)
AUTH_MASK = "(auth response)"
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")

#: RFC 5321 §4.5.3.1.6: a line of message text is at most 1000 octets with its CRLF
TEXT_LINE_LIMIT = 1000
#: RFC 1870 §5 counts the CRLF ending the last line; smtplib and aiosmtplib add it to a message
#: that lacks one after computing SIZE=, so an excess this small is not held against the client
SIZE_SLACK = 2
#: RFC 2920 §3.1 (and RFC 3207 §4 for STARTTLS): commands that may only end a pipelined group
GROUP_ENDERS = frozenset({"EHLO", "DATA", "VRFY", "EXPN", "TURN", "QUIT", "NOOP", "STARTTLS"})
#: RFC 3207 §4: what a server requiring TLS still answers before it (the rest get 530 5.7.0)
TLS_FREE = frozenset({"NOOP", "EHLO", "STARTTLS", "QUIT"})
#: the engine's timers (the wire arms them; see Session.timer_fired)
IDLE_TIMER = "idle"
CLOSE_AFTER_TIMER = "close_after"

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
        # The server picks it (use(seed=), --seed, then the scenario's); alone, the scenario's.
        seed = shared.seed if shared.seed is not None else (scenario.seed or 0)
        # One RNG per connection: the same seed and traffic give the same faults even when
        # sessions interleave differently from run to run.
        self._rng = random.Random(f"{seed}:{self.index}")
        self.info = SessionInfo(self.index, peer, self.clock.now())
        self.mode = Mode.COMMAND
        self.phase = Phase.IDLE
        self.greeted = False
        self.esmtp = False  # greeted with EHLO: extensions such as AUTH may be used
        self.tls_active = False  # set once TLS is up; AUTH with require_tls waits for it
        self._tls = self.settings.tls
        self._tls_required = self._tls.enabled and self._tls.required
        self._greet_after_tls = False  # implicit TLS: the greeting waits for the handshake
        self.auth_user: str | None = None  # who AUTH succeeded for ("" if no name was given)
        self._auth: _Exchange | None = None  # the AUTH exchange under way, in Mode.AUTH
        self.quit_seen = False
        self.counts: Counter[Stage] = Counter()
        self.mail_from = ""
        self.rcpt_tos: list[str] = []
        self._body = bytearray()
        self._body_size = 0
        self._body_cut: BodyCut | None = None  # armed by a cut_body rule on DATA
        # What the client did wrong is told once per session (or per message for the data), so
        # a flooding client cannot grow the journal without bound.
        self._told: set[str] = set()
        self._previous: str | None = None  # the last command's verb; None before any line
        self._pipelined = False  # the command at hand was sent before the previous reply
        self._previous_ok = True  # the previous reply was positive
        self._declared_size: int | None = None  # MAIL ... SIZE=
        self._declared_8bit = False  # MAIL ... BODY=8BITMIME (or BINARYMIME, SMTPUTF8)
        self._data_lines = 0  # lines (not pieces) of the current message
        self._line_size = 0  # octets of the current text line so far (over-long lines: pieces)
        self._cr_pending = False  # a piece ended in CR; its LF may start the next piece
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
            "STARTTLS": self._starttls,
            "AUTH": self._auth_command,
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
        not_before = self.shared.retry_not_before.get(client_ip(self.info.peer))
        if not_before is not None and self.now() < not_before:
            early = not_before - self.now()
            self._violate(
                "retry-too-soon",
                f"connected again {early:.1f} s before the server's retry_after ran out",
                "",
            )
        if self._tls.enabled and self._tls.implicit:
            # Implicit TLS: the handshake comes first. It is the occurrence of the starttls stage
            # (so rules there can break it); the greeting follows in tls_started().
            self._greet_after_tls = True
            return self._respond(Stage.STARTTLS, "", Plan(None, after=(StartTLS(),)))
        return self._greeting()

    def _greeting(self) -> tuple[Action, ...]:
        greeting = Reply(220, (f"{self.settings.hostname} {self.settings.greeting}",))
        return self._respond(Stage.CONNECT, "", Plan(greeting))

    def tls_started(self, version: str, cipher: str) -> tuple[Action, ...]:
        """The wire completed the TLS handshake. RFC 3207 §4.2: the session starts over as after
        the greeting, and nothing learnt from the client before TLS is kept (HELO/EHLO, AUTH, an
        open transaction). With implicit TLS, the greeting goes out now."""
        self.tls_active = True
        self.greeted = False
        self.esmtp = False
        self.auth_user = None
        self._reset_transaction()
        self._record("server", f"(TLS established: {version}, {cipher})")
        self.observer.secured(self.info, version, cipher)
        if self._greet_after_tls:
            self._greet_after_tls = False
            return self._greeting()
        return ()

    def tls_failed(self, reason: str) -> None:
        """The TLS handshake did not complete; the wire has closed the connection. The client
        could not have sent QUIT, so none is expected."""
        if self.mode is Mode.CLOSED:
            return
        self.mode = Mode.CLOSED
        self._record("server", f"(TLS handshake failed: {reason}; connection closed)")

    def discarded_before_tls(self, size: int) -> None:
        """The wire dropped what the client sent after STARTTLS but before its handshake: it
        must not be read as if it came over TLS (the STARTTLS command injection of
        CVE-2011-0411)."""
        self._record("client", f"({size} bytes after STARTTLS, before the handshake: discarded)")
        self._violate(
            "sent-before-tls",
            "the client sent data after STARTTLS before starting TLS (RFC 3207 §4)",
            "STARTTLS",
        )

    def receive(
        self, line: bytes, *, partial: bool = False, pipelined: bool = False
    ) -> tuple[Action, ...]:
        """One line from the client, with its line ending. ``partial``: this continues a data
        line begun in an earlier call (an over-long line arrives in pieces; only the first piece
        starts the line, so only it is dot-unstuffed or can be the final "."). ``pipelined``: the
        wire already held (part of) this line when the server sent its previous reply (the
        greeting, for the first line), so the client did not wait for that reply."""
        if self.mode is Mode.DATA:
            return self._data_line(line, partial, pipelined)
        if self.mode is Mode.AUTH:
            return self._auth_line(line, pipelined)
        text = line.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
        self._record("client", _masked(text))
        verb = text.partition(" ")[0].upper()
        if self.mode is Mode.CLOSED:
            if self._previous is None and pipelined:
                # Sent during a greeting that never came (a hang or a close at connect).
                self._pipelining(verb, pipelined)
            elif not pipelined:
                self._violate(
                    "sent-after-close",
                    "the client kept sending after the server closed",
                    _masked(text),
                )
            return ()
        self._pipelining(verb, pipelined)
        self._pipelined = pipelined
        self._line_endings(line, verb, message=False)
        if len(line) > COMMAND_LINE_LIMIT:
            self._tell(
                "line-too-long",
                f"a command line of {len(line)} octets; the limit is {COMMAND_LINE_LIMIT} with "
                "its CRLF (RFC 5321 §4.5.3.1.4)",
                verb,
            )
            return self._respond(Stage.UNKNOWN, text, self._reply(500, "5.5.6", "Line too long"))
        verb, _, arg = text.partition(" ")
        handler = self._commands.get(verb.upper())
        if handler is None:
            # The echo is sanitised: a reply must stay one line of text whatever the client sent.
            shown = "".join(c if " " < c < "\x7f" else "?" for c in verb[:64])
            what = "Error: bad syntax" if not verb else f'Error: command "{shown}" not recognized'
            return self._respond(Stage.UNKNOWN, text, self._reply(500, "5.5.2", what))
        if self._tls_required and not self.tls_active and verb.upper() not in TLS_FREE:
            # RFC 3207 §4: the server's policy, not the client's mistake, so no violation
            first = self._reply(530, "5.7.0", "Must issue a STARTTLS command first")
            return self._respond(_STAGE_OF[verb.upper()], arg.strip(), first)
        return handler(arg.strip())

    def line_too_long(self) -> tuple[Action, ...]:
        """The client sent a command line longer than the reader would hold (already discarded)."""
        self._record("client", "(over-long line, discarded)")
        if self.mode is Mode.AUTH:
            return self._auth_too_long()
        self._tell(
            "line-too-long",
            f"a command line over {COMMAND_LINE_LIMIT} octets (RFC 5321 §4.5.3.1.4)",
            "",
        )
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
        """The server's own idle timeout ran out: it closes, silently as aiosmtpd does. The
        server hung up, so the client is not blamed for a missing QUIT."""
        if self.mode is Mode.CLOSED:
            return ()
        self.mode = Mode.CLOSED
        self._record("server", "(connection closed: idle timeout)")
        return (Close(),)

    def timer_fired(self, name: str) -> tuple[Action, ...]:
        """A timer the wire armed ran out; the server speaks on its own (RFC 5321 §3.8).

        ``idle`` (``server.idle_timeout`` seconds of client silence; re-armed after every line):
        "421 4.4.2" and close; without ``idle_timeout``, the silent close of ``timed_out()``.
        ``close_after`` (armed once at connect for ``server.close_after`` seconds): "421 4.3.2"
        and close, whatever the client is doing. The server hung up, so the client is not
        blamed for a missing QUIT.
        """
        if self.mode is Mode.CLOSED:
            return ()
        host = self.settings.hostname
        if name == IDLE_TIMER:
            if self.settings.idle_timeout is None:
                return self.timed_out()
            reply = self._reply(421, "4.4.2", f"{host} Error: timeout exceeded")
        elif name == CLOSE_AFTER_TIMER:
            text = f"{host} Service not available, closing transmission channel"
            reply = self._reply(421, "4.3.2", text)
        else:
            raise ValueError(f"unknown timer {name!r}")
        if self.mode is Mode.DATA:
            self._record("client", f"(message data, {self._body_size} bytes, unfinished)")
        self.mode = Mode.CLOSED
        self._transient(reply)
        self._record("server", reply.text(), f"server.{name}")
        self._record("server", "(connection closed)", f"server.{name}")
        return (Send(reply.render()), Close())

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
            if self.mode is Mode.DATA and plan.body_cut is not None:
                self._body_cut = BodyCut(plan.body_cut.after_bytes, plan.body_cut.actions, label)
        actions = plan.actions()
        if plan.raw is not None:
            self._record("server", plan.raw.decode("utf-8", "replace").rstrip("\r\n"), label)
        elif plan.reply is not None:
            self._record("server", plan.reply.text(), label)
        if plan.reply is not None:
            self._transient(plan.reply)
            self._previous_ok = plan.reply.is_positive
        return self._ending(actions, label)

    def _ending(self, actions: tuple[Action, ...], label: str | None) -> tuple[Action, ...]:
        """Record (and enter) the close or reset among the actions."""
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
        # RFC 2920 §3.1: a pipelining client sends DATA (RCPT) before it learns that its RCPT
        # (MAIL) was refused; the 503 is the expected outcome, not its mistake.
        if not (self._pipelined and not self._previous_ok and self._advertised("PIPELINING")):
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
        self.esmtp = esmtp
        self._reset_transaction()

    def _helo(self, arg: str) -> tuple[Action, ...]:
        if not arg:
            return self._respond(Stage.HELO, arg, Reply(501, ("Syntax: HELO hostname",)))
        ok = Reply(250, (self.settings.hostname,))
        return self._respond(Stage.HELO, arg, ok, lambda: self._greet(False))

    def _ehlo(self, arg: str) -> tuple[Action, ...]:
        if not arg:
            return self._respond(Stage.EHLO, arg, Reply(501, ("Syntax: EHLO hostname",)))
        ok = Reply(250, (self.settings.hostname, *self._ehlo_keywords()))
        return self._respond(Stage.EHLO, arg, ok, lambda: self._greet(True))

    def _ehlo_keywords(self) -> tuple[str, ...]:
        """What EHLO advertises now (ServerSettings.advertised computes the list: STARTTLS, AUTH,
        extensions_add/remove); it depends on whether TLS is up."""
        return self.settings.advertised(tls_active=self.tls_active)

    def _mail(self, arg: str) -> tuple[Action, ...]:
        after = self._sequence("MAIL")
        m = _PATH_RE.match(arg)
        address = m.group(2) if m and m.group(1).upper() == "FROM" else arg
        if isinstance(after, Refusal):
            return self._refuse(Stage.MAIL, address, after)
        auth = self.settings.auth
        if auth is not None and auth.required and self.auth_user is None:
            # The server's policy, not the client's mistake: no violation (RFC 4954 §6).
            needed = self._reply(530, "5.7.0", "Authentication required")
            return self._respond(Stage.MAIL, address, needed)
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
            self._declared_size = declared
            self._declared_8bit = _declares_8bit(m.group(3))

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
            self._data_lines = 0
            self._line_size = 0
            self._cr_pending = False
            self._told = {k for k in self._told if not k.startswith("message:")}

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

    def _starttls(self, arg: str) -> tuple[Action, ...]:
        if not self._tls.enabled:
            if self.settings.has_extension("STARTTLS"):  # advertised by hand, never performed
                busy = self._reply(454, "4.7.0", "TLS not available due to temporary reason")
                return self._respond(Stage.STARTTLS, arg, busy)
            off = self._reply(502, "5.5.1", "Error: command not implemented")
            return self._respond(Stage.STARTTLS, arg, off)
        if self.tls_active:
            detail = "STARTTLS with TLS already active (RFC 3207 §4.2)"
            self._violate("tls-already-active", detail, "STARTTLS")
            again = self._reply(503, "5.5.1", "Error: TLS already active")
            return self._respond(Stage.STARTTLS, arg, again)
        if arg:
            syntax = self._reply(501, "5.5.4", "Syntax: STARTTLS (no parameters allowed)")
            return self._respond(Stage.STARTTLS, arg, syntax)
        if self.settings.require_helo and not self.greeted:
            return self._refuse(Stage.STARTTLS, arg, HELO_FIRST)
        accepted: list[bool] = []
        ready = self._reply(220, "2.0.0", "Ready to start TLS")
        actions = self._respond(Stage.STARTTLS, arg, ready, lambda: accepted.append(True))
        # The upgrade follows a 220 that was sent whole, unless a fault already ended the
        # connection or shaped the handshake (tls_fail).
        if accepted and not any(isinstance(a, Close | Reset | StartTLS) for a in actions):
            actions = (*actions, StartTLS())
        return actions

    def _reset_transaction(self) -> None:
        self.phase = Phase.IDLE
        self.mail_from = ""
        self.rcpt_tos = []

    # -- AUTH (RFC 4954): the engine runs the SASL exchange, the wire only carries lines ------
    #
    # Each AUTH command gets exactly one reply that rules see (stage auth, argument the
    # mechanism): its verdict. The 334 challenges before it are the exchange itself. A positive
    # verdict authenticates, whether the credentials or a rule made it so.

    def _auth_command(self, arg: str) -> tuple[Action, ...]:
        word, _, initial = arg.partition(" ")
        mechanism, initial = word.upper(), initial.strip()
        auth = self.settings.auth
        if auth is None:
            off = self._reply(502, "5.5.1", "Error: authentication not enabled")
            return self._verdict(mechanism, None, off)
        if not self.esmtp:
            return self._refuse(Stage.AUTH, mechanism, EHLO_FIRST)
        if self.auth_user is not None:
            return self._refuse(Stage.AUTH, mechanism, AUTH_TWICE)
        after = transition("AUTH", self.phase)
        if isinstance(after, Refusal):
            return self._refuse(Stage.AUTH, mechanism, after)
        if not mechanism:
            syntax = self._reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]")
            return self._verdict(mechanism, None, syntax)
        if mechanism not in auth.mechanisms:
            unknown = self._reply(504, "5.5.4", "Unrecognized authentication type")
            return self._verdict(mechanism, None, unknown)
        if auth.require_tls and not self.tls_active:
            # Not advertised before TLS, so the client sent credentials it was not offered to.
            detail = f"AUTH {mechanism} in clear text; the server requires TLS"
            self._violate("auth-without-tls", detail, "AUTH")
            text = "Encryption required for requested authentication mechanism"
            return self._verdict(mechanism, None, self._reply(538, "5.7.11", text))
        exchange = _Exchange(mechanism)
        if not initial:
            return self._challenge(exchange, "" if mechanism == "PLAIN" else _USERNAME_PROMPT)
        # RFC 4954 §4: "=" is an initial response of zero length
        return self._auth_step(exchange, "" if initial == "=" else initial)

    def _auth_line(self, line: bytes, pipelined: bool) -> tuple[Action, ...]:
        """A line inside the exchange: a SASL response or "*", never a command."""
        exchange = self._auth
        assert exchange is not None, "Mode.AUTH without an exchange"
        text = line.rstrip(b"\r\n").decode("ascii", "replace").strip()
        self._record("client", "*" if text == "*" else AUTH_MASK)
        if pipelined:
            self._tell(
                "bad-pipelining",
                "an AUTH response was sent before the server's 334 challenge (RFC 4954 §4: AUTH "
                "ends a pipelined group, but for PLAIN with an initial response)",
                "AUTH",
            )
        if len(line) > AUTH_LINE_LIMIT:
            return self._auth_too_long()
        if text == "*":
            cancelled = self._reply(501, "5.0.0", "Authentication cancelled")
            return self._auth_end(exchange, cancelled)
        return self._auth_step(exchange, text)

    def _auth_too_long(self) -> tuple[Action, ...]:
        exchange = self._auth or _Exchange("")
        long = self._reply(500, "5.5.6", "Authentication Exchange line is too long")
        return self._auth_end(exchange, long)

    def _auth_step(self, exchange: _Exchange, response: str) -> tuple[Action, ...]:
        """One base64 client response: the next challenge or the verdict."""
        auth = self.settings.auth
        assert auth is not None, "an exchange only starts when AUTH is set up"
        data = _b64decode(response)
        if data is None:
            bad = self._reply(501, "5.5.2", "Cannot decode response")
            return self._auth_end(exchange, bad)
        if exchange.mechanism == "LOGIN" and exchange.user is None:
            named = _Exchange(exchange.mechanism, data.decode("utf-8", "replace"))
            return self._challenge(named, _PASSWORD_PROMPT)
        if exchange.mechanism == "PLAIN":
            # RFC 4616: [authzid] NUL authcid NUL passwd; acting for someone else is not allowed
            parts = [p.decode("utf-8", "replace") for p in data.split(b"\0")]
            authzid, user, password = parts if len(parts) == 3 else ("", None, "")
            ok = user is not None and authzid in ("", user) and auth.valid(user, password)
            exchange = _Exchange(exchange.mechanism, user)
        else:
            assert exchange.user is not None
            ok = auth.valid(exchange.user, data.decode("utf-8", "replace"))
        if ok:
            return self._auth_end(exchange, self._reply(235, "2.7.0", "Authentication successful"))
        invalid = self._reply(535, "5.7.8", "Authentication credentials invalid")
        return self._auth_end(exchange, invalid)

    def _challenge(self, exchange: _Exchange, challenge: str) -> tuple[Action, ...]:
        self._auth = exchange
        self.mode = Mode.AUTH
        line = f"334 {challenge}"  # "334 " for an empty challenge (RFC 4954 §4)
        self._record("server", line)
        return (Send(f"{line}\r\n".encode("ascii")),)

    def _auth_end(self, exchange: _Exchange, reply: Reply) -> tuple[Action, ...]:
        self._auth = None
        if self.mode is Mode.AUTH:
            self.mode = Mode.COMMAND
        return self._verdict(exchange.mechanism, exchange.user, reply)

    def _verdict(self, mechanism: str, user: str | None, reply: Reply) -> tuple[Action, ...]:
        def accept() -> None:
            self.auth_user = user or ""
            self.observer.authenticated(self.info, self.auth_user)

        return self._respond(Stage.AUTH, mechanism, reply, accept)

    # -- the message body ----------------------------------------------------------------------

    def _data_line(self, line: bytes, partial: bool, pipelined: bool) -> tuple[Action, ...]:
        if not partial:
            if self._data_lines == 0 and pipelined:
                # RFC 2920 §3.1: DATA ends a group; the content waits for the 354.
                self._pipelining("(message data)", pipelined, after="DATA")
            self._data_lines += 1
            self._line_size = 0
        if not partial and line in (b".\r\n", b".\n", b"."):
            self._line_endings(line, ".", message=True)
            self._record("client", f"(message data, {self._body_size} bytes)")
            self._record("client", ".")
            self._previous = "."
            return self._end_of_data()
        if line.startswith(b".") and not partial:
            line = line[1:]  # RFC 5321 §4.5.2 transparency
        self._body_size += len(line)
        self._text_line(line)
        # Bounded in memory whatever the client sends: past the cap, count but do not keep.
        if len(self._body) + len(line) <= self.settings.max_message_bytes:
            self._body += line
        cut = self._body_cut
        if cut is not None and self._body_size >= cut.after_bytes:
            self._body_cut = None
            self._record("client", f"(message data, {self._body_size} bytes so far)")
            return self._ending(cut.actions, cut.label)
        return ()

    def _text_line(self, piece: bytes) -> None:
        """What the client did wrong in one piece of message text (a line, or part of one)."""
        self._line_endings(piece, "(message data)", message=True)
        self._line_size += len(piece)
        if self._line_size > TEXT_LINE_LIMIT:
            self._tell(
                "line-too-long",
                f"a line of message text over {TEXT_LINE_LIMIT} octets with its CRLF "
                "(RFC 5321 §4.5.3.1.6)",
                "(message data)",
                per_message=True,
            )
        if piece.isascii() or "message:8bit-without-8bitmime" in self._told:
            return
        # RFC 6152 §3: 8-bit text needs both the extension and BODY=8BITMIME on MAIL.
        offered = self._advertised("8BITMIME")
        if not (offered and self._declared_8bit):
            how = "MAIL did not declare BODY=8BITMIME" if offered else "8BITMIME was not offered"
            self._tell(
                "8bit-without-8bitmime",
                f"8-bit octets in the message, but {how} (RFC 6152 §3)",
                "(message data)",
                per_message=True,
            )

    def _end_of_data(self) -> tuple[Action, ...]:
        self.mode = Mode.COMMAND
        self._body_cut = None
        declared = self._declared_size
        if declared is not None and self._body_size > declared + SIZE_SLACK:
            self._violate(
                "size-exceeded",
                f"the message has {self._body_size} octets; MAIL FROM declared SIZE={declared} "
                "(RFC 1870 §5)",
                ".",
            )
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

    def _tell(self, kind: str, detail: str, command: str, *, per_message: bool = False) -> None:
        """A violation told once per session (or once per message): floods stay bounded."""
        key = f"message:{kind}" if per_message else kind
        if key not in self._told:
            self._told.add(key)
            self._violate(kind, detail, command)

    # -- what the client did wrong -------------------------------------------------------------

    def _advertised(self, keyword: str) -> bool:
        """Whether the client was offered this extension in an EHLO reply."""
        keyword = keyword.upper()
        return self.esmtp and any(
            k.split(" ", 1)[0].upper() == keyword for k in self._ehlo_keywords()
        )

    def _pipelining(self, verb: str, pipelined: bool, after: str | None = None) -> None:
        """RFC 5321 §4.3.1: the client waits for each reply (the greeting first) unless
        PIPELINING was offered; RFC 2920 §3.1: and even then not after a group's last command."""
        previous = after if after is not None else self._previous
        if after is None:
            self._previous = verb
        if not pipelined:
            return
        if previous is None:
            self._tell(
                "early-talker",
                "the client sent before the server's greeting (RFC 5321 §4.3.1)",
                verb,
            )
            return
        what = "the final '.'" if previous == "." else previous or "an empty line"
        sent = f"{verb or 'an empty line'} was sent before the reply to {what}"
        if not self._advertised("PIPELINING"):
            self._tell(
                "pipelining-without-extension",
                f"{sent}, and PIPELINING was not advertised (RFC 5321 §4.3.1, RFC 2920)",
                verb,
            )
        elif previous in GROUP_ENDERS:
            self._tell(
                "bad-pipelining",
                f"{sent}, which must end a pipelined group (RFC 2920 §3.1)",
                verb,
            )

    def _line_endings(self, data: bytes, command: str, *, message: bool) -> None:
        """RFC 5321 §2.3.8: CR and LF only as a CRLF pair. ``data`` is a line or, in the message,
        a piece of one (a CR ending one piece may pair with an LF starting the next)."""
        if message:
            if self._cr_pending:
                data = b"\r" + data
            self._cr_pending = data.endswith(b"\r")
            if self._cr_pending:
                data = data[:-1]
        pairs = data.count(b"\r\n")
        where = "the message" if message else "a command"
        if data.count(b"\n") != pairs:
            self._tell(
                "bare-lf",
                f"a bare LF (no CR before it) in {where} (RFC 5321 §2.3.8, §4.1.1.4)",
                command,
                per_message=message,
            )
        if data.count(b"\r") != pairs:
            self._tell(
                "bare-cr",
                f"a bare CR (no LF after it) in {where} (RFC 5321 §2.3.8)",
                command,
                per_message=message,
            )

    def _transient(self, reply: Reply) -> None:
        """With ``server.retry_after``, a 4xx reply tells this client's IP when to come back."""
        wait = self.settings.retry_after
        if wait is None or not 400 <= reply.code < 500:
            return
        retry = self.shared.retry_not_before
        if len(retry) > 10_000:  # bounded: forget the clients already free to come back
            now = self.now()
            for ip in [ip for ip, t in retry.items() if t <= now]:
                del retry[ip]
        ip = client_ip(self.info.peer)
        retry[ip] = max(retry.get(ip, 0.0), self.now() + wait)


@dataclass(frozen=True)
class _Exchange:
    """An AUTH exchange under way."""

    mechanism: str
    user: str | None = None  # None until the client has given it


# LOGIN's challenges: base64 of "Username:" and "Password:"
_USERNAME_PROMPT = base64.b64encode(b"Username:").decode("ascii")
_PASSWORD_PROMPT = base64.b64encode(b"Password:").decode("ascii")


def _b64decode(text: str) -> bytes | None:
    """Strict base64 (RFC 4954 §4: reject characters outside the alphabet and inner padding)."""
    if len(text) % 4 or not _BASE64_RE.fullmatch(text):
        return None
    return base64.b64decode(text)


def _masked(text: str) -> str:
    """A command line as the transcript keeps it: an AUTH initial response carries secrets."""
    verb, _, rest = text.partition(" ")
    mechanism, _, initial = rest.strip().partition(" ")
    if verb.upper() != "AUTH" or not initial.strip():
        return text
    return f"{verb} {mechanism} {AUTH_MASK}"


def _declares_8bit(params: str) -> bool:
    """MAIL parameters that allow 8-bit message text: BODY=8BITMIME (RFC 6152), BODY=BINARYMIME
    (RFC 3030), SMTPUTF8 (RFC 6531: UTF-8 mail is 8-bit)."""
    for word in params.split():
        key, _, value = word.upper().partition("=")
        if (key == "BODY" and value in ("8BITMIME", "BINARYMIME")) or key == "SMTPUTF8":
            return True
    return False


def _size_param(params: str) -> int | None:
    for word in params.split():
        key, _, value = word.partition("=")
        if key.upper() == "SIZE" and value.isdigit():
            return int(value)
    return None
