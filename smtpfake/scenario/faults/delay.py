"""``delay``: wait before replying (fixed, or drawn from the seeded RNG)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smtpfake.scenario.faults.base import Fault, FaultContext, register
from smtpfake.scenario.plan import Plan, Sleep


@register
@dataclass(frozen=True)
class Delay(Fault):
    name = "delay"
    doc = "Wait SECONDS before replying; or {min, max} uniform; or {median, sigma, max} lognormal."

    seconds: float | None = None
    min: float | None = None
    max: float | None = None
    median: float | None = None
    sigma: float = 1.0

    @classmethod
    def shorthand(cls, value: Any) -> dict[str, Any]:
        return {"seconds": value}

    def check(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        forms = [self.seconds is not None, self.median is not None, self.min is not None]
        if sum(forms) != 1:
            problems.append(
                ("seconds", "give exactly one of: seconds, min+max, median(+sigma, max)")
            )
        if self.min is not None and (self.max is None or self.max < self.min):
            problems.append(("max", "a uniform delay needs max >= min"))
        for field in ("seconds", "min", "max", "median"):
            v = getattr(self, field)
            if v is not None and v < 0:
                problems.append((field, f"{field} must not be negative"))
        return problems

    def draw(self, ctx: FaultContext) -> float:
        if self.seconds is not None:
            return self.seconds
        if self.median is not None:
            # lognormal with the given median; a cap keeps the long tail bounded
            value = self.median * ctx.rng.lognormvariate(0.0, self.sigma)
            return min(value, self.max) if self.max is not None else value
        assert self.min is not None and self.max is not None
        return ctx.rng.uniform(self.min, self.max)

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        return plan.with_(before=(*plan.before, Sleep(self.draw(ctx))))
