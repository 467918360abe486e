"""One SMTP session, sans I/O: framed lines in, actions out.

connection.py frames the client's bytes into lines and feeds them here; the wire carries out the
actions that come back. It never touches a socket, a loop or a real clock, so every scenario is
testable without a network.

This module is the glue: events in, rules first, then the normal reply. The commands are in
commands.py, the SASL exchange in auth.py, the message body in body.py, and what the client did
wrong is judged in conduct.py.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from smtpfake.engine import bare_lf, bdat, commands, params

# AUTH_LINE_LIMIT and TEXT_LINE_LIMIT are re-exported ("as"): tests import them from here.
# (the SASL exchange, auth.py, loads with the first AUTH: commands.py)
from smtpfake.engine.auth_mask import AUTH_LINE_LIMIT as AUTH_LINE_LIMIT
from smtpfake.engine.auth_mask import (
    AUTH_MASK,
    answers_due,
    is_auth_line,
    said,
)
from smtpfake.engine.body import NOTHING_DECLARED, Body
from smtpfake.engine.clock import Clock, SystemClock
from smtpfake.engine.compiled import compiled
from smtpfake.engine.conduct import COMMAND_LINE_LIMIT, MESSAGE, Conduct, TextScan, scan_text
from smtpfake.engine.conduct import TEXT_LINE_LIMIT as TEXT_LINE_LIMIT
from smtpfake.engine.consult import FAILED, HOOKS, writes_codes
from smtpfake.engine.frozen import made
from smtpfake.engine.occurrence import Occurrence, client_ip
from smtpfake.engine.records import (
    DirectTranscript,
    Message,
    Observer,
    Outcome,
    QuickOutcome,
    QuickTranscript,
    SessionInfo,
    TranscriptEntry,
    Violation,
    new_info,
    new_message,
    none_each,
)
from smtpfake.engine.shared import Shared
from smtpfake.engine.state import Mode, Phase, Refusal, decide_on
from smtpfake.lazy_pattern import compiled_on_first_use
from smtpfake.scenario.model import Scenario, Stage, ehlo_keyword
from smtpfake.scenario.plan import (
    Action,
    BodyCut,
    Close,
    Consult,
    HalfClose,
    Note,
    Plan,
    Reset,
    Send,
    Sleep,
    StartTLS,
    wire_text,
)
from smtpfake.scenario.reply import Reply

if TYPE_CHECKING:
    import random

    from smtpfake.engine.auth import Exchange

#: RFC 3207 §4: what a server requiring TLS still answers before it (the rest get 530 5.7.0)
TLS_FREE = frozenset({"NOOP", "EHLO", "STARTTLS", "QUIT"})
#: the engine's timers (the wire arms them; see Session.timer_fired)
IDLE_TIMER = "idle"
CLOSE_AFTER_TIMER = "close_after"
#: whole lines where a bare CR ends one (``bare_cr: clean``): no CR is inside a line
_CR_LINES = compiled_on_first_use(rb"[^\r\n]*(?:\r\n|\r|\n)")
#: why the server closes open sessions itself (Session.shutting_down): the words the record uses
_SHUTDOWN_WORDS = {"stop": "stopping", "reset": "reset"}

#: the actions that end the connection (a reply's batch with one enters the close)
_CLOSING = (Close, Reset, HalfClose)
#: RFC 2034 §3: the replies that never carry an enhanced code
_NO_ENHANCED = frozenset({Stage.CONNECT, Stage.HELO, Stage.EHLO})

_STAGE_OF = {
    s.value.upper(): s for s in Stage if s not in (Stage.CONNECT, Stage.END_OF_DATA, Stage.ANY)
}

Accept = Callable[[], None] | None
#: a transcript entry held back (Session.held): the input octets to be read before it is
#: recorded (Session.hold_to), then note()'s arguments
Held = tuple[int, float, str, str, str | None, tuple[Any, ...] | None]
#: commands whose handler answers "530 5.7.0" itself (BDAT reads its chunk first, RFC 3030 §2)
_TLS_OWN = TLS_FREE | {"BDAT"}
#: command lines that passed Session.receive()'s checks whole (one CRLF, not too long, a known
#: verb, no NUL; never AUTH), by the line: (text, verb, stripped argument, handler). A client
#: sends the same few lines again and again; the lookup costs about a tenth of decoding, splitting
#: and checking one (bounded: cleared when full)
_PLAIN_LINES: dict[bytes, tuple[str, str, str, commands.Handler]] = {}
_PLAIN_LINES_MAX = 1024
#: lines of message text after the server's close recorded one by one; the rest are counted
TEXT_SHOWN = 20


# The enum members this module reads on every command, as module globals: on Python 3.10 and
# 3.11 ``Mode.DATA`` is a class attribute read through EnumType.__getattr__'s slow hook (about
# ten times a global's cost; instructions per message of serve under smtp-source: -4.9%)
_MODE_AUTH = Mode.AUTH
_MODE_CLOSED = Mode.CLOSED
_MODE_COMMAND = Mode.COMMAND
_MODE_DATA = Mode.DATA
_PHASE_IDLE = Phase.IDLE
_STAGE_BDAT = Stage.BDAT
_STAGE_CONNECT = Stage.CONNECT
_STAGE_EHLO = Stage.EHLO
_STAGE_END_OF_DATA = Stage.END_OF_DATA
_STAGE_HELO = Stage.HELO
_STAGE_MAIL = Stage.MAIL
_STAGE_STARTTLS = Stage.STARTTLS
_STAGE_UNKNOWN = Stage.UNKNOWN


class Session:
    """One connection. Its public attributes are what the command handlers (commands.py) and
    the tests read and change; the wire only calls the event methods."""

    # slots: a session per connection, and ten thousand idle ones must stay small
    __slots__ = (
        "__weakref__",
        "_asked",
        "_awaiting",
        "_compiled",
        "_direct",
        "_enhanced",
        "_greet_after_tls",
        "_hidden",
        "_quick_outcome",
        "_rng",
        "_seed",
        "_tls",
        "_tls_required",
        "arrived",
        "auth_after_close",
        "auth_seen",
        "auth_user",
        "body",
        "chunk",
        "chunked",
        "clock",
        "closed_count_at",
        "closed_counted",
        "conduct",
        "connection",
        "counts",
        "declared",
        "entries",
        "entries_room",
        "entry_chars",
        "esmtp",
        "exchange",
        "greeted",
        "greeting_at",
        "held",
        "helo_name",
        "hold_to",
        "hooks",
        "index",
        "info",
        "mail_from",
        "mode",
        "observer",
        "phase",
        "quick",
        "quit_seen",
        "rcpt_options",
        "rcpt_tos",
        "scenario",
        "settings",
        "shared",
        "silent_close",
        "text_after_close",
        "text_counted",
        "tls_active",
        "tls_pending",
        "transactions",
        "unasked_at",
        "unasked_close",
        "unsolicited_close",
    )

    def __init__(
        self,
        scenario: Scenario,
        shared: Shared,
        observer: Observer,
        *,
        peer: str = "",
        clock: Clock | None = None,
        hooks: frozenset[str] = frozenset(),
    ) -> None:
        self.scenario = scenario
        self._compiled = compiled(scenario)  # rules and settings worked out once per scenario
        # the user's handler's reply-deciding hooks (consult.HOOKS names) and, while one is
        # asked, what to do with its answer
        self.hooks = hooks
        self._awaiting: Callable[[Reply | None], tuple[Action, ...]] | None = None
        self._asked: Reply | None = None  # the normal reply the handler was asked about
        self.settings = scenario.server
        self.shared = shared
        self.observer = observer
        # the observer's quicker way in for rule outcomes (records.QuickOutcome), if it has one
        # and the scenario has rules (only they have outcomes)
        self._quick_outcome: QuickOutcome | None = (
            getattr(observer, "quick_outcome", None) if self._compiled.selectors else None
        )
        self.clock = clock or SystemClock()
        # The journal's number (unique since the reset) and the rules' (since the scenario switch)
        self.index = shared.next_session()
        self.connection = shared.next_connection()
        # The server picks it (use(seed=), --seed, then the scenario's); alone, the scenario's.
        self._seed = shared.seed if shared.seed is not None else (scenario.seed or 0)
        # One RNG per connection: the same seed and traffic give the same faults even when
        # sessions interleave differently from run to run. Made on first use (a Mersenne
        # Twister is a few KiB; most sessions never draw).
        self._rng: random.Random | None = None
        self.info = new_info(self.index, peer, self.clock.now())  # SessionInfo(...), made quicker
        # when the last octet of the input being handled arrived (connection.py sets it: one
        # clock reading per read, not per line; at the end, the client's close): the time of
        # its transcript entry, its violations and its rules' outcomes; None: now (a session
        # fed lines directly)
        self.arrived: float | None = None
        # entries held back while lines that arrived before them wait to be read (Connection
        # holds them: _hold_back), None when none are; each waits for this many octets read
        self.held: list[Held] | None = None
        self.hold_to = 0
        self.mode = _MODE_COMMAND
        self.phase = _PHASE_IDLE
        self.greeted = False
        self.esmtp = False  # greeted with EHLO: extensions such as AUTH may be used
        self.helo_name = ""  # the name the client gave in its accepted HELO/EHLO
        self.tls_active = False  # set once TLS is up; AUTH with require_tls waits for it
        self.tls_pending = False  # a handshake is due: the client speaks TLS now, not SMTP
        self._tls = self.settings.tls
        self._tls_required = self._tls.enabled and self._tls.required
        self._greet_after_tls = False  # implicit TLS: the greeting waits for the handshake
        self.auth_user: str | None = None  # who AUTH succeeded for ("" if no name was given)
        self.exchange: Exchange | None = None  # the AUTH exchange under way, in Mode.AUTH
        # The server closed in the middle of an AUTH exchange (a timer, a stop): the client's
        # next lines, sent before it reads the close, are still its answers to the last 334
        # (they carry the password): how many more are recorded masked (:meth:`_cut_exchange`)
        self.auth_after_close = 0
        # the client sent an AUTH line (any, refused or not): a line it sends from now on that
        # is no command may be a SASL answer the server reads as one, recorded masked
        # (auth_mask.masked)
        self.auth_seen = False
        # (the line, what the record keeps of it) while a line the record masks is answered:
        # rules match the line, outcomes and near misses record what is kept (_explain)
        self._hidden: tuple[str, str] | None = None
        self.quit_seen = False
        # RFC 5321 §3.8: after an unsolicited 421 the client "will normally read the 421
        # response code after sending its next command": that one is not held against it.
        self.unsolicited_close = False
        # the server closed on its own (a timer, a stop), not in a reply to a command: what the
        # client sent ahead of that close was not pipelined behind a reply
        self.unasked_close = False
        self.unasked_at = 0.0  # when it did (a line whose end came before was ahead of it)
        # when the first reply (the greeting, or what came instead) had its last octet handed to
        # the socket: a line that arrived before it is early talk, whatever closed the session
        self.greeting_at: float | None = None
        # The server closed while the client was sending message text (DATA): what the client
        # still sends up to its final "." is that text, sent before it reads any reply (RFC
        # 5321 §4.1.1.4), recorded under a note that says so (:meth:`_text_after_close`):
        # 0 none expected, 1 expected (no note yet), 2 the note is recorded
        self.text_after_close = 0
        # that text's lines: how many were recorded, then how many more and their octets, counted
        # in one note (:meth:`_text_count`): a big message cut must not push the session out of
        # its own transcript (fresh14 N6)
        self.text_counted = [0, 0, 0]
        # the same for command lines after the server's close (lines read in the grace period,
        # fresh16 F4): recorded one by one up to TEXT_SHOWN, then counted in bulk by the
        # connection (:meth:`count_after_close`), in one note
        self.closed_counted = [0, 0, 0]
        # and when the lines counted came: the last read that brought some (never before the
        # server's close, recorded before them), for the note's stamp (fresh18 N2)
        self.closed_count_at: float | None = None
        # a close after a silence (abort's seconds) in a message: its text is the message's until
        # the close goes out (Connection.performed calls :meth:`silently_closed` then)
        self.silent_close = False
        # a plain dict (Counter's constructor is Python code, once a connection)
        self.counts: dict[Stage, int] = {}
        self.transactions = 0  # mail transactions begun (MAIL accepted): the ``message`` fact
        self.mail_from = ""
        self.rcpt_tos: list[str] = []
        # each accepted RCPT's parameters as the client wrote them, aligned with rcpt_tos
        # (Message.rcpt_options); None while no recipient had any: most transactions, which
        # then make no list (MAIL's are declared.options)
        self.rcpt_options: list[tuple[str, ...]] | None = None
        self.declared = NOTHING_DECLARED  # what the last accepted MAIL said about its message
        self.body = Body(self.settings.max_message_bytes)  # the current (or last) message
        self.chunk: bdat.Chunk | None = None  # the BDAT chunk being read (RFC 3030)
        self.chunked = False  # the open transaction's message comes in BDAT chunks
        # Through a weak proxy: the session itself would make session and judge a reference cycle,
        # and every finished session garbage that only the cyclic collector frees (those
        # collections took up to a fifth of the server's own time per session).
        self.conduct = Conduct(weakref.proxy(self))
        self._enhanced = self._compiled.enhanced
        observer.started(self.info)
        # the observer's quickest way in (records.DirectTranscript): the journal's list of this
        # session's entries, appended to here with no call, up to ``entries_room`` entries of at
        # most ``entry_chars`` characters; None: every entry goes through note()'s slower ways
        self._direct: Callable[[SessionInfo], DirectTranscript | None] | None = getattr(
            observer, "direct_transcript", None
        )
        self.entries: list[tuple[object, ...]] | None = None
        self.entries_room = self.entry_chars = 0
        # else its quicker way in for entries delivered whole (records.QuickTranscript), if any
        self.quick: QuickTranscript | None = None
        if self._direct is not None:
            self._room()
        else:
            self.quick = getattr(observer, "quick_transcript", None)

    # -- FaultContext ------------------------------------------------------------------------

    @property
    def rng(self) -> random.Random:
        if self._rng is None:
            import random  # with the first draw: a scenario without one never loads it

            self._rng = random.Random(f"{self._seed}:{self.connection}")
        return self._rng

    def now(self) -> float:
        return self.clock.now()

    # -- events in ---------------------------------------------------------------------------

    def connect(self) -> tuple[Action, ...]:
        """The client connected: the greeting (enhanced codes never go on a greeting)."""
        holds = self.shared.retry_not_before  # empty unless server.retry_after is set
        if holds:  # (empty: no call to reconnected(), which would tell nothing)
            not_before = holds.get(client_ip(self.info.peer))
            self.conduct.reconnected(self.clock.now(), not_before)
        if self._tls.enabled and self._tls.implicit:
            # Implicit TLS: the handshake comes first. It is the occurrence of the starttls stage
            # (so rules there can break it); the greeting follows in tls_started().
            self._greet_after_tls = True
            self.tls_pending = True
            return self.respond(_STAGE_STARTTLS, "", Plan(None, after=(StartTLS(),)))
        return self._greeting()

    def _greeting(self) -> tuple[Action, ...]:
        return self.respond(_STAGE_CONNECT, "", self._compiled.greeting)

    def tls_started(
        self, version: str, cipher: str, before: float | None = None
    ) -> tuple[Action, ...]:
        """The wire completed the TLS handshake. RFC 3207 §4.2: the session starts over as after
        the greeting, and nothing learnt from the client before TLS is kept (HELO/EHLO, AUTH, an
        open transaction). With implicit TLS, the greeting goes out now. ``before`` (clock
        seconds): when the client's first octets over TLS arrived, if they did before the wire
        was told (the note is stamped no later, so the transcript stays in time order)."""
        self.tls_active = True
        self.tls_pending = False
        self.greeted = False
        self.helo_name = ""
        self.esmtp = False
        self.auth_user = None
        self.reset_transaction()
        now = self.clock.now()
        when = now if before is None or before > now else before
        self.record("server", f"(TLS established: {version}, {cipher})", time=when, note=True)
        self.observer.secured(self.info, version, cipher)
        if self._greet_after_tls:
            self._greet_after_tls = False
            return self._greeting()
        return ()

    def tls_failed(self, reason: str) -> None:
        """The TLS handshake did not complete; the wire has closed the connection. The client
        could not have sent QUIT, so none is expected."""
        self.tls_pending = False
        if self.mode is _MODE_CLOSED:
            return
        self.mode = _MODE_CLOSED
        self.record("server", f"(TLS handshake failed: {reason}; connection closed)", note=True)

    def handshake_not_read(self, data: bytes) -> None:
        """Octets the client sent after the server broke its TLS handshake off (``tls_fail``:
        plain text, a close): recorded as a note with their count, when they arrived, and not
        read. The first TLS record's type (RFC 8446 §5.1) is named: a ClientHello is a
        handshake record, what a client says as it gives up an alert."""
        self.arrived = self.clock.now()
        kind = _TLS_RECORD.get(data[0], "") if data else ""
        what = f"starting with a TLS {kind} record" if kind else "not TLS"
        note = f"({len(data)} octets, {what}: not read, the server broke TLS off)"
        self.heard(note, note=True)

    def discarded_before_tls(self, size: int) -> None:
        """The wire dropped what the client sent after STARTTLS but before its handshake: it
        must not be read as if it came over TLS (the STARTTLS command injection of
        CVE-2011-0411)."""
        self.heard(f"({size} bytes after STARTTLS, before the handshake: discarded)", note=True)
        self.violate(
            "sent-before-tls",
            "the client sent data after STARTTLS before starting TLS (RFC 3207 §4)",
            "STARTTLS",
        )

    def receive(
        self, line: bytes, partial: bool = False, pipelined: bool = False
    ) -> tuple[Action, ...]:
        """One line from the client, with its line ending. ``partial``: this continues a data
        line begun in an earlier call (an over-long line arrives in pieces; only the first piece
        starts the line, so only it is dot-unstuffed or can be the final "."). ``pipelined``: the
        wire already held (part of) this line when the server sent its previous reply (the
        greeting, for the first line), so the client did not wait for that reply."""
        mode = self.mode
        if mode is _MODE_DATA:
            return self._data_line(line, partial, pipelined)
        if mode is _MODE_AUTH:
            return commands.auth_line(self, line, pipelined)
        if mode is _MODE_CLOSED and self.auth_after_close:
            return self._answer_after_close(line, pipelined)
        known = _PLAIN_LINES.get(line) if type(line) is bytes else None
        if known is not None:  # a plain command line met before: its parts, checked then
            text, verb, arg, handler = known
            shown, name = text, verb
        else:
            # the line ending off (CRLF, a bare LF, or with bare_cr clean a bare CR): a CR
            # before it is the client's, so the transcript shows it; the command is read
            # without it (white space, as in Postfix)
            if line.endswith(b"\r\n"):
                stripped = line[:-2]
            elif line.endswith(b"\r"):  # (only a line a bare CR ended comes so: clean)
                stripped = line[:-1]
            else:
                stripped = line.rstrip(b"\n")
            text = stripped.decode("utf-8", "surrogateescape")
            word, _, arg = (text.rstrip("\r") if text.endswith("\r") else text).partition(" ")
            # (ASCII only: str.upper() makes QUIT of "qu<dotless i>t"; no command is anything else)
            verb = word.upper() if word.isascii() else word
            # what the record keeps of the line (``shown``) and the command it names (``name``):
            # never a secret, in any of the records (auth_mask.said)
            if verb in commands.COMMANDS and verb != "AUTH":
                shown, name = text, verb  # (nearly every line)
            else:
                # an AUTH line, however malformed, and from it on any line that is no command
                # (an answer the server reads as one): masked (auth_mask.masked)
                if is_auth_line(text):
                    self.auth_seen = True
                shown, name = said(text, self.auth_seen)
        when = self.arrived  # heard(), inline: every command
        if when is None:
            when = self.clock.now()
        if mode is _MODE_CLOSED and self.text_after_close:
            if self.text_after_close == 1:
                self._text_after_close(when)
            elif self._text_count(line, when):
                return ()  # counted, not recorded
        elif mode is _MODE_CLOSED and self.closed_counted[1]:
            self.text_count_ended(when)  # the lines counted came before this one
        entries = self.entries
        if (
            entries is not None
            and len(entries) < self.entries_room
            and len(shown) <= self.entry_chars
        ):
            entries.append((when, "client", shown, None))
        else:
            self.note(when, "client", shown, None)
        if mode is _MODE_CLOSED:
            in_text = self.text_after_close  # (a line of message text: no command)
            if not in_text:
                self.closed_counted[0] += 1
            whole = line.endswith((b"\n", b"\r"))
            self._after_close(name, shown, when, pipelined, whole=whole)
            if verb == "BDAT" and whole and not in_text:
                bdat.command_after_close(self, arg)  # its chunk is counted, not read as lines
            elif verb == "AUTH" and whole and not in_text and self.settings.auth is not None:
                # no exchange opens now, but a client that pipelines its answers behind the AUTH
                # sends its secrets all the same: masked as in a cut exchange
                self.auth_after_close = answers_due(arg, self.settings.auth.mechanisms)
            return ()
        conduct = self.conduct
        if pipelined:
            conduct.command(name, pipelined)
        else:  # conduct.command()'s whole work for a command sent in turn (nearly all)
            conduct.previous, conduct.pipelined = name, False
        if known is None:
            plain = True
            if (  # not one CRLF at the end, nor a CR or LF before it (bytes.count costs more)
                len(line) - len(stripped) != 2
                or line[-2] != 13
                or line[-1] != 10
                or "\r" in text
                or "\n" in text
            ):
                plain = False
                conduct.line_endings(line, name, message=False)
                refused = bare_lf.refusal(self.settings, line)  # the server's policy (bare_lf.py)
                if refused is not None:
                    if verb == "BDAT":  # its chunk is read and discarded first (RFC 3030 §2)
                        return bdat.command(self, arg.strip(), refused)
                    ours = verb in _STAGE_OF
                    stage = _STAGE_OF[verb] if ours else _STAGE_UNKNOWN
                    if ours:
                        return bare_lf.refuse(self, stage, _argument(shown), refused)
                    return self._unknown(text, shown, bare_lf.refusal_plan(self, refused))
            if len(line) > COMMAND_LINE_LIMIT:
                self.conduct.command_too_long(name, len(line))
                too_long = self.reply(500, "5.5.6", "Line too long")
                return self._unknown(text, shown, too_long)
            found = commands.COMMANDS.get(verb)
            if found is None:
                # The echo is sanitised: a reply must stay one line of text whatever was sent;
                # none for a line the record masks (its secret is not sent back, nor recorded
                # as the reply)
                if not word:
                    what = "Error: bad syntax"
                elif shown is not text:
                    what = "Error: command not recognized"
                else:
                    echo = "".join(c if " " < c < "\x7f" else "?" for c in word[:64])
                    what = f'Error: command "{echo}" not recognized'
                return self._unknown(text, shown, self.reply(500, "5.5.2", what))
            handler = found
            if "\x00" in arg:  # no command allows one (RFC 5321 §2.4, §4.1.2): told, not obeyed
                kept = _argument(shown)
                return params.refuse(self, _STAGE_OF[verb], kept, params.NUL_IN_COMMAND)
            arg = arg.strip()
            # AUTH's never: its line may carry a secret (the transcript masks it)
            if plain and verb != "AUTH" and type(line) is bytes:
                if len(_PLAIN_LINES) >= _PLAIN_LINES_MAX:
                    _PLAIN_LINES.clear()
                _PLAIN_LINES[line] = (text, verb, arg, handler)
        if self._tls_required and not self.tls_active and verb not in _TLS_OWN:
            # RFC 3207 §4: the server's policy, not the client's mistake, so no violation
            first = self.reply(530, "5.7.0", "Must issue a STARTTLS command first")
            return self.respond(_STAGE_OF[verb], _argument(shown) if verb == "AUTH" else arg, first)
        return handler(self, arg)

    def _unknown(self, text: str, shown: str, reply: Plan | Reply) -> tuple[Action, ...]:
        """The reply to a line that is no command (``text``; ``shown``: what the record keeps
        of it): rules on the unknown stage match the line as sent, while outcomes and near
        misses record ``shown`` (a line after AUTH may carry the password)."""
        if shown is text:
            return self.respond(_STAGE_UNKNOWN, text, reply)
        self._hidden = (text, shown)
        try:
            return self.respond(_STAGE_UNKNOWN, text, reply)
        finally:
            self._hidden = None

    def _kept(self, text: str) -> tuple[str, str]:
        """What the record keeps of a command line that :meth:`receive` does not hold whole (an
        over-long one's head, an unfinished one, one counted after the close) and the command it
        names (auth_mask.said); an AUTH line makes the lines after it masked, as one held whole
        does."""
        if is_auth_line(text):
            self.auth_seen = True
        return said(text, self.auth_seen and _not_a_command(text))

    def _after_close(
        self, verb: str, shown: str, when: float, pipelined: bool, *, whole: bool = True
    ) -> None:
        """Judge a line the client sent once the server had closed the session (its last reply
        decided: a 221, any 421, a fault's close), recorded already, never answered. ``when``:
        its arrival; ``pipelined``: (part of) it came before that reply was written whole;
        ``whole``: its line ending came (False: the connection's end cut it short, so it was
        never a command: no pipelining to judge, RFC 5321 §2.3.8).

        After a close in the middle of a message the client's lines up to its final "." are
        that message's text, sent before it reads any reply (RFC 5321 §4.1.1.4): none of them
        is judged; the "." is its next command (RFC 5321 §3.8: after an unsolicited 421, the
        one it may send before reading the 421), judged as any line after the close."""
        if self.text_after_close:
            if not (whole and shown == "."):
                return
            self.text_after_close = 0
            if not self.unsolicited_close or (pipelined and when < self.unasked_at):
                # a silent close, or a "." that came before the 421 went out: it ends the text
                # the client could not stop; what follows is judged as after any message's end
                self.conduct.previous = "."
                return
            self.unsolicited_close = False  # the "." is the command §3.8 forgives
            return
        if (
            self.conduct.previous is None
            and pipelined
            and (not self.unasked_close or self.greeting_at is None or when < self.greeting_at)
        ):
            # Sent during a greeting that never came or was still being written (a hang, a
            # close at connect, a close_after during a delayed greeting); not ahead of a 421
            # the server sent unasked after its greeting
            self.conduct.pipelining(verb, pipelined)
        elif pipelined and not whole:
            # a line begun before the server's last reply and cut off by the server's close:
            # the client stops writing once it reads it (§3.8)
            return
        elif pipelined and (not self.unasked_close or when < self.unasked_at):
            # sent before the reply that closed was complete (an unasked 421 too, one that
            # replaced a reply these lines waited behind): the client could not know of the
            # close, so it is judged as what it is, a pipelined command (RFC 2920 §3.1); nor
            # is it the command §3.8 forgives, the first one sent after the 421 went out
            self.conduct.command(verb, pipelined)
        elif self.unsolicited_close:
            self.unsolicited_close = False  # RFC 5321 §3.8: the one command it may send
        elif pipelined:
            # begun before the unasked 421, ended after it: after the one command §3.8 forgives
            self.conduct.tell(  # (once a session, as every kind but a few: a flood is bounded)
                "sent-after-close",
                "the client sent another command after the one it may send before reading "
                "the server's unsolicited 421 (RFC 5321 §3.8)",
                shown,
            )
        else:
            self.conduct.tell(
                "sent-after-close", "the client kept sending after the server closed", shown
            )

    def line_too_long(
        self,
        head: bytes = b"",
        size: int | None = None,
        *,
        ended: bool = False,
        pipelined: bool = False,
    ) -> tuple[Action, ...]:
        """The client sent a command (or AUTH) line longer than the reader would hold, discarded
        as it came: recorded as its first octets (``head``) and ``size``, its octets in all with
        the line ending (None: not counted). ``ended``: the connection's end cut it before its
        LF, so it was never sent whole (RFC 5321 §2.3.8): judged, not answered. ``pipelined``:
        as for :meth:`receive`; a line that ends is judged as the command it starts with, as
        one the reader holds is (and the next command's pipelining against it)."""
        auth = self.mode is _MODE_AUTH or self.auth_after_close > 0
        text = head.decode("utf-8", "surrogateescape")
        kept, name = self._kept(text)
        if self.mode is _MODE_CLOSED:
            if self.text_after_close == 1:
                self._text_after_close(self.clock.now() if self.arrived is None else self.arrived)
            self.text_count_ended(self.arrived)  # (lines counted after the close: before it)
        if size is None:
            self.heard("(over-long line, discarded)", unfinished=ended)
        else:
            shown = AUTH_MASK if auth else kept
            self.heard(
                f"{shown}... (over-long line of {size:,} octets, discarded)", unfinished=ended
            )
        verb = "AUTH" if auth else name[:64]
        if self.mode is _MODE_CLOSED:  # after the server's last reply: judged, never answered
            when = self.clock.now() if self.arrived is None else self.arrived
            in_text = self.text_after_close  # a line of message text after the close: not judged
            self._after_close(verb, AUTH_MASK if auth else verb, when, pipelined, whole=not ended)
            if auth:  # an answer in the cut exchange (an exchange line has its own limit)
                self.auth_after_close -= 1
            elif not in_text:
                self.conduct.command_too_long(verb, size)
            return ()
        if ended:  # (never sent whole: no command, so no pipelining to judge, as unterminated())
            self.conduct.unterminated(verb)
            if not auth:
                self.conduct.command_too_long(verb, size)
            return ()
        if not auth:
            self.conduct.command(verb, pipelined)
        elif pipelined:
            commands.response_ahead(self)
        if auth:
            return commands.auth_too_long(self)
        self.conduct.command_too_long(verb, size)
        return self.respond(_STAGE_UNKNOWN, "", self.reply(500, "5.5.6", "Line too long"))

    def unterminated(self, fragment: bytes, *, partial: bool, pipelined: bool) -> None:
        """What the client sent last without a line ending (``fragment``, no LF in it), when the
        connection's end means the rest never comes. A line ends in CRLF (RFC 5321 §2.3.8), so
        a command without it was never sent: recorded and judged, neither carried out nor
        answered; recorded as unfinished (``delivered`` False). In the message it is text,
        counted in the unfinished message (``partial``: it continues a line begun in an earlier
        piece). After the server's close it is judged as any line then (:meth:`_after_close`):
        not ``unterminated-line``, which is the client's own close in the middle of a line."""
        mode = self.mode
        if mode is _MODE_DATA:
            piece = self.body.add_unfinished(fragment, partial)
            self.conduct.text_line(piece, partial=partial, declared_8bit=self.declared.eight_bit)
        elif mode is _MODE_AUTH:
            self.heard(AUTH_MASK, unfinished=True)
            self.conduct.unterminated("AUTH")
        elif mode is _MODE_CLOSED and self.auth_after_close:
            self.auth_after_close -= 1  # an answer in the cut exchange, its line ending never came
            self.heard(AUTH_MASK, unfinished=True)
            when = self.clock.now() if self.arrived is None else self.arrived
            self._after_close("AUTH", AUTH_MASK, when, pipelined, whole=False)
        else:
            text = fragment.decode("utf-8", "surrogateescape")
            shown, verb = self._kept(text)
            if mode is _MODE_CLOSED:
                if self.text_after_close == 1:
                    self._text_after_close(
                        self.clock.now() if self.arrived is None else self.arrived
                    )
                self.text_count_ended(self.arrived)  # (lines counted after the close: before it)
            self.heard(shown, unfinished=True)
            if mode is _MODE_CLOSED:  # the server had closed: judged as any line then
                when = self.clock.now() if self.arrived is None else self.arrived
                self._after_close(verb, shown, when, pipelined, whole=False)
                return
            # unterminated-line, at least
            self.conduct.line_endings(fragment, verb, message=False, ended=False)
            if len(fragment) > COMMAND_LINE_LIMIT:
                self.conduct.command_too_long(verb, len(fragment))

    def left_in_message(self, closed: float) -> None:
        """The connection's end came before the message's final "." (RFC 5321 §4.1.1.4): how
        much text came, stamped at ``closed`` (clock seconds), the close that ended the
        message (a whole message is stamped at its "."); the message is not accepted."""
        text = self.body.unfinished()
        if text is not None:  # (nothing after the 354: the close's own entry says it)
            self.note(closed, "client", text, None, _NOTED)
        self.mode = _MODE_COMMAND
        self.reset_transaction()

    def _record_unfinished(self) -> None:
        """The server's own end of the connection (a stop, a reset, a timer) cut the message
        short: its text so far, if the client sent any (see :meth:`Body.unfinished`)."""
        text = self.body.unfinished()
        if text is not None:
            self.record("client", text, note=True)

    def internal_error(self) -> tuple[Action, ...]:
        """smtpfake itself failed (the wire layer reports the exception): a 451 and the close, so
        the client sees a transient failure, not a hang. No rule applies to it."""
        if self.mode is _MODE_CLOSED:
            return ()
        if self.mode is _MODE_AUTH:
            self._cut_exchange()
        self.mode = _MODE_CLOSED  # first: the server ended it, the client is not blamed
        data = self.reply(451, "4.3.0", "smtpfake internal error, see the test report").render()
        return (Send(data, Note(wire_text(data))), Close(Note("(connection closed)")))

    def _text_after_close(self, when: float) -> None:
        """The first line of message text after the server's close: the note that says what
        the lines after it up to the final "." are (their octets as lines, as they came)."""
        self.text_after_close = 2
        self.text_counted = [0, 0, 0]
        self.note(when, "client", "(message text after the close)", None, _NOTED)

    def _text_count(self, line: bytes, when: float) -> bool:
        """A line of message text after the close (``line``, as read): whether it is counted
        rather than recorded, past the first :data:`TEXT_SHOWN`; its "." (the text's end) is
        recorded, after the count's note."""
        counted = self.text_counted
        if line in (b".\r\n", b".\n") or (line.endswith(b"\r") and line[:-1] == b"."):
            self.text_count_ended(when)
            return False
        if counted[0] < TEXT_SHOWN:
            counted[0] += 1
            return False
        counted[1] += 1
        counted[2] += len(line)
        return True

    def text_count_ended(self, when: float | None = None) -> None:
        """The text after the close ends (its ".", another entry, the connection's end: at
        ``when``; None: now): the lines counted, not recorded, in one note."""
        counted = self.text_counted
        if counted[1]:
            text = (
                f"(message text after the close: {counted[1]:,} more lines, "
                f"{counted[2]:,} octets, not shown)"
            )
            self.note(self.clock.now() if when is None else when, "client", text, None, _NOTED)
        counted[1] = counted[2] = 0
        closed = self.closed_counted
        if closed[1]:
            text = f"(after the close: {closed[1]:,} more lines, {closed[2]:,} octets, not shown)"
            at = self.clock.now() if when is None else when
            came = self.closed_count_at
            if came is not None and came < at:
                at = came  # stamped when they came, as every line is
            self.note(at, "client", text, None, _NOTED)
            closed[1] = closed[2] = 0
            self.closed_count_at = None

    def count_after_close(
        self,
        lines: int,
        octets: int,
        first: tuple[bytes, float, bool],
        last: tuple[bytes, float, bool],
        came: float,
    ) -> None:
        """``lines`` whole command lines (``octets`` in all) read after the server's close,
        past the first :data:`TEXT_SHOWN` recorded: counted, not recorded (a flood read in the
        grace period must not hold the loop for seconds, nor push the session out of its
        transcript: fresh16 F4). Judged by their ``first`` and ``last`` line (each: the line,
        its arrival, whether it came ahead of the closing reply), which tells what judging
        each would: ``sent-after-close`` is told once a session, and the lines that came ahead
        of the close come first. ``came``: when they came, the note's stamp
        (:meth:`text_count_ended`): the last one's arrival, or the server's close if later
        (lines read ahead of it: the close's entry is recorded before them, and the
        transcript is in time order)."""
        self.closed_count_at = came
        counted = self.closed_counted
        counted[1] += lines
        counted[2] += octets
        for line, when, pipelined in (first, last) if lines > 1 else (first,):
            text = line.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
            shown, verb = self._kept(text)
            self._after_close(verb, shown, when, pipelined)

    def silently_closed(self, when: float | None = None) -> None:
        """The close after a silence in a message (:attr:`silent_close`) goes out now (or its
        final "." came, at ``when``): the text before is the unfinished message; what follows
        is after the close."""
        self.silent_close = False
        if self.mode is _MODE_DATA:  # (_closing_in_message, at ``when``)
            text = self.body.unfinished()
            if text is not None:  # (as the text-after-close note that may follow it)
                self.note(self.clock.now() if when is None else when, "client", text, None, _NOTED)
            self.text_after_close = 1
        self.mode = _MODE_CLOSED

    def _end_in_silence(self, line: bytes, pipelined: bool) -> tuple[Action, ...]:
        """The final "." came in abort's silence after the 354 (fresh10 F8): the server reads
        no end it never answers; the message is cut there, unfinished, and the "." and what
        follows are text after the close, as when the close came first."""
        self.silently_closed(self.arrived)
        return self.receive(line, pipelined=pipelined)

    def _closing_in_message(self) -> None:
        """The server closes now: a message being sent (DATA) is cut, its text so far recorded
        as unfinished; what text the client still sends is labelled (text_after_close)."""
        if self.mode is _MODE_DATA:
            self._record_unfinished()
            self.text_after_close = 1
        elif self.mode is _MODE_AUTH:
            self._cut_exchange()

    def _cut_exchange(self) -> None:
        """The server closes in the middle of an AUTH exchange: the client answers the last 334
        before it reads the close, and a client that sends LOGIN's two answers without waiting
        for "334 Password:" (it should wait, RFC 4954 §4) sends the password too. Those lines
        are recorded masked, as in the exchange (:meth:`_answer_after_close`)."""
        exchange = self.exchange
        self.auth_after_close = 1
        if exchange is not None and exchange.mechanism == "LOGIN" and exchange.user is None:
            self.auth_after_close = 2  # LOGIN at "Username:": the user name, then the password
        self.exchange = None

    def _answer_after_close(self, line: bytes, pipelined: bool) -> tuple[Action, ...]:
        """A line the client sent after the server closed in the middle of an AUTH exchange:
        its answer to the last 334, so masked as the exchange's lines are (the password never
        reaches a log), and judged as any line after the close, never answered."""
        cancel = line.rstrip(b"\r\n").strip() == b"*"  # it gave up: no answer follows
        self.auth_after_close = 0 if cancel else self.auth_after_close - 1
        shown = "*" if cancel else AUTH_MASK
        self.heard(shown)
        when = self.clock.now() if self.arrived is None else self.arrived
        self._after_close("AUTH", shown, when, pipelined, whole=line.endswith((b"\n", b"\r")))
        return ()

    def timed_out(self) -> tuple[Action, ...]:
        """The server's own idle timeout ran out: it closes, silently as aiosmtpd does. The
        server hung up, so the client is not blamed for a missing QUIT. It also ends a hang
        (which decided on its close already), so it answers even when the session is closed."""
        if self.mode is _MODE_AUTH:
            self._cut_exchange()
        self.mode = _MODE_CLOSED
        return (Close(Note("(connection closed: idle timeout)")),)

    def timer_fired(self, name: str, *, reply: bool = True) -> tuple[Action, ...]:
        """A timer the wire armed ran out; the server speaks on its own (RFC 5321 §3.8).
        ``reply`` False: a reply is partly written, so its 421 is not sent (it would land in
        the middle of that reply's line): only the close, as at a stop (:meth:`shutting_down`).

        ``idle`` (``server.idle_timeout`` seconds of client silence; re-armed after every line):
        "421 4.4.2" and close; without ``idle_timeout``, the silent close of ``timed_out()``.
        ``close_after`` (armed once at connect for ``server.close_after`` seconds): "421 4.3.2"
        and close, whatever the client is doing. The server hung up, so the client is not
        blamed for a missing QUIT.
        """
        if self.mode is _MODE_CLOSED:
            return ()
        host = self.settings.hostname
        end: Close | Reset = Close()
        if name == IDLE_TIMER:
            if self.settings.idle_timeout is None:
                # silent, as the scenario's idle drop is: the client learns of it only after its
                # next write, so that one line is forgiven too (RFC 5321 §3.8; fresh18 N1)
                self.unsolicited_close = self.unasked_close = True
                self.unasked_at = self.now()
                return self.timed_out()
            style = self.settings.idle_close
            end = Reset() if style.endswith("reset") else Close()
            if style in ("close", "reset"):
                return self._idle_drop(end)
            said = self.reply(421, "4.4.2", f"{host} Error: timeout exceeded")
        elif name == CLOSE_AFTER_TIMER:
            text = f"{host} Service not available, closing transmission channel"
            said = self.reply(421, "4.3.2", text)
        else:
            raise ValueError(f"unknown timer {name!r}")
        self._closing_in_message()
        self.mode = _MODE_CLOSED
        self.unsolicited_close = self.unasked_close = True
        self.unasked_at = self.now()
        rule = f"server.{name}"
        how = "reset" if isinstance(end, Reset) else "closed"
        closing = replace(end, note=Note(f"(connection {how})", rule))
        if not reply:
            return (closing,)
        self._transient(said)
        data = said.render()
        return (Send(data, Note(wire_text(data), rule)), closing)

    def shutting_down(self, why: str, *, reply: bool = True) -> tuple[Action, ...]:
        """The server is going away with this session open (``why``: ``stop`` or ``reset``):
        "421 4.3.2 <host> Service not available, closing transmission channel" and the close
        (RFC 5321 §3.8, §4.2.2; RFC 3463 X.3.2 "system not accepting network messages"), or
        only the close when ``reply`` is False (a reply was already partly on the wire). The
        server closed it, so the client is not blamed for a missing QUIT, and its next command
        (sent before it could read the 421) is not held against it."""
        if self.mode is _MODE_CLOSED:
            reply = False  # it was closing already (a hang, a delay before a close): end it now
        self._closing_in_message()
        self.mode = _MODE_CLOSED
        self.unsolicited_close = self.unasked_close = True
        self.unasked_at = self.now()
        rule = f"server.{why}"
        close = Close(Note(f"(connection closed: server {_SHUTDOWN_WORDS[why]})", rule))
        if not reply:
            return (close,)
        host = self.settings.hostname
        text = f"{host} Service not available, closing transmission channel"
        data = self.reply(421, "4.3.2", text).render()
        return (Send(data, Note(wire_text(data), rule)), close)

    def rejoin(self, shared: Shared) -> None:
        """The journal was cleared (a reset) with this session open: it goes on as a new session
        of the fresh journal, numbered by ``shared``'s numbering, holding what happens to it
        from now on (the reset's 421 and close); its rule counters stay the old ones."""
        self.index = shared.next_session()
        self.info = new_info(self.index, self.info.peer, self.clock.now())
        self.observer.started(self.info)
        self.entries, self.entries_room, self.entry_chars = None, 0, 0
        if self._direct is not None:
            self._room()

    def _idle_drop(self, end: Close | Reset) -> tuple[Action, ...]:
        """``idle_close: close|reset``: the idle connection is dropped without a word. The
        client's next command, sent before it could see the close, is not held against it."""
        self._closing_in_message()
        self.mode = _MODE_CLOSED
        self.unsolicited_close = self.unasked_close = True
        self.unasked_at = self.now()
        how = "reset" if isinstance(end, Reset) else "closed"
        return (
            replace(end, note=Note(f"(connection {how}: idle, no reply)", f"server.{IDLE_TIMER}")),
        )

    def disconnected(self, *, waiting: bool = False) -> None:
        """The connection is over. ``waiting``: the client left while a reply to it was still
        due, so it is not blamed for a missing QUIT (RFC 5321 §4.5.3.2: a client gives up on a
        server that does not answer)."""
        if self.chunk is not None:  # (else neither call would do anything: nearly always)
            bdat.ended(self)  # a chunk still being read
            bdat.cut_chunk_ended(self, self.arrived)
        if self.text_counted[1] or self.closed_counted[1]:  # (else nothing to say)
            self.text_count_ended(self.arrived)
        if self.mode is not _MODE_CLOSED and not self.quit_seen and not waiting:
            self.violate("no-quit", "the client closed the connection without QUIT", "")
        self.mode = _MODE_CLOSED
        if self.scenario.rules:
            self.shared.connection_ended(self.connection, self._compiled.per_connection)
        self.observer.ended(self.info, self.clock.now())

    def undelivered(self, note: Note, written: int, when: float | None = None) -> None:
        """A reply the client left before receiving whole: ``written`` of its octets had been
        handed to the socket (recorded at ``when``, the client's close; None: now)."""
        self.record(
            "server",
            note.text,
            note.rule,
            time=when,
            delivered=False,
            written=written,
            endings=note.endings,
        )

    def client_closed(self, text: str, when: float | None) -> None:
        """The client closed or reset the connection (at ``when``; None: now)."""
        if self.chunk is not None:  # (else the call would do nothing)
            bdat.cut_chunk_ended(self, when)
        if self.text_counted[1] or self.closed_counted[1]:  # (else nothing to say)
            self.text_count_ended(when)
        self.record("client", text, time=when, event=True, note=True)

    def performed(self, action: Action, when: float | None = None) -> None:
        """The wire carried out ``action`` (for a Send: handed its last byte to the socket):
        what it carries for the transcript is recorded now (or at ``when``), so the times are
        the wire's."""
        note = getattr(action, "note", None)
        if note is not None:
            if self.text_counted[1] or self.closed_counted[1]:  # counted lines came before this
                self.text_count_ended(when)
            # a close's note; a Send's (a reply) is recorded by the connection, inline
            self.record("server", note.text, note.rule, time=when, note=type(action) is not Send)

    # -- the core: rules first, then the normal reply (what the command handlers call) -----------

    def respond(
        self,
        stage: Stage,
        argument: str,
        plan: Plan | Reply,
        accept: Accept = None,
        then: Accept = None,
        *,
        options: tuple[str, ...] = (),
    ) -> tuple[Action, ...]:
        """The reply to one occurrence of ``stage``, as the first matching rule's faults shape
        it; ``accept`` runs only if the reply sent is positive, ``then`` once it is decided.
        ``options``: the command's parameters (MAIL/RCPT), for a user's hook.
        A positive normal reply with a user's hook for the stage is first a Consult
        (consult.py): the rest follows in :meth:`consulted`."""
        # no hook and no rule on the stage can change it: most replies of most sessions
        if not self.hooks and self._compiled.select[stage] is None:
            plain = _PLAIN.get(id(plan))
            if plain is not None and plain[0] is plan:
                # A reply met before (most are one of a few, _reply()), neither closing nor a
                # 4xx: what the steps below do with it, with what they work out of it known.
                counts = self.counts
                counts[stage] = counts.get(stage, 0) + 1
                positive = plain[1]  # _settle(), inline
                if accept is not None and positive:
                    if stage is _STAGE_MAIL:
                        self.transactions += 1
                    accept()
                self.conduct.previous_ok = positive
                if then is not None:
                    then()
                return plain[2]
            closes = _PLAIN_CLOSING.get(id(plan))
            if closes is not None and closes[0] is plan:
                # A positive reply sent whole, then the close (QUIT's 221), met before: the
                # steps below, with what they work out of it known.
                counts = self.counts
                counts[stage] = counts.get(stage, 0) + 1
                if accept is not None:  # _settle(), inline: the reply is positive
                    if stage is _STAGE_MAIL:
                        self.transactions += 1
                    accept()
                self.conduct.previous_ok = True
                if self.mode is _MODE_DATA:  # _ending()
                    self.text_after_close = 1
                self.mode = _MODE_CLOSED
                if then is not None:
                    then()
                return closes[1]
            reply: Reply | None = None
            if isinstance(plan, Reply):
                reply, closing = plan, plan.closes
            elif isinstance(plan, Plan) and plan.reply is not None and _closes_plainly(plan):
                reply, closing = plan.reply, True  # a reply sent whole, then the close
            if reply is not None:
                # What _decided() makes of it, without making a Plan: the same steps.
                counts = self.counts
                counts[stage] = counts.get(stage, 0) + 1
                self._settle(stage, reply, accept)
                if closing:  # _ending()
                    if self.mode is _MODE_DATA:
                        self.text_after_close = 1
                    self.mode = _MODE_CLOSED
                if then is not None:
                    then()
                known = _SENT[closing].get(id(reply))  # _sent(), its common path inline
                if known is not None and known[0] is reply:
                    actions = known[1]
                else:
                    actions = _sent(reply, closing)
                if plan is reply and not closing and not 400 <= reply.code < 500:
                    # a reply that is not a 4xx (no retry_after to note) and does not close
                    if len(_PLAIN) >= _SENT_MAX:
                        _PLAIN.clear()
                    _PLAIN[id(reply)] = (reply, reply.code < 400, actions)
                elif plan is not reply and reply.code < 400:
                    # a Plan of a positive reply and the close (_closes_plainly, above)
                    if len(_PLAIN_CLOSING) >= _SENT_MAX:
                        _PLAIN_CLOSING.clear()
                    _PLAIN_CLOSING[id(plan)] = (plan, actions)
                return actions
        hook = HOOKS.get(stage) if self.hooks else None
        if hook in self.hooks and isinstance(plan, Reply):
            plan = _plain_plan(plan)  # what the hook's answer reshapes
        if hook in self.hooks and isinstance(plan, Plan) and _positive(plan.reply):
            asked = plan

            def answered(reply: Reply | None) -> tuple[Action, ...]:
                shaped = asked.with_(reply=reply or FAILED)
                if reply is not None and not writes_codes(reply):
                    # the class default, as a rule's reply gets it (fresh17 F1); a rule firing
                    # on the hook's reply may still replace it (``enhanced: none``)
                    shaped = self._enhanced_default(stage, shaped)
                return self._decided(stage, argument, shaped, accept, then)

            self._awaiting, self._asked = answered, asked.reply
            content = bytes(self.body.data) if stage is _STAGE_END_OF_DATA else b""
            consult = Consult(
                hook or "",
                argument,
                options=options,
                lines=asked.reply.lines if asked.reply is not None else (),
                mail_from=self.mail_from,
                rcpt_tos=tuple(self.rcpt_tos),
                # the open transaction's (aiosmtpd's envelope: RCPT's flat); at the final "."
                # the phase is already idle
                mail_options=self.declared.options
                if self.phase is not _PHASE_IDLE or stage is _STAGE_END_OF_DATA
                else (),
                rcpt_options=tuple(o for options in self.rcpt_options or () for o in options),
                content=content,
                helo_name=argument if stage in (_STAGE_HELO, _STAGE_EHLO) else self.helo_name,
                esmtp=stage is _STAGE_EHLO or (stage is not _STAGE_HELO and self.esmtp),
            )
            return (consult,)
        return self._decided(stage, argument, plan, accept, then)

    def consulted(self, reply: Reply | None) -> tuple[Action, ...]:
        """The user's handler answered the Consult with ``reply`` (consult.answer_reply); None
        when it failed (the server reports why): a 451. The command goes on."""
        awaiting, self._awaiting = self._awaiting, None
        if awaiting is None:
            raise RuntimeError("consulted() without a Consult under way")
        return awaiting(reply)

    def unanswered(self) -> tuple[Action, ...]:
        """The Consult under way will never be answered (the client left, a timer or a stop
        ended the wait): the command is decided as if the handler took the normal reply, as a
        delayed reply is decided before its pause, for the end to record as not delivered
        (README, The record: a reply waiting on a user's handler). () with none under way."""
        awaiting, self._awaiting = self._awaiting, None
        return () if awaiting is None else awaiting(self._asked)

    def _decided(
        self, stage: Stage, argument: str, plan: Plan | Reply, accept: Accept, then: Accept
    ) -> tuple[Action, ...]:
        actions = self._shaped(stage, argument, plan, accept)
        if then is not None:
            then()
        return actions

    def _shaped(
        self, stage: Stage, argument: str, plan: Plan | Reply, accept: Accept
    ) -> tuple[Action, ...]:
        actions, label = self.decide(stage, argument, plan, accept)
        return self._ending(actions, label)

    def decide(
        self, stage: Stage, argument: str, plan: Plan | Reply, accept: Accept = None
    ) -> tuple[tuple[Action, ...], str | None]:
        """The rules' reply without entering a close: the actions and the rule's label, for a
        reply that goes out later (BDAT's, after its chunk; then :meth:`ending`)."""
        counts = self.counts
        counts[stage] = counts.get(stage, 0) + 1
        label = None
        select = self._compiled.select[stage]
        if select is not None:  # a stage no rule is on needs no occurrence and keeps no outcome
            occurrence = self.occurrence(stage, argument)
            # select() also records the firing: per-rule counters, times, next_state
            rule, misses = select(occurrence, self.shared, self)
            if rule is not None:
                label = rule.label
                if isinstance(plan, Reply):
                    plan = _plain_plan(plan)
                for fault in rule.faults:
                    plan = fault.apply(plan, self)
                plan = self._enhanced_default(stage, plan)
            self._explain(occurrence, label, misses)
        if isinstance(plan, Reply):  # no rule fired (or none is on the stage): no Plan made
            return self._whole_reply(stage, plan, accept), None
        # armed for later: a cut part-way through the body (most plans arm nothing)
        cut = plan.armed[-1] if plan.armed else None
        if accept is not None and plan.reply is not None and plan.reply.is_positive:
            if stage is _STAGE_MAIL:
                self.transactions += 1
            accept()
            if self.mode is _MODE_DATA and cut is not None:
                self.body.cut = BodyCut(cut.after_bytes, cut.actions, label)
        if stage is _STAGE_BDAT and self.chunk is not None and cut is not None:
            # the chunk is read whatever the reply: the cut applies to it either way
            self.chunk.cut = BodyCut(cut.after_bytes, cut.actions, label)
        actions = plan.actions(label)
        if plan.reply is not None:
            self._transient(plan.reply)
            self.conduct.previous_ok = plan.reply.is_positive
        return actions, label

    def _whole_reply(self, stage: Stage, reply: Reply, accept: Accept) -> tuple[Action, ...]:
        """What the rest of :meth:`decide` does with ``Plan(reply)``: nothing armed, the reply
        sent whole (and, if it closes, the close after it: RFC 5321 §3.8)."""
        self._settle(stage, reply, accept)
        return _sent(reply, reply.closes)

    def _settle(self, stage: Stage, reply: Reply, accept: Accept) -> None:
        """What a reply sent whole settles: a positive one runs ``accept`` (MAIL's opens a
        transaction), a 4xx may hold the client off (``retry_after``), and the next command
        is judged knowing whether this one succeeded."""
        positive = reply.code < 400
        if accept is not None and positive:
            if stage is _STAGE_MAIL:
                self.transactions += 1
            accept()
        if not positive:
            self._transient(reply)
        self.conduct.previous_ok = positive

    def occurrence(self, stage: Stage, argument: str) -> Occurrence:
        """This command as rules see it, with the facts of the connection before it."""
        return made(
            Occurrence,
            stage=stage,
            argument=argument,
            nth=self.counts.get(stage, 0),
            connection=self.connection,
            peer=self.info.peer,
            sender=self.mail_from,
            recipients=tuple(self.rcpt_tos),
            time=self.clock.now() if self.arrived is None else self.arrived,  # the line's
            greeted=("ehlo" if self.esmtp else "helo") if self.greeted else "none",
            tls=self.tls_active,
            auth_user=self.auth_user,
            message=self.transactions + (stage is _STAGE_MAIL),
            size=self.declared.size,
            body=self.declared.body,
        )

    def _explain(self, occ: Occurrence, label: str | None, misses: Sequence[object]) -> None:
        stage = _STAGE_VALUE[occ.stage]  # not Enum.value: a property, a Python call
        argument = occ.argument
        if self._hidden is not None and argument == self._hidden[0]:
            argument, misses = _hide(self._hidden, misses)
        quick = self._quick_outcome
        if quick is not None:  # the journal's: no Outcome made until one is read
            quick(self.info, occ.time, stage, argument, label, misses)
        else:
            self.observer.outcome(self.info, Outcome(occ.time, stage, argument, label, misses))

    def _enhanced_default(self, stage: Stage, plan: Plan) -> Plan:
        """RFC 2034 §3: with ENHANCEDSTATUSCODES advertised every 2xx/4xx/5xx reply carries an
        enhanced code (the greeting and the HELO/EHLO replies excepted); a rule reply without
        one gets its class default (X.0.0) unless its ``reply`` says ``enhanced: none``. The
        scenario's extension list decides, not the client's greeting: a HELO session gets them
        too ("regardless of whether or not EHLO is employed by the client", RFC 2034 §4)."""
        reply = plan.reply
        if (
            reply is None
            or reply.enhanced is not None
            or not plan.enhanced_default
            or not self._enhanced
            or reply.code // 100 == 3
            or stage in _NO_ENHANCED
        ):
            return plan
        return plan.with_(reply=replace(reply, enhanced=f"{reply.code // 100}.0.0"))

    def ending(self, actions: tuple[Action, ...], label: str | None) -> tuple[Action, ...]:
        """Enter the close or reset among the actions; each carries its transcript note."""
        return self._ending(actions, label)

    def _ending(self, actions: tuple[Action, ...], label: str | None) -> tuple[Action, ...]:
        for action in actions:  # a loop, not any(): this runs for every reply
            if isinstance(action, _CLOSING):
                break
        else:
            return actions
        if self.mode is _MODE_DATA:
            if any(type(a) is Sleep for a in actions[: actions.index(action)]):
                # abort's silence after the 354 (fresh10 F8): what the client sends before the
                # close is the message's text; the close cuts it when it goes out
                self.silent_close = True
                return tuple(_noted(a, label) for a in actions)
            # a silent close (a fault) cut the text: the client streams the rest up to its "."
            # without reading anything (RFC 5321 §4.1.1.4), so it is text, as after a 421
            self.text_after_close = 1
        self.mode = _MODE_CLOSED
        return tuple(_noted(a, label) for a in actions)

    def reply(self, code: int, enhanced: str | None, *lines: str) -> Reply:
        # RFC 2034: enhanced codes only when advertised, never on the greeting or HELO/EHLO.
        return _reply(code, lines, enhanced if self._enhanced else None)

    def refuse(self, stage: Stage, argument: str, refusal: Refusal) -> tuple[Action, ...]:
        """The command is out of order (state.ORDER): its reply, and its violation unless the
        client pipelined it after a refusal it could not have seen yet."""
        command = stage.value.upper()
        if not self.conduct.refusal_expected():
            self.violate(refusal.kind, refusal.detail.format(cmd=command), command)
        reply = self.reply(refusal.code, refusal.enhanced, refusal.text)
        return self.respond(stage, argument, reply)

    def sequence(self, command: str) -> Phase | Refusal:
        """The ordering table's verdict on ``command`` now (state.decide): the phase it leads
        to when accepted, or its refusal; a tolerated mistake is recorded here."""
        outcome, tolerated = decide_on(
            command,
            self.phase,
            self.greeted,
            self.esmtp,
            self.tls_active,
            self.auth_user is not None,
            self.settings.require_helo,
        )
        for mistake in tolerated:
            self.violate(mistake.kind, mistake.detail.format(cmd=command), command)
        return outcome

    def size_limit(self) -> int | None:
        """The SIZE EHLO advertises (RFC 1870), None for none (ServerSettings.size_limit)."""
        return self._compiled.size_limit

    def recipient_options(self, options: tuple[str, ...]) -> None:
        """The parameters of the recipient just accepted (the last of ``rcpt_tos``): kept
        once one recipient of the transaction has any, with ``()`` for the others."""
        listed = self.rcpt_options
        if listed is None:
            listed = self.rcpt_options = [()] * (len(self.rcpt_tos) - 1)
        listed.append(options)

    def accepted_message(self, queue_id: str) -> Message:
        """The transaction's message as the journal keeps it, once its data has ended (DATA's
        final ".", BDAT ... LAST): its time, when that last input arrived."""
        listed = self.rcpt_options
        # Message(...), made quicker (records.new_message); positional: keywords come through
        # a dict (CPython 3.11: some 400 instructions a keyword)
        return new_message(
            self.mail_from,
            tuple(self.rcpt_tos),
            bytes(self.body.data),
            self.index,
            self.now() if self.arrived is None else self.arrived,  # time
            queue_id,
            self.declared.options,  # mail_options
            none_each(len(self.rcpt_tos)) if listed is None else tuple(listed),  # rcpt_options
        )

    def reset_transaction(self) -> None:
        self.chunked = False
        self.phase = _PHASE_IDLE
        self.mail_from = ""
        self.rcpt_tos = []
        self.rcpt_options = None

    def ehlo_keywords(self) -> tuple[str, ...]:
        """What EHLO advertises now (ServerSettings.advertised computes the list: STARTTLS, AUTH,
        extensions_add/remove); it depends on whether TLS is up."""
        return self.settings.advertised(tls_active=self.tls_active)

    def advertised(self, keyword: str) -> bool:
        """Whether the client was offered this extension in an EHLO reply."""
        keyword = keyword.upper()
        return self.esmtp and any(ehlo_keyword(k) == keyword for k in self.ehlo_keywords())

    # -- the message body ----------------------------------------------------------------------

    def receive_text(
        self,
        block: bytes,
        *,
        pipelined: bool = False,
        scan: TextScan | None = None,
        stuffed: bool | None = None,
    ) -> tuple[Action, ...]:
        """Several whole lines of message text at once, none of them the final "." nor over
        :data:`~smtpfake.engine.connection.LINE_LIMIT`: the same outcome as :meth:`receive` line
        by line (the engine's property test holds it to that), without a call per line.
        ``scan``: :func:`~smtpfake.engine.conduct.scan_text` of the block; ``stuffed``: whether
        a line starts with a dot; either None when the caller has not found out (then done here)."""
        body = self.body
        if body.cut is not None:
            return self._lines(block, pipelined)
        if body.lines == 0 and pipelined:
            self.conduct.pipelining(MESSAGE, pipelined, after="DATA")
        if scan is None:
            scan = scan_text(block, body.cr_ends)
        text = body.add_lines(block, scan[0], stuffed)
        if text is None:
            return self._lines(block, pipelined)
        # unstuffing takes dots only: the line endings are the block's; a long line may not be
        self.conduct.text_block(
            text,
            declared_8bit=self.declared.eight_bit,
            scan=scan if text is block or not scan[1] else None,
            cr_ends=body.cr_ends,
        )
        return ()

    def _lines(self, block: bytes, pipelined: bool) -> tuple[Action, ...]:
        # whole lines, each ending at its LF (or with bare_cr clean at a bare CR): not
        # splitlines(), which also ends one at a bare CR in every case
        if self.body.cr_ends:
            lines = _CR_LINES.findall(block)
        else:
            lines = [line + b"\n" for line in block[:-1].split(b"\n")]
        for i, line in enumerate(lines):
            actions = self._data_line(line, False, pipelined)
            pipelined = False
            if actions:
                # a cut: the block's other lines came with the cut line, so they are the text
                # the client sent after it, recorded as such (receive() once closed)
                for rest in lines[i + 1 :]:
                    self.receive(rest)
                return actions
        return ()

    def _data_line(self, line: bytes, partial: bool, pipelined: bool) -> tuple[Action, ...]:
        body = self.body
        if not partial and body.lines == 0 and pipelined:
            # RFC 2920 §3.1: DATA ends a group; the content waits for the 354.
            self.conduct.pipelining(MESSAGE, pipelined, after="DATA")
        if body.is_end(line, partial):
            if self.silent_close:
                return self._end_in_silence(line, pipelined)
            self.conduct.line_endings(line, ".", message=True, last=True)
            return self.end_of_text()
        piece = body.add(line, partial)
        self.conduct.text_line(
            piece, partial=partial, declared_8bit=self.declared.eight_bit, settled=body.cr_ends
        )
        cut = body.cut_due()
        if cut is not None:
            self.heard(f"(message data, {body.size} bytes so far)", note=True)
            return self._ending(cut.actions, cut.label)
        return ()

    def end_of_text(self) -> tuple[Action, ...]:
        """The final "." as the line ``.\\r\\n`` (RFC 5321 §4.1.1.4) after whole lines of text: the
        message is complete (the connection hands it over with the text before it, in one step).
        Its line ending needs no judging: CRLF, and no CR pending (whole lines end in LF)."""
        if self.silent_close:
            return self._end_in_silence(b".\r\n", False)
        now = self.arrived  # when the "." arrived
        if now is None:
            now = self.clock.now()
        text = f"(message data, {self.body.size} bytes)"
        entries = self.entries
        if (  # note() twice, inline: once a message
            entries is not None
            and len(entries) + 2 <= self.entries_room
            and len(text) <= self.entry_chars
        ):
            entries.append((now, "client", text, None, *_NOTED))
            entries.append((now, "client", ".", None))
        else:
            self.note(now, "client", text, None, _NOTED)
            self.note(now, "client", ".", None)
        self.conduct.previous = "."
        return self._end_of_data()

    def _end_of_data(self) -> tuple[Action, ...]:
        self.mode = _MODE_COMMAND
        size = self.body.size
        self.body.cut = None
        if self.declared.size is not None:  # (a call less for a MAIL without SIZE=)
            self.conduct.message_size(size, self.declared.size)
        if self.body.crlf_only or self.settings.bare_cr != "accept":  # a policy may refuse
            refused = bare_lf.message_refusal(self)
            if refused is not None:
                # the message is not accepted: the transaction ends once the reply is decided
                end = _STAGE_END_OF_DATA
                return bare_lf.refuse(self, end, self.mail_from, refused, self.reset_transaction)
        limit = min(self._compiled.size_limit or size, self.settings.max_message_bytes)
        if size > limit:
            big = self.reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
            return self.respond(_STAGE_END_OF_DATA, self.mail_from, big)
        queue_id = self.shared.next_queue_id()
        message = self.accepted_message(queue_id)

        text = f"Ok: queued as {queue_id}"
        end = _STAGE_END_OF_DATA
        if not self.hooks and self._compiled.select[end] is None:
            # what respond() does with a positive reply no rule or hook can change (no closure
            # made for ``accept``), the reply made straight as bytes: it is this message's own,
            # so no reply cache would ever find it again (making it costs less)
            counts = self.counts
            counts[end] = counts.get(end, 0) + 1
            self.observer.message(self.info, message)
            self.conduct.previous_ok = True
            self.reset_transaction()
            return _queued(text, self._enhanced)

        def accept() -> None:
            self.observer.message(self.info, message)

        ok = self.reply(250, "2.0.0", text)
        return self.respond(_STAGE_END_OF_DATA, self.mail_from, ok, accept, self.reset_transaction)

    # -- the record ----------------------------------------------------------------------------

    def record(
        self,
        side: str,
        text: str,
        rule: str | None = None,
        *,
        time: float | None = None,
        delivered: bool = True,
        written: int | None = None,
        event: bool = False,
        note: bool = False,
        endings: tuple[str, ...] = (),
    ) -> None:
        """One transcript entry stamped now (or at ``time``): an event, a reply, a note (``note``:
        the engine's words, TranscriptEntry.note). Held back while :attr:`held` is set (a line
        that arrived before it is still to be read). ``endings``: a reply's, TranscriptEntry's."""
        said: Literal["client", "server"] = "client" if side == "client" else "server"
        when = self.clock.now() if time is None else time
        rest: tuple[Any, ...] | None
        if endings:
            rest = (delivered, written, event, note or event, endings)
        elif delivered and written is None and not event:
            rest = _NOTED if note else None  # _NOTED itself: note() knows it by identity
        else:
            rest = (delivered, written, event, note or event)
        if self.held is not None:
            self.held.append((self.hold_to, when, said, text, rule, rest))
        else:
            self.note(when, said, text, rule, rest)

    def heard(self, text: str, *, note: bool = False, unfinished: bool = False) -> None:
        """A transcript entry for what the client sent (a line; ``note``: the engine's note on
        it, as a chunk's size), stamped when its last octet arrived (:attr:`arrived`). Never
        held back: whatever is held came after it. ``unfinished``: a line whose line ending
        never came (the connection ended first): ``delivered`` False on the entry."""
        when = self.arrived
        if when is None:
            when = self.clock.now()
        self.note(
            when, "client", text, None, _UNFINISHED if unfinished else _NOTED if note else None
        )

    def release(self, read: int | None = None) -> None:
        """Record the entries held back whose lines are all recorded: those waiting for at most
        ``read`` octets read (None: all of them)."""
        held = self.held
        if held is None:
            return
        due = count = len(held)
        if read is not None:
            due = 0
            while due < count and held[due][0] <= read:
                due += 1
            if due == 0 < count:
                return  # none is due yet
        if due == count:
            self.held = None
        else:
            self.held, held = held[due:], held[:due]
        entries, room, chars = self.entries, self.entries_room, self.entry_chars
        for _, when, side, text, rule, rest in held:
            if rest is None and entries is not None and len(entries) < room and len(text) <= chars:
                entries.append((when, side, text, rule))  # note(), inline
            else:
                self.note(when, side, text, rule, rest)
                entries, room = self.entries, self.entries_room

    def note(
        self,
        time: float,
        side: str,
        text: str,
        rule: str | None,
        rest: tuple[Any, ...] | None = None,
    ) -> None:
        """One transcript entry: appended to the journal's list while there is room, else
        through the observer's quick way in (an entry delivered whole) or its full one.
        ``rest``: TranscriptEntry's fields after ``rule`` (delivered, written, event, note, and
        endings when a reply's were not all CRLF), None for a line or reply delivered whole
        (:data:`_NOTED` for a note)."""
        entries = self.entries
        if entries is not None and len(text) <= self.entry_chars:
            if len(entries) >= self.entries_room:
                entries = self._room()
            if entries is not None and len(entries) < self.entries_room:
                entries.append(
                    (time, side, text, rule) if rest is None else (time, side, text, rule, *rest)
                )
                return
        quick = self.quick
        if quick is not None:
            if rest is None:
                quick(self.info, time, side, text, rule)
                return
            if rest is _NOTED:  # a note delivered whole: the quick way too (once a message)
                quick(self.info, time, side, text, rule, rest)
                return
        said: Literal["client", "server"] = "client" if side == "client" else "server"
        # the constructor: a journal keeps these (see frozen.py)
        entry = TranscriptEntry(time, said, text, rule, *(rest or _WHOLE))
        self.observer.transcript(self.info, entry)

    def _room(self) -> list[tuple[object, ...]] | None:
        """Ask the observer again for the list and the room left in it (None: no more)."""
        found = self._direct(self.info) if self._direct is not None else None
        if found is None:
            self.entries = None
            return None
        self.entries, self.entries_room, self.entry_chars = found
        return self.entries

    def violate(self, kind: str, detail: str, command: str) -> None:
        """Record a violation, stamped when what it judges arrived (:attr:`arrived`: the line's
        last octet, the client's close), as that line's transcript entry is."""
        # imported here: a session without violations never needs the list (serve's start-up)
        from smtpfake.scenario.violations import VIOLATION_KINDS

        if kind not in VIOLATION_KINDS:  # the one list checks name kinds from: a bug in smtpfake
            raise AssertionError(f"violation kind {kind!r} is not in VIOLATION_KINDS")
        when = self.arrived  # what is judged came then (a line, the client's close), not now
        when = self.clock.now() if when is None else when
        self.observer.violation(self.info, Violation(kind, detail, command, when))

    def _transient(self, reply: Reply) -> None:
        """With ``server.retry_after``, a 4xx reply tells this client's IP when to come back."""
        wait = self.settings.retry_after
        if wait is not None and 400 <= reply.code < 500:
            now = self.now()
            self.shared.hold_off(client_ip(self.info.peer), now + wait, now)


def _hide(hidden: tuple[str, str], misses: Sequence[object]) -> tuple[str, Sequence[object]]:
    """The argument and near misses an outcome records for a line the record masks (``hidden``:
    the line, what is kept of it): the kept form, for the line and for what a near miss says
    it was (misses: rule, condition, wanted, was, four by four; or text, already worded)."""
    line, kept = hidden
    hid = list(misses)
    if hid and isinstance(hid[0], str):
        return kept, tuple(str(m).replace(line, kept) for m in hid)
    for i in range(3, len(hid), 4):
        was = hid[i]
        if isinstance(was, str) and was and (was in line or line in was):
            hid[i] = kept
    return kept, tuple(hid)


def _argument(shown: str) -> str:
    """A command's argument as the record keeps it: of the line's recorded form (``shown``:
    auth_mask.masked), so a secret the line carried stays out of rules' outcomes too."""
    return shown.partition(" ")[2].strip()


def _not_a_command(text: str) -> bool:
    """``text``'s first word names no command (so it may be a SASL answer: auth_mask), read as
    :meth:`Session.receive` reads it (ASCII only)."""
    word = text.partition(" ")[0]
    return not word.isascii() or word.upper() not in commands.COMMANDS


@functools.lru_cache(maxsize=1024)
def _reply(code: int, lines: tuple[str, ...], enhanced: str | None) -> Reply:
    """Replies are immutable: the same one made once (most commands get one of a few), which
    also lets the rendered-reply cache (plan._plain) find it by identity."""
    return Reply(code, lines, enhanced)


#: RFC 8446 §5.1 ContentType: a TLS record's first octet
_TLS_RECORD = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}
#: a reply's actions when sent whole, by the reply's id(), one table for replies that close
#: and one for the others; each value holds its reply, so no other object can take that id
#: while it is here (cleared when full)
_SENT: tuple[dict[int, tuple[Reply, tuple[Action, ...]]], ...] = ({}, {})
_SENT_MAX = 1024
#: respond()'s replies met before that neither close nor are a 4xx (which may note retry_after),
#: by identity as _SENT: (the reply, whether it is positive, its actions)
_PLAIN: dict[int, tuple[Reply, bool, tuple[Action, ...]]] = {}
#: respond()'s plans met before that are a positive reply sent whole, then the close
#: (_closes_plainly: QUIT's 221), by identity as _PLAIN: (the plan, its actions)
_PLAIN_CLOSING: dict[int, tuple[Plan | Reply, tuple[Action, ...]]] = {}
_CLOSED = Note("(connection closed)")
#: note()'s ``rest`` for the engine's note on the connection delivered whole (TranscriptEntry.note)
_NOTED = (True, None, False, True)
#: note()'s ``rest`` for a client line whose line ending never came (TranscriptEntry.delivered)
_UNFINISHED = (False, None, False, False)
#: note()'s ``rest`` for a line or reply delivered whole (TranscriptEntry's defaults)
_WHOLE = (True, None, False, False)

#: the close after a reply sent whole (:func:`_whole`): one object, so the connection knows the
#: batch it makes of such a reply is the same each time (connection._HALF_CLOSING)
PLAIN_CLOSE = Close(_CLOSED)


def sent_rest(note: Note) -> tuple[Any, ...] | None:
    """note()'s ``rest`` for a reply delivered whole: None, or its endings when they were not
    all CRLF (TranscriptEntry.endings)."""
    return (True, None, False, False, note.endings) if note.endings else None


def _sent(reply: Reply, closing: bool) -> tuple[Action, ...]:
    """:func:`_whole`, found by identity first: that costs less than hashing the reply (most are
    one of a few made by :func:`_reply`)."""
    table = _SENT[closing]
    known = table.get(id(reply))
    if known is not None and known[0] is reply:
        return known[1]
    actions = _whole(reply, closing)
    if len(table) >= _SENT_MAX:
        table.clear()
    table[id(reply)] = (reply, actions)
    return actions


def _whole(reply: Reply, closing: bool) -> tuple[Action, ...]:
    """``Plan(reply).actions()`` with the close entered (``_ending``): one Send carrying the
    reply's note and, if ``closing``, the Close after it. Not cached by value: :func:`_sent`'s
    table holds the common replies, and the one a cache by value would add (each message's own
    "queued as" reply) is never asked again; hashing it and keeping it cost more."""
    data = reply.render()
    send = Send(data, Note(wire_text(data)))
    return (send, PLAIN_CLOSE) if closing else (send,)


def _queued(text: str, enhanced: bool) -> tuple[Action, ...]:
    """``_whole(Reply(250, (text,), "2.0.0" if enhanced else None), False)``, made directly:
    one line, its enhanced code only when advertised (RFC 2034 §3)."""
    line = f"250 2.0.0 {text}" if enhanced else f"250 {text}"
    # short-lived (gone once the wire wrote it): frozen.made() is right for it
    note = made(Note, text=line, rule=None, endings=())
    return (made(Send, data=f"{line}\r\n".encode(), note=note),)


def _closes_plainly(plan: Plan) -> bool:
    """``Plan(reply, after=(Close(),))``: a reply sent whole, then the close (QUIT's 221)."""
    after = plan.after
    return (
        len(after) == 1
        and type(after[0]) is Close
        and after[0].note is None
        and not plan.before
        and not plan.shapes
        and not plan.armed
    )


#: each stage's name as an Outcome gives it
_STAGE_VALUE = {stage: stage.value for stage in Stage}


def _positive(reply: Reply | None) -> bool:
    return reply is not None and reply.is_positive


def _plain_plan(reply: Reply) -> Plan:
    """``Plan(reply)``, the plan of nearly every reply, without the frozen __init__'s cost."""
    return made(Plan, reply=reply, before=(), after=(), shapes=(), armed=(), enhanced_default=True)


def _noted(action: Action, label: str | None) -> Action:
    """A close or reset with the transcript note saying so."""
    # each of the three has the note as its one field: made anew, not dataclasses.replace()d
    if isinstance(action, Close | HalfClose) and action.note is None:
        return type(action)(Note("(connection closed)", label))
    if isinstance(action, Reset) and action.note is None:
        return Reset(Note("(connection reset)", label))
    return action
