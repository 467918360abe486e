"""Exact bytes on the wire: ``raw`` (a reply sent exactly as written) and ``replies`` (several
replies to one command: a server that gets out of step with its client).

Both still tell the session what the server meant, so it acts on it: the code the bytes begin with
(a ``550`` refuses the command, a ``421`` closes, a ``250`` accepts), as a client would read it.
"""

from __future__ import annotations

import re
from dataclasses import field, replace

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.faults.base import Fault, FaultContext, register
from smtpfake.scenario.plan import Action, Close, Note, Plan, Send, Shape, wire_text
from smtpfake.scenario.reply import Reply, check_reply, parse_reply_string

#: the reply code a raw reply begins with, if it begins with one (RFC 5321 §4.2)
_CODE_RE = re.compile(rb"([2-5][0-9][0-9])(?:[ -]|\r?\n|$)")


def raw_bytes(text: str) -> bytes:
    """The bytes a ``raw`` string stands for: each character is one octet (U+0000 to U+00FF), so
    YAML's double-quoted escapes ``\\r``, ``\\n``, ``\\0``, ``\\xNN`` give exactly that octet."""
    return text.encode("latin-1")


def meant(data: bytes) -> Reply | None:
    """The reply a client would take these bytes for (its code and first line), or None."""
    m = _CODE_RE.match(data)
    if m is None:
        return None
    first = data[4:].split(b"\n", 1)[0].rstrip(b"\r").decode("latin-1")
    return Reply(int(m.group(1)), (first,))


@register
@frozen_dataclass
class Raw(Fault, Shape):
    name = "raw"
    primary = "data"
    doc = (
        "Send exactly these bytes as the reply: one octet per character (U+0000-U+00FF), so "
        'YAML double-quoted escapes ("\\r\\n", "\\0", "\\xff") give exactly those octets; the '
        "server acts on the code they begin with."
    )
    reference = (
        "a string (or `{data}`): send exactly these octets as the reply, nothing added (no "
        "CRLF, no enhanced code). Each character is one octet, U+0000 to U+00FF, so YAML "
        'double-quoted escapes give exact bytes: `"\\r"`, `"\\n"`, `"\\0"` (NUL), `"\\xNN"` (any '
        "octet); a character above U+00FF is a load error (write UTF-8 text as its octets, "
        '`"\\xc3\\xa9"` for é). A blank line in a reply: '
        '`raw: "250-a\\r\\n\\r\\n250 b\\r\\n"`. The '
        "server acts on the code the octets begin with (`550` refuses the command, `421` "
        "closes, `250` accepts); octets that begin with no code leave the normal reply's effect"
    )

    data: str = field(metadata={"schema": {"pattern": "^[\\u0000-\\u00ff]+$"}})

    def check(self) -> list[tuple[str, str]]:
        if not self.data:
            return [("data", "raw needs at least one octet (for no reply use disconnect)")]
        wide = sorted({c for c in self.data if ord(c) > 0xFF})
        if wide:
            shown = ", ".join(f"U+{ord(c):04X}" for c in wide[:3])
            return [
                (
                    "data",
                    f"raw is octets, one per character up to U+00FF; got {shown} (write UTF-8 "
                    'text as its octets, e.g. "\\xc3\\xa9" for é)',
                )
            ]
        return []

    def octets(self, data: bytes, reply: Reply | None) -> bytes:
        return raw_bytes(self.data)

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        reply = meant(raw_bytes(self.data)) or plan.reply
        return plan.shaped(self).with_(reply=reply, enhanced_default=False)


@register
@frozen_dataclass
class Replies(Fault):
    name = "replies"
    primary = "replies"
    doc = (
        'Answer with several replies, each "CODE [ENHANCED] TEXT", sent as written one after '
        "the other (a server out of step); the server acts on the first. A 421 closes after it."
    )
    reference = (
        'a list of `"CODE [X.Y.Z] text"` (or `{replies: [...]}`): answer one command with '
        "several replies, sent as written (no enhanced code added) one after the other in one "
        "write: a server out of step with its client (built-in `out-of-step-replies`). The "
        "server acts on the first; each is its own transcript entry; after a `421` among them "
        "the connection closes and the rest are not sent. A `drip` or `fragment` in the rule "
        "paces each of them as it paces the first (then they go in several writes); `raw`, "
        "`malformed` and `truncate` shape the first only. A CR or LF in a reply's text is a "
        "load error (use `raw`)"
    )

    replies: tuple[str, ...] = field(
        metadata={
            "item": ('a string "CODE [X.Y.Z] text"', 'strings "CODE [X.Y.Z] text"'),
            "schema": {
                "minItems": 1,
                "items": {
                    "type": ["string", "number"],
                    "pattern": "^\\s*[2-5][0-9]{2}( [^\\r\\n]*)?\\s*$",
                },
            },
        }
    )

    def check(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if not self.replies:
            problems.append(("replies", "replies needs at least one reply"))
        for number, text in enumerate(self.replies, 1):
            item = f"replies[{number}]"  # the loader names the item itself: rules[1].replies[2]
            code, enhanced, rest = parse_reply_string(text)
            if code is None:
                problems.append((item, f"each reply starts with its code, got {text!r}"))
                continue
            problems += [(item, m) for _, m in check_reply(code, enhanced)]
            if "\r" in rest or "\n" in rest:
                problems.append((item, f"a reply's text holds no CR or LF (use raw), got {text!r}"))
        return problems

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        first, *more = (_reply(text) for text in self.replies)
        extra: list[Action] = []
        for reply in more:
            data = reply.render()
            extra.append(Send(data, Note(wire_text(data))))
            if reply.closes:  # RFC 5321 §3.8: a 421 is followed by the close, whatever sent it
                extra.append(Close())
                break
        return replace(plan, reply=first, enhanced_default=False, after=(*extra, *plan.after))


def _reply(text: str) -> Reply:
    code, enhanced, rest = parse_reply_string(text)
    assert code is not None, "check() lets only replies with a code through"
    return Reply(code, (rest,), enhanced)
