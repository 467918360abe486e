"""What the engine asks the wire to do, as data.

The wire layer carries these out in order and never special-cases one fault: a fault changes a
:class:`Plan`, the engine renders the plan into actions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from smtpfake.scenario.reply import Reply


@dataclass(frozen=True)
class Send:
    data: bytes


@dataclass(frozen=True)
class Sleep:
    """Wait without reading: a delay, or a hang when long."""

    seconds: float


@dataclass(frozen=True)
class Close:
    """Close the connection cleanly (FIN)."""


@dataclass(frozen=True)
class Reset:
    """Abort the connection with a TCP RST."""


@dataclass(frozen=True)
class StartTLS:
    """Upgrade the connection to TLS now (server side), after what was sent before it; the wire
    reports the outcome to the session. ``cut_after``: send only this many bytes of the server's
    handshake, then close (a handshake cut short)."""

    cut_after: int | None = None


Action = Send | Sleep | Close | Reset | StartTLS


@dataclass(frozen=True)
class BodyCut:
    """Armed by an accepted DATA: once the message body reaches ``after_bytes`` octets, the
    session returns ``actions`` (e.g. Reset) instead of reading on."""

    after_bytes: int
    actions: tuple[Action, ...]
    label: str | None = None  # the rule that armed it, for the transcript


@dataclass(frozen=True)
class Plan:
    """How one reply goes out: what comes before it, the reply, its pacing, what after."""

    reply: Reply | None
    before: tuple[Action, ...] = ()
    after: tuple[Action, ...] = ()
    raw: bytes | None = None  # exact bytes instead of the rendered reply (malformed replies)
    chunk: int | None = None  # pacing: send this many bytes at a time ...
    interval: float = 0.0  # ... with this pause between chunks
    body_cut: BodyCut | None = None  # on DATA: end the connection part-way through the body

    def with_(self, **changes: Any) -> Plan:
        return replace(self, **changes)

    @property
    def closes(self) -> bool:
        return any(isinstance(a, Close | Reset) for a in self.after)

    def actions(self) -> tuple[Action, ...]:
        out: list[Action] = list(self.before)
        data = self.raw if self.raw is not None else (self.reply.render() if self.reply else b"")
        if data:
            step = self.chunk or len(data)
            for i in range(0, len(data), step):
                if i and self.interval:
                    out.append(Sleep(self.interval))
                out.append(Send(data[i : i + step]))
        out.extend(self.after)
        # RFC 5321 §3.8: a 421 is always followed by closing the channel, whatever produced it.
        if self.reply is not None and self.reply.closes and not self.closes:
            out.append(Close())
        return tuple(out)
