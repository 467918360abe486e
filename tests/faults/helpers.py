"""Fault-specific helpers; the raw client and the waits are in tests/support/."""

from __future__ import annotations

import dataclasses
from typing import Any

from smtpfake.scenario import Scenario
from smtpfake.scenario.faults import Fault


def retimed(scenario: Scenario, fault: type[Fault], **changes: Any) -> Scenario:
    """The scenario with every ``fault`` in its rules changed (to test a built-in's shape fast)."""
    rules = tuple(
        dataclasses.replace(
            rule,
            faults=tuple(
                dataclasses.replace(f, **changes) if isinstance(f, fault) else f  # type: ignore[type-var]
                for f in rule.faults
            ),
        )
        for rule in scenario.rules
    )
    assert any(isinstance(f, fault) for r in rules for f in r.faults), f"no {fault.name} in it"
    return dataclasses.replace(scenario, rules=rules)
