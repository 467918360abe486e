"""What the engine asks the wire to do, as data.

The wire layer carries these out in order and never special-cases one fault: a fault changes a
:class:`Plan`, the engine renders the plan into actions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any

from smtpfake.scenario.reply import Reply


@dataclass(frozen=True)
class Note:
    """What the transcript records once the wire has carried out the action it rides on: a
    reply's lines as they went on the wire (without CRLF), or a note such as
    "(connection closed)"; ``rule``: the rule that shaped it."""

    text: str
    rule: str | None = None


@dataclass(frozen=True)
class Send:
    """Hand ``data`` to the socket. ``note``: recorded when this, its last piece, is written."""

    data: bytes
    note: Note | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Sleep:
    """Wait without reading: a delay, or a hang when long."""

    seconds: float


@dataclass(frozen=True)
class Close:
    """Close the connection cleanly (FIN)."""

    note: Note | None = field(default=None, compare=False)


@dataclass(frozen=True)
class HalfClose:
    """Stop sending (FIN, ``write_eof``) but keep reading: the client sees EOF, not a reset, and
    what it still sends is recorded. Over TLS, which has no half-close, only reading goes on."""

    note: Note | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Reset:
    """Abort the connection with a TCP RST."""

    note: Note | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ArmTimer:
    """(Re)start the timer ``name`` to fire ``seconds`` from now; the wire reports it with
    ``timer_fired(name)``. Arming a running timer moves it."""

    name: str
    seconds: float


@dataclass(frozen=True)
class CancelTimer:
    name: str


@dataclass(frozen=True)
class StartTLS:
    """Upgrade the connection to TLS now (server side), after what was sent before it; the wire
    reports the outcome to the session. ``cut_after``: send only this many bytes of the server's
    handshake, then close (a handshake cut short)."""

    cut_after: int | None = None


@dataclass(frozen=True)
class Consult:
    """Ask the user's handler (aiosmtpd's ``handle_<hook>``) for the reply to a command whose
    normal reply was positive; the wire awaits it and reports the answer with
    ``Connection.consulted(answer)``. Always the last action of its batch.

    ``argument``: the hostname (HELO/EHLO) or address (MAIL/RCPT); ``options``: the command's
    parameters; ``lines``: the normal reply's lines (EHLO's ``responses``); ``mail_from``,
    ``rcpt_tos``, ``content``: the transaction so far (aiosmtpd's Envelope); ``helo_name``,
    ``esmtp``: the client's greeting (aiosmtpd's Session ``host_name``, ``extended_smtp``)."""

    hook: str
    argument: str = ""
    options: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    mail_from: str = ""
    rcpt_tos: tuple[str, ...] = ()
    content: bytes = b""
    helo_name: str = ""
    esmtp: bool = False


Action = Send | Sleep | Close | HalfClose | Reset | StartTLS | ArmTimer | CancelTimer | Consult
#: the actions that only set timers: the wire does them at once, they never wait
TIMER_ACTIONS = (ArmTimer, CancelTimer)


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
    #: with ENHANCEDSTATUSCODES, a reply without an enhanced code gets its class default
    #: (RFC 2034 §3); a rule's ``reply`` with ``enhanced: none`` turns that off
    enhanced_default: bool = True

    def with_(self, **changes: Any) -> Plan:
        return replace(self, **changes)

    @property
    def closes(self) -> bool:
        return any(isinstance(a, Close | Reset) for a in self.after)

    def wire(self) -> bytes:
        """The reply's bytes as they go out (raw, or the reply rendered; b"" for none)."""
        if self.raw is not None:
            return self.raw
        return self.reply.render() if self.reply is not None else b""

    def actions(self, rule: str | None = None) -> tuple[Action, ...]:
        """The plan as actions; the reply's last Send carries its transcript note."""
        reply = self.reply
        plain = self.raw is None and self.chunk is None and not self.before and not self.after
        if plain and reply is not None and not reply.closes:
            return _plain(reply, rule)  # most replies: one Send
        out: list[Action] = list(self.before)
        data = self.wire()
        if data:
            step = self.chunk or len(data)
            last = ((len(data) - 1) // step) * step
            for i in range(0, len(data), step):
                if i and self.interval:
                    out.append(Sleep(self.interval))
                note = Note(wire_text(data), rule) if i == last else None
                out.append(Send(data[i : i + step], note))
        out.extend(self.after)
        # RFC 5321 §3.8: a 421 is always followed by closing the channel, whatever produced it.
        if self.reply is not None and self.reply.closes and not self.closes:
            out.append(Close())
        return tuple(out)


@functools.lru_cache(maxsize=1024)
def _plain(reply: Reply, rule: str | None) -> tuple[Action, ...]:
    """A reply sent whole, nothing before or after it (rendered once per distinct reply)."""
    data = reply.render()
    return (Send(data, Note(wire_text(data), rule)),)


def wire_text(data: bytes) -> str:
    """A reply's bytes as the transcript keeps them: its lines as sent, without line endings,
    joined with newlines (a bare LF or a cut-off last line stays visible as sent)."""
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "\n".join(line.removesuffix("\r") for line in lines)
