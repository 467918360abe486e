"""Pacing a reply on the wire: slowly (``drip``) or in many small TCP segments (``fragment``).

Both only set the plan's pacing; the reply's bytes do not change. The wire writes each chunk
separately (TCP_NODELAY is on), so each chunk leaves as its own segment unless the kernel
coalesces back-to-back writes; a small ``interval`` keeps them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from smtpfake.scenario.faults.base import Fault, FaultContext, register
from smtpfake.scenario.plan import Plan


def _check(chunk: int, interval: float, *, need_pause: bool) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if chunk < 1:
        problems.append(("bytes", f"bytes must be at least 1, got {chunk}"))
    if interval < 0 or (need_pause and interval == 0):
        want = "more than 0 (a drip with no pause is a fragment)" if need_pause else "at least 0"
        problems.append(("interval", f"interval must be {want}, got {interval}"))
    return problems


@register
@dataclass(frozen=True)
class Drip(Fault):
    name = "drip"
    primary = "interval"
    order = 70
    doc = (
        "Send the reply BYTES at a time (default 1), pausing INTERVAL seconds (default 1) between."
    )

    bytes: int = 1
    interval: float = 1.0

    def check(self) -> list[tuple[str, str]]:
        return _check(self.bytes, self.interval, need_pause=True)

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        return plan.with_(chunk=self.bytes, interval=self.interval)


@register
@dataclass(frozen=True)
class Fragment(Fault):
    name = "fragment"
    primary = "bytes"
    order = 70
    doc = "Split the reply into BYTES-byte TCP segments (default 1), INTERVAL seconds apart (0)."

    bytes: int = 1
    interval: float = 0.0

    def check(self) -> list[tuple[str, str]]:
        return _check(self.bytes, self.interval, need_pause=False)

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        return plan.with_(chunk=self.bytes, interval=self.interval)
