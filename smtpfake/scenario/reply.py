"""An SMTP reply as data, and its rendering on the wire (RFC 5321 §4.2.1)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# ASCII digits only, whole string (``\d`` would take non-ASCII digits, ``$`` a trailing newline).
ENHANCED_RE = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})")
# A first word that was meant as an enhanced code ("4.3", "4.x.2", "4.3.2.1"), well-formed or not.
_ENHANCED_LIKE_RE = re.compile(r"[0-9]+(\.[0-9A-Za-z]*)+")


@dataclass(frozen=True)
class Reply:
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
        return [f"{prefix}{line}".rstrip() for line in (self.lines or ("",))]

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


def check_reply(code: object, enhanced: object) -> list[tuple[str, str]]:
    """Problems with a reply's code and enhanced code, as (field, message) pairs."""
    problems: list[tuple[str, str]] = []
    if isinstance(code, bool) or not isinstance(code, int) or not 200 <= code <= 599:
        problems.append(
            ("code", f"reply code must be three digits starting with 2 to 5, got {code!r}")
        )
        return problems
    if enhanced is None:
        return problems
    m = ENHANCED_RE.fullmatch(str(enhanced))
    if not m:
        problems.append(
            ("enhanced", f"enhanced status code must look like 5.1.1 (RFC 3463), got {enhanced!r}")
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
    enhanced: str | None = None
    first, _, tail = rest.partition(" ")
    # Taken as the enhanced code even when malformed, so check_reply reports it instead of it
    # going out silently as part of the text.
    if _ENHANCED_LIKE_RE.fullmatch(first):
        enhanced, rest = first, tail
    return int(head), enhanced, rest
