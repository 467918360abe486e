"""``delay``: wait before replying (fixed, or drawn from the seeded RNG)."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.faults.base import Fault, FaultContext, register
from smtpfake.scenario.limits import MAX_SECONDS
from smtpfake.scenario.plan import Plan, Sleep

#: the widest spread of a lognormal delay (see Delay.check)
MAX_SIGMA = 10.0


@register
@frozen_dataclass
class Delay(Fault):
    name = "delay"
    doc = "Wait SECONDS before replying; or {min, max} uniform; or {median, sigma, max} lognormal."
    reference = (
        "seconds before the reply; `{min, max}` uniform; `{median, sigma, max}` lognormal (seeded)"
    )

    seconds: float | None = None
    min: float | None = None
    max: float | None = None
    median: float | None = None
    sigma: float = field(default=1.0, metadata={"unitless": True})  # a spread, not seconds

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
        if not 0 <= self.sigma <= MAX_SIGMA:
            # exp() of a wider spread overflows; 10 already spans e^±30
            problems.append(("sigma", f"sigma must be from 0 to {MAX_SIGMA}, got {self.sigma}"))
        for name in ("seconds", "min", "max", "median"):
            v = getattr(self, name)
            if v is not None and v < 0:
                problems.append((name, f"{name} must not be negative"))
        return problems

    def draw(self, ctx: FaultContext) -> float:
        if self.seconds is not None:
            return self.seconds
        if self.median is not None:
            # lognormal with the given median
            value = self.median * ctx.rng.lognormvariate(0.0, self.sigma)
            # a cap keeps the long tail bounded: max, else the longest wait there is
            return min(value, self.max if self.max is not None else MAX_SECONDS)
        assert self.min is not None and self.max is not None
        return ctx.rng.uniform(self.min, self.max)

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        return plan.with_(before=(*plan.before, Sleep(self.draw(ctx))))
