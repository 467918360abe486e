"""``cut_body``: on DATA, end the connection part-way through the message body.

The fault only arms the cut (a :class:`BodyCut` on the DATA plan); the session counts the body
as it arrives and returns the cut's actions once ``after_bytes`` octets are in. A cut message is
never recorded: the server did not answer the final ".", so a correct client still owns it.
"""

from __future__ import annotations

from dataclasses import field

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.faults.base import Fault, FaultContext, register
from smtpfake.scenario.plan import BodyCut, Close, Plan, Reset

HOW = ("reset", "close")


@register
@frozen_dataclass
class CutBody(Fault):
    name = "cut_body"
    primary = "after_bytes"
    # it arms on the 354, or on a BDAT for its chunk; anywhere else it would do nothing
    stages = frozenset({"data", "bdat"})
    doc = (
        "On data: once AFTER_BYTES of the message body arrived (on bdat: of the chunk), reset "
        "(RST; how: close for FIN) without a reply."
    )
    reference = (
        "`on: data` or `on: bdat` only: `{after_bytes: N, how: reset|close}` (or just N): once "
        "N octets of the message body (dot-unstuffed; on `bdat`: of that BDAT's chunk; a "
        "shorter chunk is not cut) have arrived, abort with RST (`how: close`: FIN) at octet N "
        "itself, mid-line if it falls there (`(message data, N bytes so far)`; the rest of that"
        " line goes with the text after the close), without a reply; the message is"
        " not recorded; the text the client still sends up to its `.` (the rest of the chunk) is"
        " recorded as text after the close, never judged (see [The record](#the-record))"
    )

    after_bytes: int
    how: str = field(default="reset", metadata={"choices": HOW})

    def check(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if self.after_bytes < 1:
            problems.append(
                ("after_bytes", f"after_bytes must be at least 1, got {self.after_bytes}")
            )
        if self.how not in HOW:
            problems.append(("how", f"how must be one of: {', '.join(HOW)}; got {self.how!r}"))
        return problems

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        end = Reset() if self.how == "reset" else Close()
        return plan.with_(armed=(*plan.armed, BodyCut(self.after_bytes, (end,))))
