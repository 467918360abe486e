"""What the client did wrong, as a real server would hold it against it: pipelining out of turn,
bare CR or LF, over-long lines, 8-bit text nobody agreed to, more octets than SIZE= declared, a
retry before the server's hint ran out.

The session feeds it what it sees; it tells violations through the ``violate`` it was given.
Nothing here changes a reply: the client is judged, not answered.
"""

from __future__ import annotations

from typing import Protocol

from smtpfake.lazy_pattern import compiled_on_first_use

#: RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with its CRLF
COMMAND_LINE_LIMIT = 512
#: RFC 5321 §4.5.3.1.6: a line of message text is at most 1000 octets with its CRLF
TEXT_LINE_LIMIT = 1000
#: RFC 1870 §5 counts the CRLF ending the last line; smtplib and aiosmtplib add it to a message
#: that lacks one after computing SIZE=, so an excess this small is not held against the client
SIZE_SLACK = 2
#: RFC 2920 §3.1 (and RFC 3207 §4 for STARTTLS): commands that may only end a pipelined group
GROUP_ENDERS = frozenset({"EHLO", "DATA", "VRFY", "EXPN", "TURN", "QUIT", "NOOP", "STARTTLS"})


def bad_pipelining_rfc() -> str:
    """What a bad-pipelining detail cites: the kind's own sections, as its ``rfc`` field shows
    them (one source)."""
    # imported here, as Session.violate does: serve starts without the list
    from smtpfake.scenario.violations import VIOLATION_KINDS

    return VIOLATION_KINDS["bad-pipelining"]


#: what a lone LF and a lone CR are told as, in that order
_BARE = (
    ("bare-lf", "a bare LF (no CR before it) in {where} (RFC 5321 §2.3.8, §4.1.1.4)"),
    ("bare-cr", "a bare CR (no LF after it) in {where} (RFC 5321 §2.3.8)"),
)

_UNTERMINATED = (
    "a command line without its CRLF: the client closed the connection in the middle of it "
    "(RFC 5321 §2.3.8, §4.1.1: a command ends with CRLF)"
)

MESSAGE = "(message data)"  # the command a violation in the message text is told against


#: what :func:`scan_text` tells of whole lines of message text: (lines, long line, a bare LF, a
#: bare CR); ``long line``: the longest line's octets before its LF when one is over
#: TEXT_LINE_LIMIT with it, else 0
TextScan = tuple[int, int, bool, bool]


def scan_text(text: bytes, cr_ends: bool = False) -> TextScan:
    """Whole lines of message text (``text`` ends in LF, or with ``cr_ends`` in a bare CR too),
    scanned for what the session counts and judges: how many lines, a bare LF or CR (RFC 5321
    §2.3.8), a line over TEXT_LINE_LIMIT octets with its line ending (RFC 5321 §4.5.3.1.6).
    ``cr_ends``: a bare CR ends a line (``bare_cr: clean``). The same verdicts as counting each
    (the property test in tests/engine/test_text_scan.py holds it to that)."""
    # Most text is CRLF lines, none long: proved by scans that cost a fraction of what counting
    # costs (on CPython 3.11 bytes.count of one octet is a plain loop, ~9 instructions an octet,
    # and a two-octet search or replace about as much; a one-octet replace, `in` and rfind are
    # memchr). Text is CRLF lines alone exactly when taking its CRs out and writing each LF as
    # CRLF gives it back: every CR of that is followed by an LF, every LF follows a CR. Its
    # lines are then its CRs. Any other text is counted.
    bare = text.replace(b"\r", b"")
    if bare.replace(b"\n", b"\r\n") == text and long_line_at(text, TEXT_LINE_LIMIT, len(text)) < 0:
        return len(text) - len(bare), 0, False, False
    lines = text.count(b"\n")
    pairs = text.count(b"\r\n")
    crs = text.count(b"\r")
    if cr_ends:
        # each bare CR ends a line too; a long line is looked for by memchr first (the split
        # makes an object a line: most such text has none)
        long_line = 0
        if long_line_at(text, TEXT_LINE_LIMIT, len(text), cr_ends=True) >= 0:
            # every line ending as one octet (a CRLF's CR counted in its line, as before an LF)
            ends = text.replace(b"\r\n", b"\0\n").replace(b"\r", b"\n")
            long_line = max(map(len, ends.split(b"\n")))
        return lines + crs - pairs, long_line, lines != pairs, crs != pairs
    longest = max(map(len, text.split(b"\n")))
    long_line = longest if longest >= TEXT_LINE_LIMIT else 0
    return lines, long_line, lines != pairs, crs != pairs


