"""An SMTP reply as data, and its rendering on the wire (RFC 5321 §4.2.1)."""

from __future__ import annotations

import re

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.lazy_pattern import compiled_on_first_use
from smtpfake.scenario.limits import MAX_NUMBER_CHARS, MAX_REPLY_LINE_OCTETS, MAX_REPLY_LINES

# ASCII digits only, whole string (``\d`` would take non-ASCII digits, ``$`` a trailing newline).
# RFC 3463 §2: class.subject.detail, subject and detail 1-3 digits without leading zeros
ENHANCED_RE = compiled_on_first_use(r"([245])\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})")
# A first word that was meant as an enhanced code ("4.3", "4.x.2", "4.3.2.1"), well-formed or not.
ENHANCED_LIKE_RE = compiled_on_first_use(r"[0-9]+(\.[0-9A-Za-z]*)+")


@frozen_dataclass
class Reply:
    """An SMTP reply (RFC 5321 §4.2): its three-digit ``code``, its text ``lines`` (one per
    line of a multi-line reply, §4.2.1) and an ``enhanced`` status code (RFC 3463) or None."""

    code: int
    lines: tuple[str, ...] = ("",)
    enhanced: str | None = None

    @property
    def is_positive(self) -> bool:
        return self.code < 400

    @property
    def closes(self) -> bool:
        # RFC 5321 §3.8: 421 always means the server is closing the channel.
        return self.code == 421

    def text(self) -> str:
        """The reply as one human-readable line (for logs and transcripts)."""
        return f"{self.code} " + " | ".join(self._wire_lines())

    def _wire_lines(self) -> list[str]:
        prefix = f"{self.enhanced} " if self.enhanced else ""
        # an empty text keeps the SP after the enhanced code: RFC 2034 §3 prefixes the text
        # with the code "followed by one or more spaces" ("250 2.0.0 ", as "250 " alone)
        return [f"{prefix}{line}".rstrip() if line else prefix for line in (self.lines or ("",))]

    def render(self) -> bytes:
        """Multi-line replies use ``code-`` on every line but the last (§4.2.1); the last line
        has the SP even with no text ("250 "), which servers SHOULD send (§4.2.1)."""
        body = self._wire_lines()
        last = len(body) - 1
        out = [f"{self.code}{' ' if i == last else '-'}{line}\r\n" for i, line in enumerate(body)]
        return "".join(out).encode("utf-8")


def reply(code: int, text: str | tuple[str, ...], enhanced: str | None = None) -> Reply:
    lines = (text,) if isinstance(text, str) else text
    return Reply(code=code, lines=lines, enhanced=enhanced)


def valid_code(code: object) -> bool:
    """RFC 5321 §4.2: three digits, the first 2-5 (1yz is not used), the second 0-5."""
    return (
        isinstance(code, int)
        and not isinstance(code, bool)
        and 200 <= code <= 599
        and (code // 10) % 10 <= 5
    )


def check_text(text: str, *, room: int = MAX_REPLY_LINE_OCTETS - 6) -> str | None:
    """Why ``text`` cannot go on the wire as (part of) one reply line, or None.

    RFC 5321 §4.2: reply text is ``textstring = 1*(%d09 / %d32-126)``: printable US-ASCII,
    space and tab; no CR or LF (which would start a reply line of the scenario's own) and no
    other control character. smtpfake keeps reply text ASCII (SMTPUTF8, RFC 6531, does not
    extend reply text). ``room``: octets left on the line (512 less the code, separator and
    CRLF, §4.5.3.1.5). Broken replies on purpose are the ``malformed`` fault's job.
    """
    for ch in text:
        if ch == "\t" or " " <= ch <= "~":
            continue
        if ch in "\r\n":
            return (
                f"a line break ({_char(ch)}) inside a reply line would put a reply line of its "
                "own on the wire; give the lines as a list"
            )
        if not ch.isascii():
            return f"{_char(ch)} is not ASCII (reply text is US-ASCII, RFC 5321 §4.2)"
        return f"control character {_char(ch)} is not allowed in reply text (RFC 5321 §4.2)"
    if len(text) > room:
        return (
            f"{len(text)} octets is too long: a reply line is at most "
            f"{MAX_REPLY_LINE_OCTETS} octets with its code and CRLF (RFC 5321 §4.5.3.1.5), "
            f"which leaves {room} here"
        )
    return None


def _char(ch: str) -> str:
    return f"U+{ord(ch):04X}" + (f" {ch!r}" if ch.isprintable() else "")


def check_reply(
    code: object, enhanced: object, lines: tuple[str, ...] = (), *, defaulted: bool = False
) -> list[tuple[str, str]]:
    """Problems with a reply's code, enhanced code and text lines, as (field, message) pairs.
    ``defaulted``: a 2xx/4xx/5xx reply without ``enhanced`` gets its class default (``2.0.0 ``)
    on the wire, so each line keeps room for it within 512 octets (RFC 5321 §4.5.3.1.5)."""
    problems: list[tuple[str, str]] = []
    if len(lines) > MAX_REPLY_LINES:
        problems.append(("text", f"{len(lines)} lines; a reply has at most {MAX_REPLY_LINES}"))
    if isinstance(enhanced, str):
        prefix = len(enhanced) + 1
    else:  # the class default "X.0.0 " that goes in front of each line (never on a 3xx)
        prefix = 6 if defaulted and valid_code(code) and str(code)[0] != "3" else 0
    for i, line in enumerate(lines[:MAX_REPLY_LINES]):
        why = check_text(line, room=MAX_REPLY_LINE_OCTETS - 6 - prefix)
        if why:
            where = f" (line {i + 1})" if len(lines) > 1 else ""
            problems.append(("text", f"reply text{where}: {why}"))
            break
    if not valid_code(code):
        problems.append(
            (
                "code",
                "reply code must be three digits starting with 2 to 5, the second digit 0 to "
                f"5 (RFC 5321 §4.2), got {code!r}",
            )
        )
        return problems
    assert isinstance(code, int)
    if enhanced is None:
        return problems
    m = ENHANCED_RE.fullmatch(str(enhanced))
    if not m:
        problems.append(
            (
                "enhanced",
                "enhanced status code must look like 5.1.1 (RFC 3463 §2: class.subject.detail, "
                f"no leading zeros), got {enhanced!r}",
            )
        )
    elif code // 100 == 3:
        problems.append(("enhanced", f"{code} is intermediate: it takes no enhanced status code"))
    elif int(m.group(1)) != code // 100:
        problems.append(
            (
                "enhanced",
                f"enhanced code {enhanced} has class {m.group(1)} but reply {code} has class "
                f"{code // 100} (RFC 3463 §2: they must agree)",
            )
        )
    return problems


def parse_reply_string(value: str) -> tuple[int | None, str | None, str]:
    """Split ``"421 4.3.2 text"`` into (code, enhanced, text); code None when not numeric."""
    parts = value.strip().split(" ", 1)
    head = parts[0]
    rest = parts[1] if len(parts) > 1 else ""
    if not re.fullmatch(r"[0-9]+", head):
        return None, None, value
    if len(head) > MAX_NUMBER_CHARS:
        return None, None, value  # not a reply code (and int() of 4,301 digits would raise)
    enhanced: str | None = None
    first, _, tail = rest.partition(" ")
    # Taken as the enhanced code even when malformed, so check_reply reports it instead of it
    # going out silently as part of the text.
    if ENHANCED_LIKE_RE.fullmatch(first):
        enhanced, rest = first, tail
    return int(head), enhanced, rest
