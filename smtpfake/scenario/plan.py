"""What the engine asks the wire to do, as data.

The wire layer carries these out in order and never special-cases one fault: a fault changes a
:class:`Plan`, the engine renders the plan into actions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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


Action = Send | Sleep | Close | Reset


@dataclass(frozen=True)
class Plan:
    """How one reply goes out: what comes before it, the reply, its pacing, what after."""

    reply: Reply | None
    before: tuple[Action, ...] = ()
    after: tuple[Action, ...] = ()
    raw: bytes | None = None  # exact bytes instead of the rendered reply (malformed replies)
    chunk: int | None = None  # pacing: send this many bytes at a time ...
    interval: float = 0.0  # ... with this pause between chunks

    def with_(self, **changes: object) -> Plan:
        return replace(self, **changes)  # type: ignore[arg-type]

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
