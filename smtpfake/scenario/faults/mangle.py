"""Broken replies: cut short (``truncate``) or malformed (``malformed``), as exact bytes.

Both set the plan's ``raw`` bytes; the plan's reply stays, so the session still acts on what the
server meant to say (a truncated 250 after the data has accepted the message, as a real server
whose connection broke would have).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from smtpfake.scenario.faults.base import Fault, FaultContext, register
from smtpfake.scenario.plan import Close, Plan
from smtpfake.scenario.reply import Reply, check_reply

#: RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its CRLF
REPLY_LINE_LIMIT = 512


def _wire(plan: Plan) -> bytes:
    if plan.raw is not None:
        return plan.raw
    return plan.reply.render() if plan.reply is not None else b""


@register
@dataclass(frozen=True)
class Truncate(Fault):
    name = "truncate"
    primary = "bytes"
    order = 80  # after malformed: it cuts whatever would have been sent
    doc = "Send only the first BYTES bytes of the reply (e.g. mid-line), then close (FIN)."

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

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        data = _wire(plan)
        if not data:
            return plan
        return plan.with_(raw=data[: self.bytes], after=(*plan.after, Close()))


KINDS = ("bad-code", "mixed-codes", "bare-lf", "long-line", "no-space")


@register
@dataclass(frozen=True)
class Malformed(Fault):
    name = "malformed"
    primary = "kind"
    order = 60
    doc = "Send the reply malformed: KIND bad-code, mixed-codes, bare-lf, long-line or no-space."

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

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        if plan.reply is None:
            return plan
        return plan.with_(raw=self.render(plan.reply))

    def render(self, reply: Reply) -> bytes:
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
