"""``tls_fail``: break the TLS handshake that follows a 220 to STARTTLS (or, with implicit TLS,
the one a connection starts with).

Only wire actions: non-TLS bytes then a close, a close, a reset, or a handshake the wire starts
and cuts off after a few bytes of the server's answer (a StartTLS action with ``cut_after``).
"""

from __future__ import annotations

from dataclasses import field

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.faults.base import Fault, FaultContext, register
from smtpfake.scenario.plan import Action, Close, Note, Plan, Reset, Send, StartTLS, wire_text

HOW = ("garbage", "close", "reset", "cut")

#: what ``garbage`` sends where the client expects a TLS ServerHello: plain text, then the close.
#: OpenSSL 3.0 reports "wrong version number" when its TLS layer reads it, "unexpected eof while
#: reading" when the client's SMTP layer had read it with the 220 (Python's smtplib: a buffer)
GARBAGE = b"smtpfake: this is not a TLS handshake\r\n"
#: the transcript's entry for it: the line as it went on the wire, as a reply's lines are kept
_GARBAGE_SENT = Send(GARBAGE, Note(wire_text(GARBAGE)))


@register
@frozen_dataclass
class TlsFail(Fault):
    name = "tls_fail"
    primary = "how"
    stages = frozenset({"starttls"})
    doc = (
        "On starttls: break the TLS handshake after the 220 (with implicit TLS, the first one). "
        "how: garbage (a line of plain text, then close), close (FIN), reset (RST), cut (send "
        "BYTES of the server's handshake, then close)."
    )
    reference = (
        "`on: starttls` only: break the TLS handshake after the `220` (with implicit TLS, the "
        "one each connection starts with): `garbage` (a line of plain text, then close; the "
        "transcript has the line as sent), `close` (FIN), `reset` (RST), or `{how: cut, bytes: N}` "
        "(the server's handshake starts and stops after N bytes). What the client sends after the "
        "break (its ClientHello, an alert) is noted with its size, not read: `(517 octets, "
        "starting with a TLS handshake record: not read, the server broke TLS off)`"
    )

    how: str = field(default="garbage", metadata={"choices": HOW})
    bytes: int = 16  # for cut: how much of the server's handshake goes out before the close

    def check(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if self.how not in HOW:
            problems.append(("how", f"how must be one of: {', '.join(HOW)}; got {self.how!r}"))
        if self.bytes < 1:
            problems.append(("bytes", f"bytes must be at least 1, got {self.bytes}"))
        return problems

    def failure(self) -> tuple[Action, ...]:
        if self.how == "garbage":
            return (_GARBAGE_SENT, Close())
        if self.how == "reset":
            return (Reset(),)
        if self.how == "cut":
            return (StartTLS(cut_after=self.bytes),)
        return (Close(),)

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        # In place of the upgrade: implicit TLS has it in the plan; after a 220 to STARTTLS the
        # session adds it only when the plan neither ends the connection nor shapes the handshake.
        after = tuple(a for a in plan.after if not isinstance(a, StartTLS))
        return plan.with_(after=(*after, *self.failure()))
