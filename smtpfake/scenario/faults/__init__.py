"""The fault vocabulary. Importing this package registers every fault."""

from smtpfake.scenario.faults import close, delay, mangle, pacing, reply, silence
from smtpfake.scenario.faults.base import REGISTRY, Fault, FaultContext, register

__all__ = [
    "REGISTRY",
    "Fault",
    "FaultContext",
    "close",
    "delay",
    "mangle",
    "pacing",
    "register",
    "reply",
    "silence",
]
