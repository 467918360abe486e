"""The fault vocabulary. ``REGISTRY`` (every fault by its YAML key) is complete once read from
here: reading it imports every fault module (PEP 562). Until then only the fault modules a
scenario uses are loaded (start-up time: a cached scenario without faults loads none)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from smtpfake.scenario.faults.base import Fault, FaultContext, register

if TYPE_CHECKING:
    from smtpfake.scenario.faults import (
        body,
        close,
        delay,
        mangle,
        pacing,
        raw,
        reply,
        silence,
        tls,
    )
    from smtpfake.scenario.faults.base import REGISTRY

#: the fault modules, each registering its faults when imported
MODULES = ("body", "close", "delay", "mangle", "pacing", "raw", "reply", "silence", "tls")

__all__ = [
    "REGISTRY",
    "Fault",
    "FaultContext",
    "body",
    "close",
    "delay",
    "mangle",
    "pacing",
    "raw",
    "register",
    "reply",
    "silence",
    "tls",
]


def __getattr__(name: str) -> object:
    """``REGISTRY`` with every fault module imported, or one fault module; else AttributeError."""
    if name == "REGISTRY":
        for module in MODULES:
            importlib.import_module(f"{__name__}.{module}")
        from smtpfake.scenario.faults.base import REGISTRY

        globals()["REGISTRY"] = REGISTRY
        return REGISTRY
    if name in MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