_BARE_LF = compiled_on_first_use(rb"(?<!\r)\n")
_BARE_CR = compiled_on_first_use(rb"\r(?!\n)")
_LONG = compiled_on_first_use(rb"[^\n]{%d}" % TEXT_LINE_LIMIT)
#: where a bare CR ends a line no CR is inside one: TEXT_LINE_LIMIT octets before its LF or
#: bare CR, a CRLF's CR counted
_LONG_CR = compiled_on_first_use(
    rb"[^\r\n]{%d}|[^\r\n]{%d}\r\n" % (TEXT_LINE_LIMIT, TEXT_LINE_LIMIT - 1)
)
_NON_ASCII = compiled_on_first_use(rb"[\x80-\xff]")


def _first_lines(
    text: bytes, bare_lf: bool, bare_cr: bool, long: bool, ascii: bool, cr_ends: bool
) -> list[tuple[int, int]]:
    """For whole lines of text: what they have to tell, each as (where the first line that
    tells it ends, what: 0 a bare LF, 1 a bare CR, 2 a long line, 3 8-bit text), sorted: the
    order text judged line by line tells them (within a line, in that order). ``cr_ends``: a
    bare CR ends a line too."""
    found = []
    for present, pattern, what in (
        (bare_lf, _BARE_LF, 0),
        (bare_cr, _BARE_CR, 1),
        (long, _LONG_CR if cr_ends else _LONG, 2),
        (not ascii, _NON_ASCII, 3),
    ):
        match = pattern.search(text) if present else None
        if match is not None:
            at = match.start()
            end = text.find(b"\n", at)
            if cr_ends:
                # a CR before that LF but its pair is bare: it ends the line first
                cr = text.find(b"\r", at, end - 1 if end >= 0 else len(text))
                end = cr if cr >= 0 else end
            found.append((end, what))
    return sorted(found)


def long_line_at(text: bytes | bytearray, limit: int, stop: int, cr_ends: bool = False) -> int:
    """Where the first line of ``text[:stop]`` with ``limit`` octets or more before its LF starts
    (the start of ``text`` counts as a line's), -1 when none has. ``cr_ends``: a bare CR ends a
    line too (``text[:stop]`` ends a line). Each window's last line end starts the next window,
    so the next one found is past the window before: at most two rfind (memchr) calls per
    ``limit`` octets (four with ``cr_ends``)."""
    start = 0
    while stop - start >= limit:
        window = start + limit
        end = text.rfind(b"\n", start, window)
        if cr_ends:
            cr = text.rfind(b"\r", start, window)
            if cr == window - 1 and text.startswith(b"\n", window):
                cr = text.rfind(b"\r", start, cr)  # a CRLF's CR, its LF past the window: no end
            end = max(end, cr)  # (a CR before the last LF: bare or not, that LF ends later)
        if end < 0:
            return start
        start = end + 1
    return -1


class Judged(Protocol):
    """The session a Conduct judges: where violations go and what EHLO offered."""

    def violate(self, kind: str, detail: str, command: str) -> None: ...

    def advertised(self, keyword: str) -> bool:
        """Whether the client was offered this extension in an EHLO reply."""
        ...


