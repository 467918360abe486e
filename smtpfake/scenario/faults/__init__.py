"""The fault vocabulary. Importing this package registers every fault."""

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
from smtpfake.scenario.faults.base import REGISTRY, Fault, FaultContext, register

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
