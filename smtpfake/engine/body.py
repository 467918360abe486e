"""The message body: what MAIL FROM declared about it, and its text as DATA brings it in."""

from __future__ import annotations

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.plan import BodyCut

#: the line that ends the message (RFC 5321 §4.1.1.4; a bare LF or none is tolerated here)
END_LINES = (b".\r\n", b".\n", b".")
#: the same where a bare CR ends a line (``server.bare_cr: clean``): ``.<CR>`` too
END_LINES_CR = (*END_LINES, b".\r")
#: the final "." line begun, its line ending not (yet) come: not message text
END_LINES_BEGUN = (b".", b".\r")


@frozen_dataclass
class Declared:
    """What MAIL FROM's parameters said about the message to come."""

    size: int | None = None  # SIZE= (RFC 1870)
    eight_bit: bool = False  # the message may hold 8-bit text
    body: str | None = None  # BODY= as given, upper case (7BIT, 8BITMIME, BINARYMIME; RFC 6152)
    smtputf8: bool = False  # the SMTPUTF8 parameter: UTF-8 addresses allowed (RFC 6531 §3.4)
    #: every parameter as the client wrote it, in order (Message.mail_options)
    options: tuple[str, ...] = ()

    @classmethod
    def parse(cls, params: str) -> Declared:
        """8-bit text is allowed by BODY=8BITMIME (RFC 6152), BODY=BINARYMIME (RFC 3030) and
        SMTPUTF8 (RFC 6531: UTF-8 mail is 8-bit)."""
        if not params and cls is Declared:  # most MAIL commands: one record of nothing declared
            return NOTHING_DECLARED
        size: int | None = None
        eight_bit = False
        body: str | None = None
        smtputf8 = False
        words = params.split()
        for word in words:
            key, _, value = word.partition("=")
            key, upper = key.upper(), value.upper()
            if key == "BODY" and body is None:
                body = upper
            if key == "SIZE" and value.isascii() and value.isdigit() and size is None:
                size = int(value)
            if (key == "BODY" and upper in ("8BITMIME", "BINARYMIME")) or key == "SMTPUTF8":
                eight_bit = True
            smtputf8 = smtputf8 or key == "SMTPUTF8"
        return cls(size, eight_bit, body, smtputf8, tuple(words))


#: what a MAIL without parameters declares (frozen: one for all)
NOTHING_DECLARED = Declared()


