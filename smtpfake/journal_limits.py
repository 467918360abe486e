"""How much the journal keeps (:class:`JournalLimits`), apart from the journal itself so that the
command line can list these settings without importing the engine."""

from __future__ import annotations

import dataclasses
from dataclasses import field

from smtpfake.frozen_dataclass import frozen_dataclass

MiB = 1024 * 1024


@frozen_dataclass
class JournalLimits:
    """How much the journal keeps. Counts are of items; bytes are of message data (as
    received) and of transcript text (UTF-8). The oldest are dropped first."""

    sessions: int = field(default=10_000, metadata={"doc": "sessions (the oldest go whole)"})
    messages: int = field(default=10_000, metadata={"doc": "messages, across all sessions"})
    message_bytes: int = field(
        default=256 * MiB,
        metadata={"doc": "bytes of message data (the newest message is always kept)"},
    )
    entries: int = field(
        default=1_000,
        metadata={"doc": "transcript entries (and violations) per session, the latest"},
    )
    transcript_bytes: int = field(
        default=64 * MiB,
        metadata={"doc": "bytes of transcript text (past it the oldest sessions go)"},
    )
    entry_chars: int = field(
        default=4_096, metadata={"doc": "characters per transcript entry (a longer one is cut)"}
    )

    def keywords(self) -> dict[str, int]:
        """These limits as Journal's ``max_*`` keyword arguments (a subclass that takes its
        own positional arguments passes them on this way)."""
        return {f"max_{f.name}": getattr(self, f.name) for f in dataclasses.fields(self)}

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"JournalLimits.{f.name}: expected a whole number >= 1")
