"""The sans-I/O engine: SMTP sessions as state machines that turn client lines into actions.

Nothing here imports asyncio, sockets or aiosmtpd.
"""

from smtpfake.engine.clock import Clock, FakeClock, SystemClock
from smtpfake.engine.records import Message, Observer, SessionInfo, TranscriptEntry, Violation
from smtpfake.engine.session import Session
from smtpfake.engine.shared import Shared

__all__ = [
    "Clock",
    "FakeClock",
    "Message",
    "Observer",
    "Session",
    "SessionInfo",
    "Shared",
    "SystemClock",
    "TranscriptEntry",
    "Violation",
]