class Body:
    """One message's text: dot-unstuffed, counted in full, kept only up to ``cap`` octets so it is
    bounded in memory whatever the client sends."""

    # one per connection: no __dict__
    __slots__ = (
        "_cap",
        "_cr",
        "cr_ends",
        "crlf_end",
        "crlf_only",
        "cut",
        "data",
        "lines",
        "size",
    )

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self.data = bytearray()
        self.size = 0  # octets received (after unstuffing), kept or not
        self.lines = 0  # lines (not pieces) so far
        self.cut: BodyCut | None = None  # armed by a cut_body rule on DATA
        #: only <CRLF>.<CRLF> ends the message (``server.bare_lf`` other than accept, set at
        #: DATA): a "." line ending in a bare LF, or after a line that does, is text
        self.crlf_only = False
        #: a bare CR ends a line as a CRLF does (``server.bare_cr: clean``, set at DATA): a
        #: line may end in one, and counts as ending in CRLF for crlf_only
        self.cr_ends = False
        #: with crlf_only: the text so far ends in CRLF (or is none); _cr: its last piece ends
        #: in CR (an LF starting the next piece completes the CRLF; with cr_ends, where no piece
        #: is cut after a CR, the line before ended in a bare CR)
        self.crlf_end = True
        self._cr = False

    def is_end(self, line: bytes, partial: bool) -> bool:
        """Only a whole line can be the final "." (a piece of a long line never is); with
        crlf_only, only ``.\r\n`` after a CRLF (RFC 5321 §4.1.1.4, strictly); with cr_ends a
        bare CR counts as a CRLF, before the "." and after it."""
        if partial or line not in (END_LINES_CR if self.cr_ends else END_LINES):
            return False
        if not self.crlf_only:
            return True
        return (line == b".\r\n" or (self.cr_ends and line == b".\r")) and self.crlf_end

    def add(self, line: bytes, partial: bool) -> bytes:
        """A line, or a later piece of one (``partial``); returns the text it adds."""
        if not partial:
            self.lines += 1
            # RFC 5321 §4.5.2 transparency; but the "." of a line ".<LF>" a bare CR ended the
            # line before (cr_ends, crlf_only: no end) is kept: without it the text would hold a
            # CRLF the client never sent (<CR>.<LF> -> <CR><LF>)
            if line.startswith(b".") and not (self._cr and self.cr_ends and line == b".\n"):
                line = line[1:]
        if self.crlf_only:
            cr = line.endswith(b"\r")
            self.crlf_end = (
                line.endswith(b"\r\n") or (line == b"\n" and self._cr) or (cr and self.cr_ends)
            )
            self._cr = cr
        self.size += len(line)
        if len(self.data) + len(line) <= self._cap:
            self.data += line
        return line

    def add_unfinished(self, fragment: bytes, partial: bool) -> bytes:
        """The last piece of text the connection's end left without its line ending: counted as
        :meth:`add` counts it, but for the final "." line begun (``.``, ``.\r``): that is the
        client ending the message, not text (a whole message's size leaves ``.\r\n`` out too),
        so it adds no octets. Returns the text it adds."""
        if not partial and fragment in END_LINES_BEGUN:
            self.lines += 1  # a line did come: the message is unfinished, not empty
            return b""
        return self.add(fragment, partial)

    def unfinished(self) -> str | None:
        """The transcript text of a message the connection's end cut short (RFC 5321
        §4.1.1.4), or None when the client sent nothing after the 354."""
        return f"(message data, {self.size} bytes, unfinished)" if self.lines else None

    def add_octets(self, data: bytes) -> None:
        """Octets of a BDAT chunk (RFC 3030): kept as sent, no dot-unstuffing, no lines."""
        self.size += len(data)
        if len(self.data) + len(data) <= self._cap:
            self.data += data

    def add_lines(self, block: bytes, lines: int, stuffed: bool | None = None) -> bytes | None:
        """Several whole lines at once (``lines`` of them, none the final "."); returns the text
        they add (``block`` itself when no line starts with a dot), or None when they would not
        all fit under the cap (then add them one by one). ``stuffed``: whether a line starts
        with a dot, when the caller knows (None: looked up here)."""
        # RFC 5321 §4.5.2: one leading dot off every line; the block starts at a line start.
        # With cr_ends a line starts after a bare CR too, and a CR before a dot is bare
        cr_ends = self.cr_ends
        if stuffed is None:
            stuffed = block.startswith(b".") or b"\n." in block or (cr_ends and b"\r." in block)
        text = block
        if stuffed:
            text = (b"\n" + block).replace(b"\n.", b"\n")[1:]
            if cr_ends:
                text = text.replace(b"\r.", b"\r")
        if len(self.data) + len(text) > self._cap:
            return None
        if self.crlf_only:
            cr = block.endswith(b"\r")  # (with cr_ends: the last line ended in a bare CR)
            self.crlf_end, self._cr = block.endswith(b"\r\n") or (cr and cr_ends), cr
        self.lines += lines
        self.size += len(text)
        self.data += text
        return text

    def cut_piece(self, buffer: bytes | bytearray, line_start: bool, cr_ends: bool) -> int:
        """With a cut armed whose octet N falls inside the first line of ``buffer`` (message
        text as it came: dot-stuffed, from a line start or not), the octets of it that take the
        body to exactly N, to go as a piece of that line (``cut_body``: the cut is at N octets,
        not at the end of the line that holds octet N); 0 when the line ends at or before N,
        not enough of it has come yet, or it may still be the final "." (or a bare CR may end
        it: ``cr_ends``, the line path decides)."""
        cut = self.cut
        if cut is None:
            return 0
        need = cut.after_bytes - self.size
        if need <= 0:
            return 0
        dot = 1 if line_start and buffer.startswith(b".") else 0
        if dot and (len(buffer) < 2 or buffer[1] in (10, 13)):
            return 0  # ".", ".\r", ".\n": maybe the message's end, not text
        take = need + dot  # (the stuffing dot is no text: RFC 5321 §4.5.2)
        if len(buffer) < take or buffer.find(b"\n", 0, take) >= 0:
            return 0
        if cr_ends and buffer.find(b"\r", 0, take) >= 0:
            return 0
        return take

    def cut_due(self) -> BodyCut | None:
        """The armed cut, once the body has reached its size (then disarmed)."""
        cut = self.cut
        if cut is None or self.size < cut.after_bytes:
            return None
        self.cut = None
        return cut
