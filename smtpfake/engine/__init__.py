"""The sans-I/O engine: SMTP sessions as state machines that turn client lines into actions.

Nothing here imports asyncio, sockets or aiosmtpd.
"""

from smtpfake.engine.clock import AdvanceableClock, Clock, FakeClock, ManualClock, SystemClock
from smtpfake.engine.records import (
    Message,
    Observer,
    Outcome,
    SessionInfo,
    TranscriptEntry,
    Violation,
)
from smtpfake.engine.session import Session
from smtpfake.engine.shared import Shared

__all__ = [
    "AdvanceableClock",
    "Clock",
    "FakeClock",
    "ManualClock",
    "Message",
    "Observer",
    "Outcome",
    "Session",
    "SessionInfo",
    "Shared",
    "SystemClock",
    "TranscriptEntry",
    "Violation",
]