class Conduct:
    """One session's judge of the client. ``session``: where it tells violations and asks what
    the client was offered (what it may do depends on it); the session passes a weak proxy of
    itself, so the two make no reference cycle (a finished session is freed by its reference
    count, not left to the cyclic collector)."""

    # slots: one per connection; no __dict__, and no set until something is told
    __slots__ = (
        "_cr_pending",
        "_line_size",
        "_session",
        "_told",
        "pipelined",
        "previous",
        "previous_ok",
    )

    def __init__(self, session: Judged) -> None:
        self._session = session
        # Told once per session (or per message for the text), so a flooding client cannot
        # grow the journal without bound. Made on the first violation (most sessions have none).
        self._told: set[str] | None = None
        self.previous: str | None = None  # the last command's verb; None before any line
        self.pipelined = False  # the command at hand was sent before the previous reply
        self.previous_ok = True  # the previous reply was positive
        self._line_size = 0  # octets of the current text line so far (over-long lines: pieces)
        self._cr_pending = False  # a piece ended in CR; its LF may start the next piece

    def tell(self, kind: str, detail: str, command: str, *, per_message: bool = False) -> None:
        """A violation told once per session (or once per message): floods stay bounded."""
        key = f"message:{kind}" if per_message else kind
        told = self._told
        if told is None:
            told = self._told = set()
        if key not in told:
            told.add(key)
            self._session.violate(kind, detail, command)

    def told_in_message(self, kind: str) -> bool:
        """Whether ``kind`` was told of the current message (bare_lf.py refuses on it)."""
        return self._told is not None and f"message:{kind}" in self._told

    def new_message(self) -> None:
        """DATA was accepted: what is told once per message may be told again."""
        if self._told:
            self._told = {k for k in self._told if not k.startswith("message:")}
        self._line_size = 0
        self._cr_pending = False

    # -- commands ------------------------------------------------------------------------------

    def command(self, verb: str, pipelined: bool) -> None:
        """A command line arrived (``pipelined``: before the reply to the previous one)."""
        self.pipelining(verb, pipelined)
        self.pipelined = pipelined

    def pipelining(self, verb: str, pipelined: bool, after: str | None = None) -> None:
        """RFC 5321 §4.3.1: the client waits for each reply (the greeting first) unless
        PIPELINING was offered; RFC 2920 §3.1: and even then not after a group's last command."""
        previous = after if after is not None else self.previous
        if after is None:
            self.previous = verb
        if not pipelined:
            return
        if previous is None:
            self.tell(
                "early-talker",
                "the client sent before the server's greeting (RFC 5321 §4.3.1)",
                verb,
            )
            return
        what = "the final '.'" if previous == "." else previous or "an empty line"
        sent = f"{verb or 'an empty line'} was sent before the reply to {what}"
        if not self._session.advertised("PIPELINING"):
            self.tell(
                "pipelining-without-extension",
                f"{sent}, and PIPELINING was not advertised (RFC 5321 §4.3.1, RFC 2920)",
                verb,
            )
        elif previous in GROUP_ENDERS:
            self.tell(
                "bad-pipelining",
                f"{sent}, which must end a pipelined group ({bad_pipelining_rfc()})",
                verb,
            )

    def refusal_expected(self) -> bool:
        """RFC 2920 §3.1: a pipelining client sends DATA (RCPT) before it learns that its RCPT
        (MAIL) was refused; the 503 that follows is the expected outcome, not its mistake."""
        return self.pipelined and not self.previous_ok and self._session.advertised("PIPELINING")

    def command_too_long(self, verb: str, size: int | None = None) -> None:
        """A command line over the limit; ``size`` None: the reader discarded it unmeasured."""
        if size is None:
            detail = f"a command line over {COMMAND_LINE_LIMIT} octets"
        else:
            detail = (
                f"a command line of {size} octets; the limit is {COMMAND_LINE_LIMIT} with its CRLF"
            )
        self.tell("line-too-long", f"{detail} (RFC 5321 §4.5.3.1.4)", verb)

    def line_endings(
        self, data: bytes, command: str, *, message: bool, ended: bool = True, last: bool = False
    ) -> None:
        """RFC 5321 §2.3.8: CR and LF only as a CRLF pair. ``data`` is a line or, in the message,
        a piece of one (a CR ending one piece may pair with an LF starting the next; ``last``:
        the message's final line, whose CR nothing follows). ``ended``: a command line's end
        came (False: the client's close cut it, ``unterminated-line``); with ``bare_cr: clean``
        a line may end in a bare CR."""
        if message:
            if self._cr_pending:
                data = b"\r" + data
            self._cr_pending = data.endswith(b"\r") and not last
            if self._cr_pending:
                data = data[:-1]
        elif not ended:
            self.unterminated(command)
            if data.endswith(b"\r"):
                data = data[:-1]  # a CR the close leaves last: its LF may simply not have come
        pairs = data.count(b"\r\n")
        self._bare(data.count(b"\n") != pairs, data.count(b"\r") != pairs, command, message)

    def _bare(self, lf: bool, cr: bool, command: str, message: bool) -> None:
        """Tell a bare LF and a bare CR, those there were."""
        if not (lf or cr):  # (nearly always: no loop made)
            return
        for (kind, detail), found in zip(_BARE, (lf, cr), strict=True):
            if found:
                where = "the message" if message else "a command"
                self.tell(kind, detail.format(where=where), command, per_message=message)

    def unterminated(self, command: str) -> None:
        """The connection's end cut a command line before its CRLF (RFC 5321 §2.3.8)."""
        self.tell("unterminated-line", _UNTERMINATED, command)

    # -- the message ---------------------------------------------------------------------------

    def text_line(
        self, piece: bytes, *, partial: bool, declared_8bit: bool, settled: bool = False
    ) -> None:
        """One piece of message text (a line, or part of one when ``partial``), dot-unstuffed.
        ``declared_8bit``: MAIL allowed 8-bit text (see body.Declared). ``settled``: a CR that
        ends the piece is known bare (``bare_cr: clean`` frames no piece so unless it ended the
        line): judged now, not paired with the next piece."""
        if not partial:
            self._line_size = 0
        self.line_endings(piece, MESSAGE, message=True, last=settled)
        self._line_size += len(piece)
        self._text(self._line_size, piece.isascii(), declared_8bit)

    def text_block(
        self,
        text: bytes,
        *,
        declared_8bit: bool,
        scan: TextScan | None = None,
        cr_ends: bool = False,
    ) -> None:
        """Several whole lines of message text (dot-unstuffed), judged as text_line judges them
        one by one. ``scan``: :func:`scan_text` of ``text`` when the caller made it (None: made
        here). ``cr_ends``: a bare CR ends a line (``bare_cr: clean``)."""
        self._line_size = 0
        self._cr_pending = False
        _, long_line, bare_lf, bare_cr = scan_text(text, cr_ends) if scan is None else scan
        ascii = text.isascii()
        if ascii and not (bare_lf or bare_cr or long_line):
            return  # nothing to tell (nearly every message): no call to _bare() nor _text()
        if bare_lf + bare_cr + (long_line > 0) + (not ascii) > 1:
            # more than one thing to tell (rare): in the order the lines one by one tell them
            for _, what in _first_lines(text, bare_lf, bare_cr, long_line > 0, ascii, cr_ends):
                if what < 2:
                    self._bare(what == 0, what == 1, MESSAGE, True)
                else:
                    self._text(long_line + 1 if what == 2 else 0, what == 2, declared_8bit)
            return
        self._bare(bare_lf, bare_cr, MESSAGE, True)
        self._text(long_line + 1, ascii, declared_8bit)  # with its LF

    def _text(self, line_size: int, ascii: bool, declared_8bit: bool) -> None:
        if line_size > TEXT_LINE_LIMIT:
            self.tell(
                "line-too-long",
                f"a line of message text over {TEXT_LINE_LIMIT} octets with its CRLF "
                "(RFC 5321 §4.5.3.1.6)",
                MESSAGE,
                per_message=True,
            )
        if ascii or (self._told is not None and "message:8bit-without-8bitmime" in self._told):
            return
        # RFC 6152 §3: 8-bit text needs both the extension and BODY=8BITMIME on MAIL.
        offered = self._session.advertised("8BITMIME")
        if not (offered and declared_8bit):
            how = "MAIL did not declare BODY=8BITMIME" if offered else "8BITMIME was not offered"
            self.tell(
                "8bit-without-8bitmime",
                f"8-bit octets in the message, but {how} (RFC 6152 §3)",
                MESSAGE,
                per_message=True,
            )

    def message_size(self, size: int, declared: int | None) -> None:
        """The whole message against the SIZE= that MAIL declared (RFC 1870 §5)."""
        if declared is not None and size > declared + SIZE_SLACK:
            self._session.violate(
                "size-exceeded",
                f"the message has {size} octets; MAIL FROM declared SIZE={declared} (RFC 1870 §5)",
                ".",
            )

    # -- connections ---------------------------------------------------------------------------

    def reconnected(self, now: float, not_before: float | None) -> None:
        """A new connection from a client that a 4xx with ``server.retry_after`` told to wait
        until ``not_before``."""
        if not_before is not None and now < not_before:
            self._session.violate(
                "retry-too-soon",
                f"connected again {not_before - now:.1f} s before the server's retry_after ran out",
                "",
            )
