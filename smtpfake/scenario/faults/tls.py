"""``tls_fail``: break the TLS handshake that follows a 220 to STARTTLS (or, with implicit TLS,
the one a connection starts with).

Only wire actions: non-TLS bytes then a close, a close, a reset, or a handshake the wire starts
and cuts off after a few bytes of the server's answer (a StartTLS action with ``cut_after``).
"""

from __future__ import annotations

from dataclasses import field

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.faults.base import Fault, FaultContext, register
from smtpfake.scenario.plan import Action, Close, Plan, Reset, Send, StartTLS

HOW = ("garbage", "close", "reset", "cut")

#: what ``garbage`` sends where the client expects a TLS ServerHello: plain text, so the client's
#: TLS layer fails at once (e.g. OpenSSL's "wrong version number")
GARBAGE = b"smtpfake: this is not a TLS handshake\r\n"


@register
@frozen_dataclass
class TlsFail(Fault):
    name = "tls_fail"
    primary = "how"
    stages = frozenset({"starttls"})
    doc = (
        "On starttls: break the TLS handshake after the 220 (with implicit TLS, the first one). "
        "how: garbage (plain text, then close), close (FIN), reset (RST), cut (send BYTES of the "
        "server's handshake, then close)."
    )
    reference = (
        "`on: starttls` only: break the TLS handshake after the `220` (with implicit TLS, the "
        "one each connection starts with): `garbage` (plain text, then close), `close` (FIN), "
        "`reset` (RST), or `{how: cut, bytes: N}` (the server's handshake starts and stops "
        "after N bytes)"
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
            return (Send(GARBAGE), Close())
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
