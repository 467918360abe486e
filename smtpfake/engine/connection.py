"""One connection, sans I/O: bytes and wire events in, actions out (h11's shape).

The wire hands over what it read (:meth:`Connection.receive_data`) and what happened on the
socket (a batch of actions carried out, a timer fired, the client's EOF or reset, TLS up or
failed); it gets back actions to carry out in order. Everything a test could want to judge is
decided here, on the injectable clock:

- framing: command lines (at most :data:`LINE_LIMIT` octets) and AUTH response lines (at most
  AUTH_LINE_LIMIT, RFC 4954 §4; longer ones are discarded up to their LF and answered 500),
  message text in lines or :data:`LINE_LIMIT`-octet pieces;
  the same pieces whatever way the bytes were split in transit;
- pipelining and early talk: a line is *ahead* when (part of) it was received before the
  server's previous reply was completely written, however a fault paced that reply;
- the record: a client line is stamped when its last octet arrived (one clock reading per read;
  marks only while octets of several reads wait), a line the connection's end cut short too
  (recorded unfinished, before what the server recorded meanwhile: :meth:`_line_open`); an
  unfinished message at the close that ended it (:meth:`_cut`); a reply when its last byte was
  handed to the socket (the wire reports each action it carried out, with the clock's reading it
  took before that write: never later than the client could read it; :meth:`held_until` for one
  the transport held); one cut short by the client's
  close is recorded as not delivered, with how much of it was written; the client's close is an
  entry of its own. The transcript is in time order: what would be recorded while lines that arrived
  before it still wait to be read is held back until they are (:meth:`_hold_back`);
- timers: the idle timeout, ``close_after`` and the grace period are ArmTimer actions; the idle
  timeout restarts with each whole record from the client (:func:`_records`), not each read;
  while the socket is full the client's runs, not the server's own (:meth:`Connection.stalled`);
- the end: after the server's last reply it half-closes and keeps reading for the grace period,
  recording what the client still sends (``sent-after-close``), then closes.

The batch protocol: a call that returns anything besides timer actions starts a *batch*; the
wire carries it out and calls :meth:`done` (or, for a batch ending in StartTLS,
:meth:`tls_started` / :meth:`tls_failed`). A batch returned while another is being carried out
(a timer, the client leaving) replaces it: the wire drops the rest of the old one.
"""

from __future__ import annotations

import functools
import re
from collections import deque

from smtpfake.engine import bare_lf, bdat
from smtpfake.engine.auth_mask import AUTH_LINE_LIMIT
from smtpfake.engine.conduct import COMMAND_LINE_LIMIT, TextScan, long_line_at, scan_text
from smtpfake.engine.session import (
    CLOSE_AFTER_TIMER,
    IDLE_TIMER,
    PLAIN_CLOSE,
    TEXT_SHOWN,
    Session,
    sent_rest,
)
from smtpfake.engine.shared import Shared
from smtpfake.engine.state import Mode
from smtpfake.lazy_pattern import compiled_on_first_use
from smtpfake.scenario.plan import (
    TIMER_ACTIONS,
    Action,
    ArmTimer,
    Close,
    Consult,
    HalfClose,
    Note,
    Reset,
    Send,
)
from smtpfake.scenario.reply import Reply

#: the longest command line read whole (an AUTH response line: AUTH_LINE_LIMIT), and the size
#: of the pieces an over-long line of message text is handed on in (RFC 5321 §4.5.3.1.6: 1000
#: octets with CRLF, plus a dot)
LINE_LIMIT = 1001
#: at most this many lines still buffered when the connection ends are recorded (a flood must
#: not hold up the end of the session, the server's stop, or the journal)
DRAIN_LINES = 100
#: the timer of the grace period after the server's last reply
GRACE_TIMER = "grace"
#: the server's own limit on silence (either side's) when the scenario sets none, in seconds
SERVER_IDLE = 300.0
#: the grace period's default length, in seconds
GRACE_PERIOD = 1.0
#: ``Connection._ahead`` while replies of a group's write wait for the socket to take them
#: (:meth:`Connection.sent`): whatever the client sends then, it sent before they reached it
_ALL = 1 << 62

#: read for every line as a module global (on Python 3.10 and 3.11 ``Mode.DATA`` goes through
#: EnumType.__getattr__'s slow hook: see session.py)
_MODE_DATA = Mode.DATA
_MODE_AUTH = Mode.AUTH
_MODE_CLOSED = Mode.CLOSED

_ENDS = (Close, Reset)
_CLOSES = (Close, Reset, HalfClose)
#: what the rest of a batch may hold for only the client's reading to hold it up
#: (:meth:`Connection.writes_on`): nothing the server paces (a Sleep, a user's handler, a
#: handshake) and no reset
_UNPACED = (*TIMER_ACTIONS, Send, Close, HalfClose)
#: a QUIT line among the octets buffered (RFC 5321 §2.4: verbs are case-insensitive)
_QUIT_LINE = compiled_on_first_use(rb"(?:^|\n)quit[ \t]*\r?\n", re.IGNORECASE)
#: the same where a bare CR ends a line (``server.bare_cr: clean``): a line may start after one
#: and end in one (known bare once the octet after it has come)
_QUIT_LINE_CR = compiled_on_first_use(
    rb"(?:^|[\r\n])quit[ \t]*(?:\r?\n|\r(?=[^\n]))", re.IGNORECASE
)
#: a close with nothing to record (the client's close, recorded on its own, or a failure's)
_CLOSE_NOW: tuple[Action, ...] = (Close(),)
#: the batch :meth:`Connection._start` makes of a reply and PLAIN_CLOSE, by the id() of the
#: actions it was made from: (those actions, the grace period, the batch); cleared when full
_HALF_CLOSING: dict[int, tuple[tuple[Action, ...], float, tuple[Action, ...]]] = {}
_HALF_CLOSING_MAX = 256


#: "AUTH" in any case, wherever in a line (auth_mask.is_auth_line: not only at its start)
_AUTH_RE = compiled_on_first_use(rb"[Aa][Uu][Tt][Hh]")  # (serve compiles none to start)


def _bdat_line(buffer: bytearray, size: int, cr_ends: bool) -> int:
    """Where the first BDAT line starts in ``buffer``'s first ``size`` octets (whole lines;
    ``cr_ends``: a bare CR ends a line too); -1: none. Lines counted after the close stop
    before it: its chunk is counted by its size, not as lines (RFC 3030 §2). Searched at C
    speed (a regex with case-blind classes scans a flood octet by octet)."""
    folded = b"\n" + buffer[:size].lower()  # (the first line starts after a line end too)
    found = -1
    for ending in (b"\n", b"\r") if cr_ends else (b"\n",):
        at = folded.find(ending + b"bdat")
        while at >= 0 and at + 5 < len(folded) and folded[at + 5] not in b" \r\n":
            at = folded.find(ending + b"bdat", at + 5)  # (BDATX: another verb)
        if at >= 0 and (found < 0 or at < found):
            found = at
    return found


#: a "." line that may be the final one (RFC 5321 §4.1.1.4), after the line ending before it
_FINALS = (b"\n.\r\n", b"\n.\n")
#: the same where a bare CR ends a line (bare_cr: clean): after an LF or a bare CR (a CR before
#: a dot is bare), ended by a CR or an LF
_FINALS_CR = (b"\n.\r", b"\n.\n", b"\r.\r", b"\r.\n")
#: the stretch of buffered text first searched for the block's end (_text_block): a read's worth
_PROBE = 65536
#: the stretch first searched for a long line, before the dots (_text_block)
_NEAR = 4096


def _dots(
    buffer: bytes | bytearray, stop: int, cr_ends: bool, crlf_only: bool = False
) -> tuple[int, int]:
    """Where in ``buffer[:stop]`` the line ending before the first line that starts with a dot
    is, and the one before the first "." line that may be the final one (the line path decides,
    knowing what came before it: Body.is_end); -1 for none. ``cr_ends``: a bare CR ends a line
    too. ``crlf_only``: only <CRLF>.<CRLF> ends the message (``server.bare_lf`` other than
    accept), so a "." line a bare LF ends, or one after a bare LF, is text. One search finds the
    first; only a stuffed one (rare) sends the search on."""
    if crlf_only and not cr_ends:
        return _crlf_dots(buffer, stop)
    if cr_ends:
        # either kind of line start, over a stretch growing 4-fold: a find of the one not there
        # would run on to ``stop`` each time (each "a<CR>.<LF>" line: a 64 KiB search)
        first, window = -1, 256
        while first < 0:
            window = min(window, stop)
            found = [at for dot in (b"\n.", b"\r.") if (at := buffer.find(dot, 0, window)) >= 0]
            first = min(found, default=-1)
            if window == stop:
                break
            window *= 4
    else:
        first = buffer.find(b"\n.", 0, stop)
    if first < 0:
        return -1, -1
    if buffer.startswith(b".\r" if cr_ends else b".\r\n", first + 1) or buffer.startswith(
        b".\n", first + 1
    ):
        return first, first  # (most messages: the final ".")
    found = [
        at
        for final in (_FINALS_CR if cr_ends else _FINALS)
        if (at := buffer.find(final, first, stop)) >= 0
    ]
    return first, min(found, default=-1)


