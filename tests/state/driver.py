"""Scenario building for the state tests; the engine driver is tests/support/engine.py."""

from __future__ import annotations

from typing import Any

from smtpfake.scenario import Scenario
from smtpfake.scenario.loader import load_mapping

__all__ = ["rules"]


def rules(*rules: dict[str, Any], seed: int | None = None) -> Scenario:
    data: dict[str, Any] = {"rules": list(rules)}
    if seed is not None:
        data["seed"] = seed
    return load_mapping(data, name="test")
