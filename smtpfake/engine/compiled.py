"""What the engine derives from a scenario once, not per session or per command.

A scenario is immutable while it is in force, so the rules' compiled checks (each stage's
:data:`~smtpfake.engine.matching.Step` tuple), what EHLO advertises that the engine acts on, and
the rules kept per connection are worked out the first time a session asks, then shared by
every session of that scenario.
"""

from __future__ import annotations

from dataclasses import dataclass

from smtpfake.engine.matching import Step, compile_rules
from smtpfake.scenario.model import Scenario, Stage

#: scenarios remembered at once (a test suite switches scenario per test; old ones go)
KEPT = 64


@dataclass(frozen=True)
class Compiled:
    """``steps``: each stage's rules (its own and ``any``), compiled, in order; ``enhanced``:
    ENHANCEDSTATUSCODES is advertised (RFC 2034); ``size_limit``: the SIZE advertised (RFC
    1870), None for none; ``per_connection``: indexes of the rules keyed ``per: connection``
    (their counters are forgotten when a connection ends)."""

    steps: dict[Stage, tuple[Step, ...]]
    enhanced: bool
    size_limit: int | None
    per_connection: tuple[int, ...]


# Servers in several threads may share it: each step below is one dict operation (atomic),
# and a race at worst compiles a scenario twice.
_cache: dict[int, tuple[Scenario, Compiled]] = {}


def compiled(scenario: Scenario) -> Compiled:
    """The scenario's compiled form, made on first use (keyed by identity: the entry holds the
    scenario, so its id cannot be reused while it is remembered)."""
    found = _cache.get(id(scenario))
    if found is not None and found[0] is scenario:
        return found[1]
    settings = scenario.server
    made = Compiled(
        steps={stage: compile_rules(rules) for stage, rules in scenario.rules_by_stage.items()},
        enhanced=settings.has_extension("ENHANCEDSTATUSCODES"),
        size_limit=settings.size_limit(),
        per_connection=tuple(r.index for r in scenario.rules if r.per == ("connection",)),
    )
    if len(_cache) >= KEPT:
        _cache.clear()
    _cache[id(scenario)] = (scenario, made)
    return made
