"""State shared by all sessions of one server: connection numbers, rule firings, queue ids.

It lives as long as the scenario is in force; switching scenario or resetting starts a new one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Shared:
    seed: int = 0
    connections: int = 0
    messages: int = 0
    fired: Counter[int] = field(default_factory=Counter)  # rule index -> times it fired

    def next_connection(self) -> int:
        self.connections += 1
        return self.connections

    def next_queue_id(self) -> str:
        self.messages += 1
        return f"SF{self.messages:06d}"
