"""Pacing a reply on the wire: slowly (``drip``) or in many small TCP segments (``fragment``).

Both only set the plan's pacing; the reply's bytes do not change. The wire writes each chunk
separately (TCP_NODELAY is on), so each chunk leaves as its own segment unless the kernel
coalesces back-to-back writes; a small ``interval`` keeps them apart.
"""

from __future__ import annotations

import builtins

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.faults.base import Fault, FaultContext, register
from smtpfake.scenario.plan import Plan, Shape


def _pieces(
    data: builtins.bytes, size: int, pause: float, follows: bool
) -> tuple[tuple[builtins.bytes, float], ...]:
    """``data`` in pieces of ``size`` octets, each after ``pause`` seconds (the first at once
    unless it ``follows`` octets just sent)."""
    return tuple(
        (data[i : i + size], pause if i or follows else 0.0) for i in range(0, len(data), size)
    )


def _check(chunk: int, interval: float, *, need_pause: bool) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if chunk < 1:
        problems.append(("bytes", f"bytes must be at least 1, got {chunk}"))
    if interval < 0 or (need_pause and interval == 0):
        want = "more than 0 (a drip with no pause is a fragment)" if need_pause else "at least 0"
        problems.append(("interval", f"interval must be {want}, got {interval}"))
    return problems


@register
@frozen_dataclass
class Drip(Fault, Shape):
    name = "drip"
    primary = "interval"
    doc = (
        "Send the reply BYTES at a time (default 1), pausing INTERVAL seconds (default 1) between."
    )
    reference = (
        "seconds between chunks (or `{bytes, interval}`; defaults 1 byte, 1 second): send the "
        "reply a few bytes at a time"
    )

    bytes: int = 1
    interval: float = 1.0

    def check(self) -> list[tuple[str, str]]:
        return _check(self.bytes, self.interval, need_pause=True)

    def split(
        self, data: builtins.bytes, follows: bool = False
    ) -> tuple[tuple[builtins.bytes, float], ...]:
        return _pieces(data, self.bytes, self.interval, follows)

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        return plan.shaped(self)


@register
@frozen_dataclass
class Fragment(Fault, Shape):
    name = "fragment"
    primary = "bytes"
    doc = "Split the reply into BYTES-byte TCP segments (default 1), INTERVAL seconds apart (0)."
    reference = (
        "bytes (or `{bytes, interval}`; defaults 1 byte, 0 seconds): send the reply in TCP "
        "segments that small"
    )

    bytes: int = 1
    interval: float = 0.0

    def check(self) -> list[tuple[str, str]]:
        return _check(self.bytes, self.interval, need_pause=False)

    def split(
        self, data: builtins.bytes, follows: bool = False
    ) -> tuple[tuple[builtins.bytes, float], ...]:
        return _pieces(data, self.bytes, self.interval, follows)

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        return plan.shaped(self)
