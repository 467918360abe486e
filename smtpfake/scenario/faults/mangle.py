"""Broken replies: cut short (``truncate``) or malformed (``malformed``), as exact bytes.

Both set the plan's ``raw`` bytes; the plan's reply stays, so the session still acts on what the
server meant to say (a truncated 250 after the data has accepted the message, as a real server
whose connection broke would have).
"""

from __future__ import annotations

import builtins
from dataclasses import field

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.faults.base import Fault, FaultContext, register
from smtpfake.scenario.plan import Close, Plan, Shape
from smtpfake.scenario.reply import Reply, check_reply

#: RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its CRLF
REPLY_LINE_LIMIT = 512


@register
@frozen_dataclass
class Truncate(Fault, Shape):
    name = "truncate"
    primary = "bytes"
    doc = "Send only the first BYTES bytes of the reply (e.g. mid-line), then close (FIN)."
    reference = (
        "bytes (or `{bytes}`): send only the first N bytes of the reply (mid-line, say), then "
        "close (FIN); the server still acts as if the whole reply went out"
    )

    bytes: int

    def check(self) -> list[tuple[str, str]]:
        if self.bytes < 1:
            return [
                (
                    "bytes",
                    f"bytes must be at least 1 (for no reply use disconnect), got {self.bytes}",
                )
            ]
        return []

    def octets(self, data: builtins.bytes, reply: Reply | None) -> builtins.bytes:
        return data[: self.bytes]

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        # after a disconnect or a hang there is nothing to cut, and the close is there already
        after = plan.after if plan.closes else (*plan.after, Close())
        return plan.shaped(self).with_(after=after)


KINDS = ("bad-code", "mixed-codes", "bare-lf", "long-line", "no-space")


@register
@frozen_dataclass
class Malformed(Fault, Shape):
    name = "malformed"
    primary = "kind"
    doc = "Send the reply malformed: KIND bad-code, mixed-codes, bare-lf, long-line or no-space."
    reference = (
        "kind (or `{kind, code, length}`): a broken reply: `bad-code` (`2x0`), `mixed-codes` (a"
        " multi-line reply whose last line has another code, `code`, default 451 after a "
        "2xx/3xx, else 250), `bare-lf` (lines end in LF only), `long-line` (the last line "
        "padded to `length` octets, default 1024, over the 512 limit), `no-space` (the bare "
        "code, `250\\r\\n`)"
    )

    kind: str = field(metadata={"choices": KINDS})
    #: mixed-codes: the code the last line carries (default 451 after a 2xx/3xx, else 250)
    code: int | None = None
    #: long-line: the last line's length in octets with its CRLF
    length: int = 1024

    def check(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if self.kind not in KINDS:
            problems.append(("kind", f"unknown kind {self.kind!r} (allowed: {', '.join(KINDS)})"))
        if self.code is not None:
            if self.kind != "mixed-codes":
                problems.append(("code", "code is only for kind mixed-codes"))
            problems.extend(check_reply(self.code, None))
        if self.length != 1024 and self.kind != "long-line":
            problems.append(("length", "length is only for kind long-line"))
        if self.length <= REPLY_LINE_LIMIT:
            problems.append(
                (
                    "length",
                    f"length must be over {REPLY_LINE_LIMIT} octets (the RFC 5321 §4.5.3.1.5 "
                    f"limit), got {self.length}",
                )
            )
        return problems

    def octets(self, data: builtins.bytes, reply: Reply | None) -> builtins.bytes:
        return data if reply is None else self.render(reply)

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        return plan.shaped(self)

    def render(self, reply: Reply) -> builtins.bytes:
        lines = reply.render().split(b"\r\n")[:-1]  # each: code, "-" or " ", text
        code = str(reply.code).encode()
        if self.kind == "bad-code":
            bad = code[:1] + b"x" + code[2:]
            return b"".join(bad + line[3:] + b"\r\n" for line in lines)
        if self.kind == "bare-lf":
            return b"".join(line + b"\n" for line in lines)
        if self.kind == "long-line":
            last, room = lines[-1], self.length - 2  # the CRLF counts toward the length
            if len(last) < room:
                last += b" " + b"x" * (room - len(last) - 1)
            return b"".join(line + b"\r\n" for line in lines[:-1]) + last + b"\r\n"
        if self.kind == "no-space":
            # RFC 5321 §4.2.1 allows a bare code ("clients MUST be prepared for it"); a multi-line
            # reply keeps its lines and ends with one.
            body = [code + b"-" + line[4:] for line in lines] if len(lines) > 1 else []
            return b"".join(line + b"\r\n" for line in body) + code + b"\r\n"
        # mixed-codes: a multi-line reply whose last line carries another code (§4.2.1: MUST NOT)
        other = self.code if self.code is not None else (451 if reply.code < 400 else 250)
        if len(lines) == 1:
            lines = [lines[0], lines[0]]
        head = [code + b"-" + line[4:] + b"\r\n" for line in lines[:-1]]
        return b"".join(head) + str(other).encode() + b" " + lines[-1][4:] + b"\r\n"