def _crlf_dots(buffer: bytes | bytearray, stop: int) -> tuple[int, int]:
    """:func:`_dots` where only <CRLF>.<CRLF> ends the message and no bare CR ends a line: the
    final "." is a ``.<CRLF>`` line after a CRLF (or first after the buffer's first octet, an LF
    whose line the body knows). Searching for ``<LF>.<LF>`` too ended a block at every "." line
    of bare-LF text, sending it line by line (fresh22 F2: 10-20 us a line, the loop held)."""
    first = buffer.find(b"\n.", 0, stop)
    if first < 0:
        return -1, -1
    if buffer.startswith(b"\n.\r\n") and first == 0:
        return 0, 0  # (the LF's line came before: the body knows whether it ended in a CRLF)
    final = buffer.find(b"\r\n.\r\n", max(first - 1, 0), stop)
    return first, final + 1 if final >= 0 else -1


@functools.lru_cache(maxsize=64)
def _timer(name: str, seconds: float) -> ArmTimer:
    """``ArmTimer(name, seconds)``, made once per value (actions are immutable): every
    connection arms the idle timer and, at its end, the grace period, with the same few values."""
    return ArmTimer(name, seconds)


#: a CR not followed by LF: with ``server.bare_cr: clean`` it ends a line (bare_lf.cr_line_end)
_BARE_CR = compiled_on_first_use(rb"\r(?!\n)")


def _auth_line(session: Session) -> bool:
    """Whether the next line is an AUTH response (read up to AUTH_LINE_LIMIT): in the exchange,
    or an answer to its last 334 that the client sends after the server closed (a 421 cut it)."""
    return session.mode is _MODE_AUTH or session.auth_after_close > 0


def _records(before: int, size: int) -> bool:
    """Whether ``size`` octets after ``before`` octets of a chunk or a discarded line complete
    a record of :data:`LINE_LIMIT` octets: what the idle timer counts as the client's progress
    where no line ends (a BDAT chunk, a line too long to hold)."""
    return (before + size) // LINE_LIMIT > before // LINE_LIMIT


class Connection:
    """The engine's side of one connection; ``session`` holds the SMTP state and the rules.

    ``idle``: the server's own silence limit in seconds (it bounds a hang; closes without a
    word). ``grace``: seconds to keep reading after the server's last reply.
    """

    __slots__ = (
        "_after_queue",
        "_ahead",
        "_batch",
        "_buffer",
        "_busy",
        "_client_idle",
        "_client_left",
        "_close_after",
        "_closed_at",
        "_closing",
        "_cr_ends",
        "_crlf_only",
        "_cursor",
        "_discarding",
        "_eof",
        "_grace",
        "_heard",
        "_idle_only",
        "_long_ahead",
        "_long_head",
        "_long_size",
        "_marks",
        "_mid_line",
        "_over",
        "_queue",
        "_queue_taken",
        "_server_idle",
        "_stalled",
        "_taken",
        "_written",
        "session",
        "unread",
    )

    def __init__(
        self, session: Session, *, idle: float = SERVER_IDLE, grace: float = GRACE_PERIOD
    ) -> None:
        self.session = session
        # Octets received and not yet processed: one bytearray for the connection's life,
        # emptied in place. ``unread`` is its public name, for reading only: the wire tests it
        # on every reply (nothing behind this one?) and a property there would be a call each.
        self._buffer = self.unread = bytearray()
        self._ahead = 0  # the first this many buffered octets came before the last reply ended
        self._discarding = False  # dropping an over-long command line up to its LF
        self._long_head = b""  # that line's first octets, for the record
        self._long_size = 0  # and its octets dropped so far
        self._long_ahead = False  # and whether it began before the last reply ended
        self._mid_line = False  # the last data piece ended inside a line
        self._heard = False  # a whole record came in the read at hand (the idle timer restarts)
        # When the buffered octets arrived, while they came in more than one read (or entries
        # are held back): (end, time) per read, ends counted in octets taken off the buffer
        # since the marks began (``_taken``). None: all of the buffer came at session.arrived.
        self._marks: deque[tuple[int, float]] | None = None
        self._taken = 0
        self._batch: tuple[Action, ...] = ()  # being carried out by the wire
        self._cursor = 0  # how many of the batch's actions the wire reported done
        self._written = 0  # octets of the reply under way handed to the socket so far
        # Replies the wire queued for one write later in the callback (:meth:`queued`) whose
        # last octet the socket has not taken yet (:meth:`sent`), in wire order; and how many
        # octets of the first of them it took. One list for the connection's life.
        self._queue: list[Send] | None = None  # (made by the first group: most clients never)
        self._queue_taken = 0
        # ``_after_queue`` (made with the queue, read only while it holds replies): the replies
        # of a batch given up while queued ones still wait for the socket, as (note, octets
        # written): on the wire they come after those, and so they are recorded
        self._after_queue: list[tuple[Note, int]]
        self._busy = False
        self._closing = False  # the server half-closed: the grace period runs
        self._closed_at = 0.0  # and when (clock seconds)
        self._over = False  # the wire was told to close or reset; nothing more is done
        self._eof: float | None = None  # when the client's EOF came
        self._client_left = False  # the client closed while a reply to it was still due
        self._grace = grace
        settings = session.settings
        self._server_idle = _timer(IDLE_TIMER, idle)
        # one timer, unless the scenario's idle_timeout (client silence) differs from ours
        self._client_idle = (
            self._server_idle
            if settings.idle_timeout is None
            else _timer(IDLE_TIMER, settings.idle_timeout)
        )
        self._close_after = settings.close_after
        # a bare CR ends a line (``server.bare_cr: clean``): lines are found by
        # bare_lf.cr_line_end, not by their LF alone (:meth:`_line_end`)
        self._cr_ends = bare_lf.CR_ENDS_LINE[settings.bare_cr]
        # only <CRLF>.<CRLF> ends the message (``server.bare_lf`` other than accept): a "." line
        # a bare LF ends, or after one, is text and need not end a block (_crlf_dots)
        self._crlf_only = bare_lf.CRLF_ONLY[settings.bare_lf]
        self._idle_only: tuple[Action, ...] = (self._client_idle,)
        # the socket does not take what the wire writes (the client does not read): the server
        # waits on the client, so the client's idle timer runs, not the server's (:meth:`stalled`)
        self._stalled = False

    # -- events in ------------------------------------------------------------------------------

    def connected(self) -> tuple[Action, ...]:
        """The client connected: the greeting (or, with implicit TLS, the handshake)."""
        timers: tuple[Action, ...] = (self._client_idle,)
        if self._close_after is not None:
            timers += (_timer(CLOSE_AFTER_TIMER, self._close_after),)
        return timers + self._start(self.session.connect())

    def receive_data(self, data: bytes) -> tuple[Action, ...]:
        """Bytes the client sent (any split), read now (the clock's reading is their arrival
        time). While a batch is under way they wait, judged as sent ahead of the reply; while
        replies of a group's write wait for the socket (:meth:`sent`), they are read at once,
        judged as sent ahead of those."""
        if self._over:
            return ()
        if self._closing and self.session.tls_pending:
            # its TLS handshake, after the server broke it off: counted, not SMTP to judge
            self.session.handshake_not_read(data)
            return ()
        session = self.session
        buffer = self._buffer
        if buffer or self._busy:
            # octets of an earlier read wait, or a batch is under way (what it still judges, a
            # user's handler answering, is about the line before): marked where this read ends
            self._mark(session.clock.now(), len(data))
        else:  # one clock reading for everything in this read (most reads: one line)
            session.arrived = session.clock.now()
            if self._marks is not None:
                if self._discarding and session.held is not None:
                    self._mark(session.arrived, len(data))  # entries wait on the line's end
                else:
                    self._unmark()
            if (
                type(data) is bytes
                and not self._discarding
                and self._eof is None
                and session.chunk is None  # (also the rest of one the server's close cut)
            ):
                # The reads most clients make, taken here (no call more per read): one whole
                # command line, or a whole message's text with its final "." (with no cut
                # armed). What _pump() and _next_piece() would do with them, without buffering
                # and copying them; any other read is buffered as usual (below).
                answer: tuple[Action, ...] | None = None
                size = len(data)
                if session.mode is not _MODE_DATA:
                    if (
                        0 < size <= LINE_LIMIT
                        # (after the close, past TEXT_SHOWN lines, a line is counted, not
                        # recorded: _next_piece's _count_after_close)
                        and session.mode is not _MODE_CLOSED
                        and data.find(b"\n") == size - 1
                        # (a CR before the line's end may end a line of its own)
                        and not (self._cr_ends and data.find(b"\r", 0, size - 2) >= 0)
                    ):
                        ahead = self._ahead > 0  # _took(), inline
                        if ahead:
                            self._ahead = max(0, self._ahead - size)
                        partial, self._mid_line = self._mid_line, False
                        answer = session.receive(data, partial, ahead)
                elif (
                    not self._mid_line
                    and session.body.cut is None
                    and data.endswith(b"\r\n.\r\n")
                    and (found := self._text_block(data)) is not None
                    # (else the "." is not the first final one, or the text is one line)
                    and len(found[0]) == size - 3
                ):
                    block, scan, stuffed = found
                    ahead = self._ahead > 0  # _took(len(block)), inline
                    if ahead:
                        self._ahead = max(0, self._ahead - len(block))
                    if session.receive_text(block, pipelined=ahead, scan=scan, stuffed=stuffed):
                        # whole lines of text, no cut armed: nothing to answer
                        raise AssertionError("message text with no cut armed got a reply")
                    if self._ahead:
                        self._ahead = max(0, self._ahead - 3)  # _took(3): the final ".", inline
                    answer = session.end_of_text()
                if answer is not None:
                    if answer:
                        if (  # _start()'s common case, inline: one reply, nothing to enter
                            len(answer) == 1
                            and type(answer[0]) is Send
                            and self._client_idle is self._server_idle
                            and not self._stalled
                        ):
                            self._batch, self._cursor, self._written = answer, 0, 0
                            self._busy = True
                            self._ahead = 0  # (none buffered)
                            return answer
                        started = self._start(answer)
                        if self._busy and self._stalled:
                            return (self._client_idle, *started)  # (stalled())
                        if self._busy or self._over:
                            return started
                    if session.held is not None:
                        session.release()
                    return self._idle_only  # (as _pump(): what is not a batch is not returned)
        buffer += data
        if self._busy:
            self._ahead = len(self._buffer)
            if self._stalled and (
                data.find(b"\n") >= 0 or _records(len(buffer) - len(data), len(data))
            ):
                return self._idle_only  # a whole record while the socket is full (stalled())
            return ()
        self._heard = False
        actions = self._pump()
        if self._stalled and self._busy and self._heard and not self._over:
            return (self._client_idle, *actions)  # (stalled())
        if self._busy or self._over or not self._heard:
            # (no whole record yet, only part of a line: the client's silence goes on, so a
            # client dribbling octets without a line end is timed out: RFC 5321 §4.5.3.2)
            return actions
        return (self._client_idle, *actions)  # the client spoke a record: its silence starts over

    def performed(self, action: Action, now: float | None = None) -> None:
        """The wire carried out ``action`` of the current batch (a Send: its bytes are with the
        socket); its transcript note is recorded at ``now`` (a Send written whole: the clock
        read before the write; None: the clock's reading now)."""
        self._cursor += 1
        if type(action) is Send:
            note = action.note
            if note is None:
                self._written += len(action.data)
            else:
                self._written = 0
                # (a reply written whole on its own, nearly every one, takes wrote() instead)
                self._delivered(note, self.session.clock.now() if now is None else now)
            return
        if self.session.silent_close and isinstance(action, _CLOSES):
            self._message_before_close()
        if isinstance(action, _ENDS):
            self._over = True
        elif isinstance(action, HalfClose):
            self._closing = True  # the grace period: what the client sends now is after the close
        if (self._buffer or self._discarding) and getattr(action, "note", None) is not None:
            self._hold_back()
        self.session.performed(action)
        if type(action) is HalfClose:  # (read after its entry's: never before it, time order)
            self._closed_at = self.session.clock.now()

    def _delivered(self, note: Note, now: float) -> None:
        """A reply's last octet is with the socket (at ``now``): its entry, after the lines that
        arrived before (held back while they are still to be read)."""
        session = self.session
        if session.greeting_at is None:
            session.greeting_at = now
        # only a rule shapes a reply's endings: no look at them for the others, nearly every one
        rule = note.rule
        rest = None if rule is None else sent_rest(note)
        if (self._buffer or self._discarding) and self._hold_back():  # (else none held)
            # after the lines before it (session.record(), inline)
            held = session.held
            assert held is not None
            held.append((session.hold_to, now, "server", note.text, rule, rest))
            return
        session.note(now, "server", note.text, rule, rest)

    def queued(self, send: Send) -> None:
        """The wire took ``send``, a whole reply (it carries the note), into a write that goes
        at the end of this callback with the replies to the lines read with it (a pipelined
        group): done as far as the batch goes, recorded once the socket takes its last octet
        (:meth:`sent`)."""
        self._cursor += 1
        if self._queue is None:
            self._queue = []
            self._after_queue = []
        self._queue.append(send)

    def sent(self, octets: int | None = None, now: float | None = None) -> None:
        """The socket took ``octets`` more of the queued replies' octets (None: all of them):
        each whose last octet it took is recorded at ``now`` (the clock read before a write the
        socket took whole; None: the clock's reading now), delivered. The wire says so after the
        write (all of them, nearly always) and, for a write the socket took in part (the
        client does not read), once it took the rest or before an end."""
        queue = self._queue
        if not queue:
            return
        session = self.session
        if now is None:
            now = session.clock.now()  # one reading: they went together
        if octets is None:
            for send in queue:
                note = send.note
                assert note is not None
                if self._buffer or self._discarding or session.greeting_at is None:
                    self._delivered(note, now)
                else:  # (nothing to hold it back for: a whole group read at once)
                    rule = note.rule  # (only a rule shapes endings: _delivered)
                    rest = None if rule is None else sent_rest(note)
                    session.note(now, "server", note.text, rule, rest)
            queue.clear()
            self._queue_taken = 0
            self._ahead = min(self._ahead, len(self._buffer))  # (no more _ALL: all taken)
            if self._after_queue:
                self._given_up(now)
            return
        taken = self._queue_taken + octets
        done = 0
        for send in queue:
            size = len(send.data)
            if size > taken:
                break
            taken -= size
            done += 1
            note = send.note
            assert note is not None
            self._delivered(note, now)
        del queue[:done]
        self._queue_taken = taken if queue else 0
        if not queue and self._after_queue:
            self._given_up(now)
        # RFC 2920 §3.1: what the client sends before a reply reached it is pipelined, so each
        # line read while these wait is judged as sent ahead of them (the line is recorded when
        # read, before them: its time is earlier than the socket's taking their last octets)
        self._ahead = _ALL if queue else min(self._ahead, len(self._buffer))

    def _unsent(self, when: float | None = None) -> None:
        """The queued replies the socket has not taken never will be (the connection ends, or
        the wire stopped sending): not delivered, the first with the octets it took (at
        ``when``; None: now). Before the batch under way's (:meth:`_abandon`): wire order."""
        queue = self._queue
        if not queue:
            return
        self._hold_back()
        written = self._queue_taken
        for send in queue:
            note = send.note
            assert note is not None
            self.session.undelivered(note, written, when)
            written = 0
        queue.clear()
        self._queue_taken = 0
        if self._after_queue:
            self._given_up(when)

    def _given_up(self, when: float | None) -> None:
        """The queue is through (taken, or never to be): the replies given up behind it
        (:meth:`_abandon`) are recorded now, not delivered, after its replies: wire order."""
        self._hold_back()
        for note, written in self._after_queue:
            self.session.undelivered(note, written, when)
        self._after_queue.clear()

    def held_until(self, seen: float) -> float:
        """The time to record a reply at whose last octets the transport held, last seen held
        at ``seen`` (clock seconds; the socket took them after it, so the client read them
        later): ``seen``, or the newest arrival of the client's octets or its close if later, so
        that the transcript stays in time order (what the client did meanwhile is recorded
        before)."""
        newest = self.session.arrived
        if self._marks:
            newest = self._marks[-1][1] if newest is None else max(newest, self._marks[-1][1])
        if self._eof is not None:
            newest = self._eof if newest is None else max(newest, self._eof)
        return seen if newest is None else max(seen, newest)

    def handed(self, octets: int) -> None:
        """``octets`` of the Send under way are with the socket, the rest still in the
        transport's buffer: the wire says so just before an end (the client's close, a timer,
        a stop) abandons that reply, for its ``written``."""
        self._written += octets

    def wrote(self, send: Send, now: float) -> tuple[Action, ...]:
        """``performed(send, now)`` then ``done()``: the wire carried out a batch that is this
        one Send (most replies), whole, in a write the socket took all of; ``now``: the clock
        read just before that write. In one call: the wire makes it for nearly every command."""
        # (a line being discarded, which entries would wait on, never has a lone Send under way:
        # the discarding starts only with no batch, and ends before the reply to the line)
        if self._buffer or not self._busy or self._over or self._cursor or self._eof is not None:
            self.performed(send, now)  # lines wait, or the client has left: the general way
            return self.done()
        note = send.note
        if note is None:
            self._written += len(send.data)
        else:
            self._written = 0
            session = self.session
            if session.greeting_at is None:
                session.greeting_at = now
            entries, text, rule = session.entries, note.text, note.rule
            if (  # performed()'s session.note(), inline (nothing is held with none buffered)
                entries is not None
                and len(entries) < session.entries_room
                and len(text) <= session.entry_chars
                and (rule is None or not note.endings)  # (only a rule shapes endings)
            ):
                entries.append((now, "server", text, rule))
            else:
                session.note(now, "server", text, rule, sent_rest(note))
        # done(): the client waited for this reply, so nothing is ahead of the next one
        self._busy = False
        self._batch, self._cursor = (), 0
        self._ahead = 0
        return self._idle_only

    def done(self) -> tuple[Action, ...]:
        """The wire finished the current batch; what comes next (the next buffered line's)."""
        if not self._busy:
            return ()
        self._busy = False
        self._batch, self._cursor = (), 0
        if self._over:
            return ()
        # (replies of a group's write the socket has not taken: all that comes is ahead of them)
        waiting = bool(self._queue)
        if not self._buffer:  # the client waited for this reply (most of the time)
            self._ahead = _ALL if waiting else 0
            if self._eof is None:
                return self._idle_only
            self._input_over()
            return self._end()
        # all of it came before the reply was complete
        self._ahead = _ALL if waiting else len(self._buffer)
        actions = self._pump()
        if self._busy and self._client_idle is self._server_idle and not self._stalled:
            # the one timer (no idle_timeout): the reply just written restarts it, as it does
            # when the client waits (wrote()); a group's replies going out are no silence, and
            # a hang writes none, so it still ends one (fresh18 F1: it ran for the whole group)
            return actions if self._over or self._closing else (self._server_idle, *actions)
        if self._busy or self._over:
            return actions
        if self._eof is not None:
            return self._end()  # the client's lines are all answered: it has left
        return (self._client_idle, *actions)

    def consulted(self, reply: Reply | None) -> tuple[Action, ...]:
        """The user's handler answered the Consult the batch ended with (None: it failed); it
        counts as the batch done. What the client sent meanwhile was sent ahead of the reply."""
        if self._over or not self._busy:
            return ()
        self._busy = False
        self._batch, self._cursor = (), 0
        actions = self._start(self.session.consulted(reply))
        if self._busy or self._over:
            return actions
        self._busy = True  # nothing to carry out: go on as after a finished batch
        return (*actions, *self.done())

    def timer_fired(self, name: str, socket_full: bool = False) -> tuple[Action, ...]:
        """A timer the engine armed ran out. ``socket_full``: the socket has not taken all the
        wire wrote (the client does not read; the wire said how much it took, :meth:`handed`,
        :meth:`sent`): the server's close does not wait on that client, so what it would still
        send never goes (:meth:`_cut_off`); also after the client's EOF ended the session, its
        close waiting behind replies the client does not read (fresh16 F1: it had half-closed)."""
        if self._over and not (socket_full and self._queue):
            return ()
        if self._closing:
            return self._end() if name == GRACE_TIMER else ()
        self._hold_back()  # what it records comes after the lines still waiting
        if name == IDLE_TIMER and self._busy and not (socket_full and self._stalled_idle()):
            # the server's own limit ran out while the server itself was silent (a hang)
            actions = self.session.timed_out()
        else:
            self._text_cut()
            # a reply partly written gets no 421 after it (mid-line), unless the socket is full
            # (then none of the 421 goes: _cut_off records it so)
            reply = socket_full or not (self._busy and self._written)
            actions = self.session.timer_fired(name, reply=reply)
        if socket_full:
            if any(isinstance(a, _ENDS) for a in actions):
                return self._cut_off(actions)
            if name != IDLE_TIMER:
                return ()
            # the session had closed already (its QUIT, the client's EOF), its last replies
            # stuck in the full socket: the idle timer still ends it, as it ends a hang
            return self._cut_off(self.session.timed_out())
        return self._replace(actions)

    def _cut_off(self, actions: tuple[Action, ...]) -> tuple[Action, ...]:
        """The server ends the connection while the socket is full: the wire stops sending now
        (the client can still get what the socket took, then the close; RFC 5321 §4.5.3.2's
        timeouts do not wait on a client that does not read). The replies queued or partly
        written are not delivered, with the octets the socket took; so are ``actions``'
        replies (none of their octets went); their close or reset is all the wire carries out,
        at once (no half-close: nothing more can be sent). ``actions`` end the connection."""
        self._unsent()
        self._abandon()
        self._busy = False
        for action in actions:
            if type(action) is Send and action.note is not None:
                self.session.undelivered(action.note, 0)
            elif isinstance(action, _ENDS):
                self._batch, self._cursor, self._written, self._busy = (action,), 0, 0, True
                return (action,)
        raise AssertionError(f"no close among {actions!r}")

    def stalled(self, full: bool) -> tuple[Action, ...]:
        """The socket stopped taking what the wire writes (``full``: the client does not read
        its replies), or took all of it again. While it is full the server waits on the
        client, not on itself: the client's idle timer runs (``idle_timeout``, or the server's
        own limit when that is the one timer), from now and from each whole record that comes
        (:meth:`receive_data`), and it ends the connection without waiting on the client
        (:meth:`timer_fired`). Once the socket took all, the replies are written: the client's
        timer starts over, or, with a batch still under way, the server's own limit runs."""
        self._stalled = full
        if self._closing or (self._over and not (full and self._queue)):
            return ()  # (over: unless its close waits behind replies the client does not read)
        return (self._server_idle if self._busy and not full else self._client_idle,)

    def stall_timer(self) -> ArmTimer:
        """The idle timer that runs while the socket is full (:meth:`stalled`): the wire arms it
        again when the client took some of what waits (it reads, slowly)."""
        return self._client_idle

    def paced_write(self) -> ArmTimer | None:
        """A Send of a batch that waits (a ``drip`` or ``fragment`` piece, a reply after a
        ``delay``) went to the socket: the server's own idle limit, when it is the timer that
        runs now, starts over (None: another runs, or none). That limit bounds the server's
        silence: a paced reply writes all along, where a ``delay`` or ``hang`` longer than it
        writes nothing and is still cut (README, the idle_timeout row)."""
        if self._stalled or self._closing or self._over or not self._busy:
            return None  # (a full socket: the client's timer runs, stalled())
        return self._server_idle

    def _stalled_idle(self) -> bool:
        """Whether the idle timer that runs now is the client's, the socket being full (a
        client that does not read is timed out as a silent one: ``idle_timeout``'s 421)."""
        return self._stalled and self._client_idle is not self._server_idle

    def eof_received(self, socket_full: bool = False) -> tuple[Action, ...]:
        """The client closed its side (FIN): an entry at this time, after every line it sent
        before (they are recorded first, with their own times, and judged). ``socket_full``:
        the wire is waiting for the socket to take octets it wrote (the transport holds some:
        the client has not read what came before).

        A reply still under way (paced by a fault, awaiting the user's handler) is one the
        client gave up on (RFC 5321 §4.5.3.2): it is recorded as not delivered, the lines
        behind it are recorded and acted on but not answered (their replies recorded not
        delivered: :meth:`_not_sent`), and the server closes. Not when the client
        still reads (:meth:`writes_on`): it sent QUIT, or only its reading holds the batch up;
        then its EOF is a half-close and the reply is written on, as below. Otherwise the
        client may still read (a half-close): the lines it sent before its EOF are processed
        and answered in turn, then the server closes. What the EOF cut short (a last line
        without its LF, a message without its final ".") is recorded before its entry and
        never answered (RFC 5321 §2.3.8)."""
        if self._over:
            return ()
        self._eof = self.session.clock.now()
        if self._busy and self._under_way():
            if self.writes_on(socket_full):
                # the reply goes on being written (delivered once the socket took it) and the
                # lines sent before are answered, then the server closes (done() ends it); a
                # client that had closed both ways resets a write, and what is left is not
                # delivered, with the octets that went
                self._client_closed("(client closed the connection)", self._eof)
                return ()
            self._client_left = not self._closing
            self._unsent(self._eof)  # (the wire stops sending what the socket did not take)
            self._abandon(self._eof)
            self._drain()  # the lines behind it: acted on, their replies not sent, before the EOF
            self._client_closed("(client closed the connection)", self._eof)
            return self._end()
        self._client_closed("(client closed the connection)", self._eof)
        if self._closing:
            return self._end()
        if self._busy:  # the batch is carried out: done() goes on with the lines
            return ()
        actions = self._pump()  # the lines it sent before (a last one without its LF: recorded)
        return actions if self._busy or self._over else self._end()

    def writes_on(self, socket_full: bool) -> bool:
        """Whether an EOF now leaves the batch under way to be carried out (a half-close)
        rather than given up: nothing is under way; or the client sent QUIT (RFC 5321
        §4.1.1.10: it waits for the 221, :meth:`_reads_on`); or ``socket_full`` (the wire waits
        for the socket to take what it wrote) and the rest of the batch is replies, timers and
        the close, nothing paced: only the client's reading holds it up, and a client that
        sends FIN with replies unread in its buffer reads on (one that closed both ways resets
        instead). The wire asks first, to learn whether to report a reply's octets kept."""
        if not (self._busy and self._under_way()):
            return True
        if socket_full and all(isinstance(a, _UNPACED) for a in self._batch[self._cursor :]):
            return True
        return self._reads_on()

    def _reads_on(self) -> bool:
        """Whether the client, closing its side while a reply is still going out, is waiting
        for its replies rather than giving up on them: it sent QUIT (answered now, or a line
        still waiting), so its EOF is a half-close after its last command."""
        quit_line = _QUIT_LINE_CR if self._cr_ends else _QUIT_LINE
        return self.session.quit_seen or quit_line.search(self._buffer) is not None

    def connection_lost(self, reset: bool = False, closed: Note | None = None) -> None:
        """The connection is gone (``reset``: the client's RST). The session ends. ``closed``:
        the note of a half-close the wire held back (over TLS: recorded at the close that ends
        the grace period), the client having ended the connection first: recorded now."""
        queue = self._queue
        if (self._busy or queue) and not self._closing and not self._over:
            self._client_left = True
        now = self.session.clock.now()  # one reading: the reply cut short and the close together
        entry = not self._over and (reset or self._eof is None)  # (an EOF has its entry already)
        if self._eof is None:
            self._eof = now  # what the close cuts short ends here (_cut)
        if queue:
            self._unsent(now)
        if self._busy:  # (else _abandon() has nothing to do)
            self._abandon(now)
        self._busy = False
        session = self.session
        if (  # (before the close's entry: the lines came before it, and their replies)
            self._buffer
            or self._discarding
            or session.chunk is not None
            or session.mode is _MODE_DATA
            or session.held is not None
        ):  # what _drain() looks at: nearly every session has none of it (a call less)
            self._drain()
        if closed is not None and not self._over:
            # the server had closed (over TLS it only read on): its entry before the client's,
            # as a half-close's is over plain TCP; at the end's time, the lines read since the
            # half-close being recorded already (the transcript stays in time order)
            session.performed(Close(closed), now)
        if entry:
            text = "(client reset the connection)" if reset else "(client closed the connection)"
            self._client_closed(text, now)
        self._over = True
        session.arrived = self._eof  # a missing QUIT, a chunk cut short: the close's time
        session.disconnected(waiting=self._client_left)

    def shutting_down(self, why: str, grace: float) -> tuple[Action, ...]:
        """The server stops (``why``: ``stop``) or is reset (``reset``) with this connection open:
        the 421 of :meth:`Session.shutting_down` and the close, replacing any batch under way
        (a reply still delayed is recorded as not delivered and the 421 goes in its place; one
        partly written gets no 421 after it: that would land mid-line). ``grace``: seconds the
        grace period may last at most now (0: close at once, no half-close; so also with more
        than :data:`DRAIN_LINES` lines unread, which the end records as for any close)."""
        if self._over:
            return ()
        if self._closing:  # its grace period runs already: it ends no later than asked
            self._grace = min(self._grace, grace)
            return (_timer(GRACE_TIMER, self._grace),)
        reply = not (self._busy and self._written)
        self._text_cut()
        self._abandon()
        self._busy = False
        actions = self.session.shutting_down(why, reply=reply)
        if self._buffer.count(b"\n") > DRAIN_LINES:
            grace = 0.0  # a flood: no grace period to read it in (the close records the start)
        if grace > 0:
            self._grace = min(self._grace, grace)
            return self._start(actions)
        self._batch, self._cursor, self._written, self._busy = actions, 0, 0, True
        return actions

    def rejoin(self, shared: Shared) -> bool:
        """The journal was cleared (a reset) while this connection was open: its session goes
        on in the fresh one (Session.rejoin). False when the connection is over already, or
        in its grace period (the server said its last word before the reset: nothing to add)."""
        if self._over or self._closing:
            return False
        self.session.release()  # what waited belongs to the journal that was cleared
        if self._line_open():
            # and so do the lines the client sent before it that were not read yet (part of
            # one, lines behind a reply still due): neither recorded nor judged in the new one
            # (message text or a chunk counts in what the reset's 421 notes as cut short)
            self._buffer.clear()
            self._discarding = self._long_ahead = self._mid_line = False
            self._ahead = 0
            self._marks = None
        self.session.rejoin(shared)
        return True

    def dropped(self, why: str) -> None:
        """The server drops the connection now (its stop or reset could not wait any longer):
        recorded as the server's close, not the client's."""
        if self._over:
            return
        if self._queue:
            self._unsent()
        if not self._closing:
            self._text_cut()
            self._abandon()
            self._hold_back()
            for action in self.session.shutting_down(why, reply=False):
                self.session.performed(action)
        self._over = True
        self._busy = False

    def tls_started(self, version: str, cipher: str) -> tuple[Action, ...]:
        """The handshake the batch ended with completed; it counts as the batch done."""
        # The client's first octets over TLS can come in the read that ended the handshake,
        # before the wire hears it completed: it completed no later than they arrived.
        first = self._oldest_arrival()
        self.session.arrived = None  # (the implicit-TLS greeting is now, not at a ClientHello)
        actions = self.session.tls_started(version, cipher, first)
        self._busy = False
        self._batch = ()
        if actions:  # implicit TLS: the greeting
            return self._start(actions)
        # The client speaks first after the handshake: nothing it sent can be ahead of a reply.
        self._ahead = 0
        actions = self._pump()
        return actions if self._busy or self._over else (self._client_idle, *actions)

    def tls_failed(self, reason: str) -> tuple[Action, ...]:
        """The handshake failed or was cut: the connection is closed without a grace period."""
        self.session.tls_failed(reason)
        self._busy = False
        self._over = True
        return _CLOSE_NOW

    def internal_error(self) -> tuple[Action, ...]:
        """smtpfake itself failed (the wire reports the exception): a 451 and the close."""
        if self._over or self._closing:
            self._over = True
            return _CLOSE_NOW
        self._abandon()
        return self._replace(self.session.internal_error())

    @property
    def over(self) -> bool:
        """The wire has been told to close or reset: the connection is finished."""
        return self._over

    # -- batches ----------------------------------------------------------------------------------

    def _start(self, actions: tuple[Action, ...]) -> tuple[Action, ...]:
        """Hand a batch to the wire: up to its first close or reset; a close becomes a half-close
        and the grace period (a reset stays a reset)."""
        if len(actions) == 1 and type(actions[0]) is Send:  # most replies: nothing to enter
            self._batch, self._cursor, self._written = actions, 0, 0
            self._busy = True
            self._ahead = len(self._buffer)
            if self._client_idle is not self._server_idle and not self._closing:
                # (while the socket is full the client's timer runs on: stalled())
                return actions if self._stalled else (self._server_idle, *actions)
            return actions
        if self._eof is None:  # the batch of a reply that closes, made once (QUIT's 221)
            known = _HALF_CLOSING.get(id(actions))
            if known is not None and known[0] is actions and known[1] == self._grace:
                return self._batch_of(known[2])
        for action in actions:  # a loop, not all(): this runs for every reply
            if not isinstance(action, TIMER_ACTIONS):
                break
        else:
            return actions
        out: list[Action] = []
        for action in actions:
            if isinstance(action, Close):
                if self._eof is not None:  # the client has gone already: no grace period
                    out.append(action)
                else:
                    out += (HalfClose(action.note), _timer(GRACE_TIMER, self._grace))
                break
            out.append(action)
            if isinstance(action, Reset):
                break
        batch = tuple(out)
        if self._eof is None and len(actions) == 2 and actions[1] is PLAIN_CLOSE:
            # a reply sent whole and the close (QUIT's 221; session._sent makes each such pair
            # once): its batch is made once too, kept with the pair it came from (no other
            # tuple can take their id while it is here)
            if len(_HALF_CLOSING) >= _HALF_CLOSING_MAX:
                _HALF_CLOSING.clear()
            _HALF_CLOSING[id(actions)] = (actions, self._grace, batch)
        return self._batch_of(batch)

    def _batch_of(self, batch: tuple[Action, ...]) -> tuple[Action, ...]:
        """``batch`` is the one under way now; what the wire carries out."""
        self._batch, self._cursor, self._written = batch, 0, 0
        self._busy = True
        self._ahead = len(self._buffer)  # whatever is buffered was sent before this reply
        if self._client_idle is not self._server_idle and not self._closing and not self._stalled:
            return (self._server_idle, *batch)  # the client waits on us: only our limit runs
        return batch

    def _replace(self, actions: tuple[Action, ...]) -> tuple[Action, ...]:
        """A batch that replaces the one under way (a timer, an error)."""
        self._abandon()
        self._busy = False
        return self._start(actions)

    def _abandon(self, when: float | None = None) -> None:
        """The rest of the current batch will never be carried out: its replies are recorded as
        not delivered, each with how much of it was written (at ``when``; None: now); while
        replies queued before it wait for the socket, once they are through (:meth:`_given_up`)."""
        if not self._busy:
            return
        behind = bool(self._queue)  # replies queued before it wait for the socket still
        if not behind:
            self._hold_back()
        written = self._written
        rest = self._batch[self._cursor :]
        if rest and type(rest[-1]) is Consult:  # a user's handler still deciding (F10)
            rest = rest[:-1] + self.session.unanswered()
        for action in rest:
            if isinstance(action, Send) and action.note is not None:
                if behind:  # (an internal error: the wire writes its 451 once they went)
                    self._after_queue.append((action.note, written))
                else:
                    self.session.undelivered(action.note, written, when)
                written = 0
        self._batch, self._cursor, self._written = (), 0, 0

    def _end(self) -> tuple[Action, ...]:
        """Close now (the client's close, if that is why, is recorded already)."""
        self._over = True
        self._busy = False
        return _CLOSE_NOW

    def _client_closed(self, text: str, when: float | None) -> None:
        """The entry for the client's EOF or reset, at the time it came: after the lines before
        it (held back while they wait; with no whole one waiting, after the line or the message
        it cut short)."""
        if self.session.silent_close:  # the client left in abort's silence: its text first
            self._message_before_close()
        buffer = self._buffer
        if self._discarding or (buffer and self._line_end(buffer, len(buffer)) < 0):
            self._unterminated()
        session = self.session
        if not buffer and (session.mode is _MODE_DATA or session.chunk is not None):
            self._input_over()
        if buffer or session.held is not None:
            self._hold_back(ended=True)
        session.client_closed(text, when)

    def _input_over(self) -> None:
        """Everything the client sent before its close is read: a message it was sending (in
        DATA, or a BDAT chunk, RFC 3030 §2) is unfinished, ended by the close (:meth:`_cut`);
        nothing outside a message (the close path of every session passes here)."""
        session = self.session
        chunk = session.chunk
        if chunk is not None and not chunk.after_close:
            # the chunk's entry and its chunk-short at the close, before the close's own entry
            session.arrived = self._cut()
            bdat.ended(session)
        elif session.mode is _MODE_DATA:
            session.left_in_message(self._cut())

    def _cut(self) -> float:
        """When a message the connection's end cuts short ended: the client's close (EOF or
        reset), or now when the server ends it (a stop, a reset, a timer's 421); not at its last
        octet: the transcript stays in time order when a reply went out between that octet and
        the close (a command line, instead, holds such a reply back: :meth:`_line_open`)."""
        eof = self._eof
        return self.session.clock.now() if eof is None else eof

    def _unterminated(self) -> None:
        """The end of the connection leaves the buffered octets (no whole line among them)
        without their line ending: they never get one. Recorded and judged, never answered."""
        buffer, session = self._buffer, self.session
        if (not buffer and not self._discarding) or session.chunk is not None:
            return  # (a BDAT chunk is framed by its size: read on as it is)
        if (
            not self._discarding
            and len(buffer) >= (AUTH_LINE_LIMIT if _auth_line(session) else LINE_LIMIT)
            and session.mode is not _MODE_DATA
        ):
            self._discarding = True  # more than the reader holds (buffered while a reply went out)
            self._long_head, self._long_size = bytes(buffer[:COMMAND_LINE_LIMIT]), 0
            self._long_ahead = self._ahead > 0
        fragment = bytes(buffer)
        buffer.clear()
        ahead = self._took(len(fragment))  # (session.arrived: when its last octet came)
        if session.mode is _MODE_DATA:
            session.arrived = self._cut()  # the message's text ends at the close that cut it
        if self._discarding:
            self._discarding = False
            size = self._long_size + len(fragment)
            session.line_too_long(self._long_head, size, ended=True, pipelined=self._long_ahead)
            return
        partial, self._mid_line = self._mid_line, False
        session.unterminated(fragment, partial=partial, pipelined=ahead)

    def _read_with_cut(self) -> None:
        """A cut at octet N mid-line (fresh10 F7): the whole lines of text read with it, up to
        the final ".", are recorded now as text after the close, as they were when they came in
        one block with the cut line (Session._lines), not left to the end's bounded drain."""
        buffer = self._buffer
        for _ in range(len(buffer)):  # (bounded: each round takes a line or stops)
            end = buffer.find(b"\n")
            if end < 0 or (not self._mid_line and bytes(buffer[: end + 1]) in (b".\r\n", b".\n")):
                break
            if self._next_piece() is None:
                break

    def _message_before_close(self) -> None:
        """A close after a silence in a message (abort's seconds) goes out: the text that came
        meanwhile (buffered: the batch was under way) is the message's, up to its final "."
        (never read as its end: the server said nothing to it); then the message is cut,
        unfinished, and the rest is after the close (fresh10 F8)."""
        buffer, session = self._buffer, self.session
        # the text came after the 354 went out (the silence follows it): not ahead of a reply;
        # what follows its "." is, as before (no reply to it came)
        ahead, self._ahead = self._ahead, 0
        for _ in range(DRAIN_LINES * 10):  # (bounded: each round takes a piece or stops)
            if session.mode is not _MODE_DATA or not buffer:
                break
            if not self._mid_line:
                end = self._line_end(buffer, len(buffer))
                if end >= 0 and session.body.is_end(bytes(buffer[: end + 1]), False):
                    break
            if self._next_piece() is None:
                break
        self._ahead = min(ahead, len(buffer))
        self._text_cut()
        session.silently_closed()

    def _text_cut(self) -> None:
        """The server ends the connection mid-message: text the client sent without its line
        ending yet counts in the unfinished message (lines still waiting are read later); a
        BDAT chunk being read ends with the octets it got (both before the server's 421)."""
        session = self.session
        if session.chunk is not None:
            bdat.ended(session, by_server=True)
        elif (
            session.mode is _MODE_DATA
            and self._buffer
            and self._line_end(self._buffer, len(self._buffer)) < 0
        ):
            self._unterminated()

    def _under_way(self) -> bool:
        """The current batch still has actions to carry out (beyond arming timers)."""
        return any(not isinstance(a, TIMER_ACTIONS) for a in self._batch[self._cursor :])

    # -- framing ----------------------------------------------------------------------------------

    def _pump(self) -> tuple[Action, ...]:
        """Process buffered lines until one gets a batch (or the buffer runs dry)."""
        session = self.session
        while self._buffer and not self._over:
            actions = self._next_piece()
            if actions is None:
                break
            self._heard = True
            if self._marks is not None:
                if not actions and not self._buffer and self._eof is not None:
                    self._input_over()  # before the client's close, released next
                self._release_due()
            if actions:
                started = self._start(actions)
                if self._busy or self._over:
                    return started
        if self._eof is not None and not self._busy and not self._over:
            # the client's close ended what it sent: no more comes
            if self._buffer or self._discarding:
                self._unterminated()
            self._input_over()
        if session.held is not None and not self._line_open():
            session.release()  # no whole line is left: the rest ends after what was held
        return ()

    def _next_piece(self) -> tuple[Action, ...] | None:
        """Take the next line (or data piece) off the buffer and hand it to the session; None
        when no whole one is there yet (octets of a BDAT chunk or of a discarded line that
        complete no record, see :func:`_records`, are taken but count as none)."""
        buffer, session = self._buffer, self.session
        chunk = session.chunk
        if chunk is not None:
            if chunk.after_close:  # the rest of a chunk the server's close cut
                take = min(len(buffer), chunk.size - chunk.received)
                del buffer[:take]
                self._took(take)
                bdat.after_close(session, take)
                return ()
            # RFC 3030: a BDAT chunk is framed by its size, not by lines
            take = min(len(buffer), chunk.want)
            data = bytes(buffer[:take])
            del buffer[:take]
            self._took(take)
            before = chunk.received
            actions = bdat.receive(session, data)
            if actions or session.chunk is not chunk or _records(before, take):
                return actions
            return None  # (octets short of a record: read, but no record yet)
        if self._discarding:
            end = self._line_end(buffer, len(buffer))
            if end < 0:
                # (a last CR stays: with bare_cr clean, the octet after it says if it ends the line)
                take = len(buffer) - (self._cr_ends and buffer.endswith(b"\r"))
                before = self._long_size
                self._long_size += take
                self._took(take)
                del buffer[:take]
                return () if _records(before, take) else None
            self._long_size += end + 1
            self._took(end + 1)
            del buffer[: end + 1]
            self._discarding = False
            return session.line_too_long(
                self._long_head, self._long_size, pipelined=self._long_ahead
            )
        if (
            session.mode is _MODE_CLOSED
            and not session.text_after_close
            and session.closed_counted[0] >= TEXT_SHOWN
            and not session.auth_after_close  # (AUTH answers go one by one: each is masked)
            and not self._over  # (_drain's lines never read are bounded its own way)
        ):
            counted = self._count_after_close(buffer)
            if counted:
                return ()
        # (with a cut_body armed, text goes line by line, and the line holding its octet N in
        # two pieces, so that the cut is at N exactly (fresh10 F7) and its note has the time
        # of the line it cut in, not of the block's last octet)
        if session.mode is _MODE_DATA and session.body.cut is not None:
            take = session.body.cut_piece(buffer, not self._mid_line, self._cr_ends)
            if take:
                piece = bytes(buffer[:take])
                del buffer[:take]
                ahead = self._took(take)
                partial, self._mid_line = self._mid_line, True
                actions = session.receive(piece, partial=partial, pipelined=ahead)
                if actions:
                    self._read_with_cut()
                return actions
        if session.mode is _MODE_DATA and not self._mid_line and session.body.cut is None:
            found = self._text_block(buffer)
            if found is not None:
                block, scan, stuffed = found
                del buffer[: len(block)]
                ahead = self._took(len(block))
                actions = session.receive_text(block, pipelined=ahead, scan=scan, stuffed=stuffed)
                if (
                    not actions
                    and buffer.startswith(b".\r\n")
                    and session.body.is_end(b".\r\n", False)  # (after a CRLF, with crlf_only)
                ):
                    # the final "." right behind the text (most messages): in the same step
                    del buffer[:3]
                    self._took(3)
                    return session.end_of_text()
                return actions
        end = buffer.find(b"\n", 0, LINE_LIMIT) if not self._cr_ends else self._line_end(buffer)
        if end < 0 and _auth_line(session):
            # a SASL response line may be longer than a command line (RFC 4954 §4): looked
            # for only when no line ended within LINE_LIMIT, so a whole command pays nothing
            end = self._line_end(buffer, AUTH_LINE_LIMIT)
            if end < 0 and len(buffer) < AUTH_LINE_LIMIT:
                return None
        if end < 0:
            if len(buffer) < LINE_LIMIT:
                return None
            if session.mode is _MODE_DATA:
                # an over-long line of text goes on in pieces; only the first starts the line.
                # With bare_cr clean a piece never ends in CR: the octet after it says whether
                # it ends the line, so every CR the session gets is known bare or paired
                take = LINE_LIMIT - (self._cr_ends and buffer[LINE_LIMIT - 1] == 13)
                piece = bytes(buffer[:take])
                del buffer[:take]
                ahead = self._took(take)
                partial, self._mid_line = self._mid_line, True
                return session.receive(piece, partial=partial, pipelined=ahead)
            self._discarding = True
            self._long_head, self._long_size = bytes(buffer[:COMMAND_LINE_LIMIT]), 0
            self._long_ahead = self._ahead > 0  # its first octets are the buffer's first
            return ()
        line = bytes(buffer[: end + 1])
        del buffer[: end + 1]
        ahead = self._ahead > 0  # _took(end + 1), inline: this runs for every command
        if ahead:
            self._ahead = max(0, self._ahead - end - 1)
        if self._marks is not None:
            self._stamp(end + 1)
        partial, self._mid_line = self._mid_line, False
        return session.receive(line, partial=partial, pipelined=ahead)

    def _last_line_end(self, buffer: bytearray, stop: int) -> int:
        """Where the last line that ends in ``buffer[:stop]`` ends (its LF; with ``bare_cr:
        clean`` a bare CR too, known bare by the octet after it, so not the last one); -1."""
        end = buffer.rfind(b"\n", 0, stop)
        if self._cr_ends:
            cr = buffer.rfind(b"\r", 0, stop - 1)
            if cr > end and buffer[cr + 1] != 10:
                end = cr
        return end

    def _count_after_close(self, buffer: bytearray) -> bool:
        """After the server's close, past the first :data:`TEXT_SHOWN` lines recorded: the
        whole lines buffered are counted in one step (searches at C speed), not recorded one by
        one, so a flood read in the grace period (fresh16 F4: 2.4 MB of RSETs) takes a callback
        of a few ms, not seconds. Up to a BDAT line: its chunk is framed by its size (read as
        ever). False: no whole line to count (the next one goes the usual way)."""
        end = self._last_line_end(buffer, len(buffer))
        if end < 0:
            return False
        bdat_at = _bdat_line(buffer, end + 1, self._cr_ends)
        if bdat_at == 0:
            return False
        if bdat_at > 0:
            end = bdat_at - 1  # (the line end before it)
        auth = _AUTH_RE.search(buffer, 0, end + 1)
        if auth is not None:
            # an AUTH line goes the usual way: it makes the lines after it masked, as answers
            # (Session.auth_after_close, auth_seen); the lines before it are counted
            end = self._last_line_end(buffer, auth.start() + 1)
            if end < 0:
                return False
        size = end + 1
        lines = buffer.count(b"\n", 0, size)
        if self._cr_ends:
            lines += buffer.count(b"\r", 0, size) - buffer.count(b"\r\n", 0, size)
        first_size = self._line_end(buffer, size) + 1
        start = buffer.rfind(b"\n", 0, end) + 1  # the last line's
        if self._cr_ends:  # (a CR in it but at its end, paired with the LF that ends it: bare)
            start = max(start, buffer.rfind(b"\r", start, end - (buffer[end] == 10)) + 1)
        first, last = bytes(buffer[:first_size]), bytes(buffer[start:size])
        session = self.session
        first_ahead = self._took(first_size)
        first_when = session.arrived if session.arrived is not None else session.clock.now()
        last_ahead, last_when = first_ahead, first_when
        if lines > 1:
            self._took(start - first_size)
            last_ahead = self._took(size - start)
            last_when = session.arrived if session.arrived is not None else session.clock.now()
        del buffer[:size]
        self._mid_line = False
        session.count_after_close(
            lines,
            size,
            (first, first_when, first_ahead),
            (last, last_when, last_ahead),
            max(last_when, self._closed_at),
        )
        return True

    def _drain(self) -> None:
        """What the client sent and the server never got to (a reset, a close that did not wait)
        is still recorded, and judged, before the session ends."""
        session = self.session
        if self._buffer:
            for _ in range(DRAIN_LINES):
                if not self._buffer:
                    break
                before = len(self._buffer)
                actions = self._next_piece()
                if actions:
                    self._not_sent(actions)
                if len(self._buffer) == before:  # a last line without its LF
                    self._unterminated()
                if not self._buffer:
                    self._input_over()  # before the client's close, released next
                if self._marks is not None:
                    self._release_due()
            if self._buffer:
                session.record("client", f"({len(self._buffer)} more octets, not read)", note=True)
        elif self._discarding:
            self._unterminated()  # an over-long line its close cut short
        if session.chunk is not None or session.mode is _MODE_DATA:  # (else it does nothing)
            self._input_over()
        if session.held is not None:
            session.release()

    def _not_sent(self, actions: tuple[Action, ...]) -> None:
        """The server acted on a line read after the client left (a message accepted, a
        transaction begun: an MTA that read it does as much, RFC 1047), so each reply it decided
        is in the record, not delivered, 0 octets written, at the close's time (fresh14 F4)."""
        if type(actions[-1]) is Consult:  # a user's handler would decide: its normal reply
            actions = actions[:-1] + self.session.unanswered()
        for action in actions:
            if type(action) is Send and action.note is not None:
                self.session.undelivered(action.note, 0, self._eof)

    def _text_block(self, buffer: bytes | bytearray) -> tuple[bytes, TextScan, bool] | None:
        """The whole lines of message text at the start of ``buffer`` (the connection's, or a
        read) that can go to the session in one piece: up to the final "." (or the first
        over-long line), at least two lines; with its :func:`~smtpfake.engine.conduct.scan_text`
        and whether a line starts with a dot (RFC 5321 §4.5.2; the session needs both: found
        once here). None when there are fewer."""
        cr_ends = self._cr_ends
        if buffer.startswith(b".\r\n") or buffer.startswith(b".\n"):
            return None
        end = buffer.rfind(b"\n")
        if cr_ends:
            if buffer.startswith(b".\r"):
                return None  # the final "." (or its beginning)
            # a bare CR ends a line too; a CR last is not known bare until the next octet comes
            end = max(end, buffer.rfind(b"\r", 0, len(buffer) - 1))
        if end < 0:
            return None
        # The block ends before the first line too long to go whole and before the first "."
        # line that may be the final one: each searched for before any scan, over a stretch
        # that grows 4-fold, the dots first and the long lines only before the first final, so
        # the text before the block's end is searched about once. A scan or search of all that
        # was read for each line made text of 1,024-octet lines cost ~0.8 ms a line (fresh19
        # F1), and of "a<LF>.<LF>" lines with bare_lf: normalize ~12 us a line. Lines a bare CR
        # ends go in the block too (fresh20 F2: line by line, ~8 us each, held the loop)
        stuffed = buffer.startswith(b".")
        # A long line near the start first (a few memchr calls): it bounds the dots' search,
        # which otherwise ran over a read's worth for each such line (~35 us a line of
        # 1,024-octet text, fresh22 F1)
        near = long_line_at(buffer, LINE_LIMIT, min(end + 1, _NEAR), cr_ends)
        if near == 0:
            return None  # it goes in pieces
        if near > 0:
            first, final = _dots(buffer, near, cr_ends, self._crlf_only)
            end = final if final >= 0 else near - 1
            stuffed = stuffed or 0 <= first < end  # (stuffed: see below)
        else:
            probe = _PROBE
            while True:
                stop = min(end + 1, probe)
                first, final = _dots(buffer, stop, cr_ends, self._crlf_only)
                long_at = long_line_at(
                    buffer, LINE_LIMIT, final + 1 if final >= 0 else stop, cr_ends
                )
                if long_at == 0:
                    return None  # it goes in pieces
                if long_at > 0 or final >= 0 or stop == end + 1:
                    end = long_at - 1 if long_at > 0 else final if final >= 0 else end
                    # (a "." line before the end not the final one: stuffed, RFC 5321 §4.5.2)
                    stuffed = stuffed or 0 <= first < end
                    break
                probe *= 4
        if buffer.find(b"\n", 0, end) < 0 and not (
            # (a CR before the line's end, not the pair of its LF: bare)
            cr_ends and buffer.find(b"\r", 0, end - (buffer[end] == 10)) >= 0
        ):
            return None  # one line: the line path is as quick
        block = bytes(buffer[: end + 1])
        scan = scan_text(block, cr_ends)
        if scan[1] > LINE_LIMIT - 1:
            return None  # one to go in pieces
        return block, scan, stuffed

    def _line_end(self, buffer: bytes | bytearray, stop: int = LINE_LIMIT) -> int:
        """Where the first line in ``buffer`` ends (the index of its last octet) before ``stop``;
        -1 when no line ends there yet. A line ends in LF, and with ``server.bare_cr: clean``
        in a bare CR too (bare_lf.cr_line_end)."""
        if self._cr_ends:
            return bare_lf.cr_line_end(buffer, stop)
        return buffer.find(b"\n", 0, stop)

    def _took(self, size: int) -> bool:
        """``size`` octets leave the buffer; whether any of them had come ahead of the reply."""
        ahead = self._ahead > 0
        self._ahead = max(0, self._ahead - size)
        if self._marks is not None:
            self._stamp(size)
        return ahead

    # -- arrival times and the order of the record -------------------------------------------------

    def _mark(self, now: float, size: int) -> None:
        """``size`` octets read at ``now`` join octets of earlier reads in the buffer."""
        marks = self._marks if self._marks is not None else self._begin_marks(now)
        marks.append((self._taken + len(self._buffer) + size, now))

    def _begin_marks(self, now: float | None = None) -> deque[tuple[int, float]]:
        """Marks start: the octets buffered now came at the session's last arrival (if none
        is known, at ``now``; None: the clock's reading)."""
        session = self.session
        arrived = session.arrived
        if arrived is None:
            arrived = session.clock.now() if now is None else now
        marks = self._marks = deque(((len(self._buffer), arrived),))
        self._taken = 0
        return marks

    def _oldest_arrival(self) -> float | None:
        """When the oldest octet in the buffer arrived; None: the buffer is empty."""
        if not self._buffer:
            return None
        marks = self._marks
        if marks is None:
            return self.session.arrived
        taken = self._taken
        for end, time in marks:
            if end > taken:
                return time
        return marks[-1][1]

    def _unmark(self) -> None:
        """The buffer ran dry: every line read before is recorded (so is what was held)."""
        if self.session.held is not None:
            self.session.release()
        self._marks = None

    def _stamp(self, size: int) -> None:
        """``size`` octets leave the buffer: the session's ``arrived`` is when the last came."""
        marks = self._marks
        assert marks is not None
        taken = self._taken = self._taken + size
        while len(marks) > 1 and marks[0][0] < taken:
            marks.popleft()
        session = self.session
        session.arrived = marks[0][1]
        held = session.held
        if held and held[0][0] < taken:
            # what waits on fewer octets than these end at came before their last one (a line
            # that was partly in when a reply went out ends after it): recorded first
            session.release(taken - 1)

    def _hold_back(self, ended: bool = False) -> bool:
        """Whether what is recorded now waits (Session.held): yes while a line that arrived
        before it is still to be read (``ended``: the client's close ended what it sent, so a
        last line without its LF counts as whole). The transcript is in time order: a line the
        client sent while a reply was going out is recorded before that reply, though answered
        after it. The entries held wait until the octets buffered now are read
        (:meth:`_release_due`), or until no whole line is left (what remains ends later)."""
        session = self.session
        buffer = self._buffer
        if session.held is None and (
            (not buffer and not self._line_open())
            or (
                not ended
                and session.mode is _MODE_DATA
                and session.chunk is None
                and len(buffer) < LINE_LIMIT
                and self._line_end(buffer) < 0
            )
        ):
            return False  # at most part of a line of text: the message ends after this
        if self._marks is None:
            self._begin_marks()
        # (a line being discarded: its octets are taken already; one more must come for it
        # to end after this)
        session.hold_to = self._taken + len(buffer) + self._discarding
        if session.held is None:
            session.held = []
        return True

    def _line_open(self) -> bool:
        """Part of a command or AUTH line is in, its LF not yet: what is recorded now waits in
        :attr:`Session.held` until the line ends (then it is recorded first) or the end of the
        connection cuts it (then the line is, at its last octet's time). Message text is not
        held for: a message cut short ends at the close (:meth:`_cut`), after this."""
        session = self.session
        return (
            (bool(self._buffer) or self._discarding)
            and session.mode is not _MODE_DATA
            and session.chunk is None
        )

    def _release_due(self) -> None:
        """Record the held entries whose lines (those that arrived before them) are recorded
        (not while a line too long to hold is discarded: its octets are taken, the line open)."""
        held = self.session.held
        if held is not None and not self._discarding and (not held or held[0][0] <= self._taken):
            self.session.release(self._taken)

    def before_tls(self) -> bytes:
        """The handshake starts now (the wire calls this as it starts it). What the client sent
        after STARTTLS and before it must not be read as if it came over TLS (RFC 3207 §4,
        CVE-2011-0411): discarded and recorded. With implicit TLS it is the start of the
        client's handshake (a loop may deliver it before the wire could stop reading): returned
        for the TLS layer."""
        data = bytes(self._buffer)
        if data and self._marks is not None:
            self._stamp(len(data))  # the discarded octets' time: their last one's
        self._buffer.clear()
        self._ahead = 0
        session = self.session
        if session.settings.tls.implicit and not session.tls_active:
            self._unmark()
            return data
        if data:
            session.discarded_before_tls(len(data))
        self._unmark()
        return b""
