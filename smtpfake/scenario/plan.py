"""What the engine asks the wire to do, as data.

The wire layer carries these out in order and never special-cases one fault: a fault changes a
:class:`Plan`, the engine renders the plan into actions.
"""

from __future__ import annotations

import functools
from dataclasses import field, replace
from typing import Any

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.reply import Reply


@frozen_dataclass
class Note:
    """What the transcript records once the wire has carried out the action it rides on: a
    reply's lines as they went on the wire (without CRLF), or a note such as
    "(connection closed)"; ``rule``: the rule that shaped it; ``endings``: a reply's line
    endings when one was not CRLF (:func:`wire_endings`)."""

    text: str
    rule: str | None = None
    endings: tuple[str, ...] = ()


@frozen_dataclass
class Send:
    """Hand ``data`` to the socket. ``note``: recorded when this, its last piece, is written."""

    data: bytes
    note: Note | None = field(default=None, compare=False)


@frozen_dataclass
class Sleep:
    """Wait without reading: a delay, or a hang when long."""

    seconds: float


@frozen_dataclass
class Close:
    """Close the connection cleanly (FIN)."""

    note: Note | None = field(default=None, compare=False)


@frozen_dataclass
class HalfClose:
    """Stop sending (FIN, ``write_eof``) but keep reading: the client sees EOF, not a reset, and
    what it still sends is recorded. Over TLS, which has no half-close, only reading goes on."""

    note: Note | None = field(default=None, compare=False)


@frozen_dataclass
class Reset:
    """Abort the connection with a TCP RST."""

    note: Note | None = field(default=None, compare=False)


@frozen_dataclass
class ArmTimer:
    """(Re)start the timer ``name`` to fire ``seconds`` from now; the wire reports it with
    ``timer_fired(name)``. Arming a running timer moves it."""

    name: str
    seconds: float


@frozen_dataclass
class CancelTimer:
    """Stop the timer ``name`` if it is running (nothing when it is not)."""

    name: str


@frozen_dataclass
class StartTLS:
    """Upgrade the connection to TLS now (server side), after what was sent before it; the wire
    reports the outcome to the session. ``cut_after``: send only this many bytes of the server's
    handshake, then close (a handshake cut short)."""

    cut_after: int | None = None


@frozen_dataclass
class Consult:
    """Ask the user's handler (aiosmtpd's ``handle_<hook>``) for the reply to a command whose
    normal reply was positive; the wire awaits it and reports the answer with
    ``Connection.consulted(answer)``. Always the last action of its batch.

    ``argument``: the hostname (HELO/EHLO) or address (MAIL/RCPT); ``options``: the command's
    parameters; ``lines``: the normal reply's lines (EHLO's ``responses``); ``mail_from``,
    ``rcpt_tos``, ``mail_options``, ``rcpt_options`` (every recipient's, in one list),
    ``content``: the transaction so far (aiosmtpd's Envelope); ``helo_name``,
    ``esmtp``: the client's greeting (aiosmtpd's Session ``host_name``, ``extended_smtp``)."""

    hook: str
    argument: str = ""
    options: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    mail_from: str = ""
    rcpt_tos: tuple[str, ...] = ()
    mail_options: tuple[str, ...] = ()
    rcpt_options: tuple[str, ...] = ()
    content: bytes = b""
    helo_name: str = ""
    esmtp: bool = False


Action = Send | Sleep | Close | HalfClose | Reset | StartTLS | ArmTimer | CancelTimer | Consult
#: the actions that only set timers: the wire does them at once, they never wait
TIMER_ACTIONS = (ArmTimer, CancelTimer)


@frozen_dataclass
class BodyCut:
    """Armed by an accepted DATA: once the message body reaches ``after_bytes`` octets, the
    session returns ``actions`` (e.g. Reset) instead of reading on."""

    after_bytes: int
    actions: tuple[Action, ...]
    label: str | None = None  # the rule that armed it, for the transcript


class Shape:
    """A step that shapes a reply's octets on their way out: a fault that changes what goes on
    the wire (``raw``, ``malformed``, ``truncate``) or how it is paced (``drip``, ``fragment``)
    is one, and adds itself to :attr:`Plan.shapes`. A new such fault needs no change here:
    it overrides one of these methods."""

    def octets(self, data: bytes, reply: Reply | None) -> bytes:
        """The octets after this step (``data``: after the steps before it; ``reply``: the
        plan's reply, the one the server acts on)."""
        return data

    def split(self, data: bytes, follows: bool = False) -> tuple[tuple[bytes, float], ...] | None:
        """How the final octets go out: pieces, each with the pause in seconds before it; None
        leaves it to the other steps (one write, by default). ``follows``: ``data`` goes on
        from octets just sent (a second reply of ``replies``), so its first piece waits too."""
        return None


#: what a fault arms for later in the session (today: a cut part-way through the message body)
Armed = BodyCut


@frozen_dataclass
class Plan:
    """How one reply goes out: what comes before it, the reply, how its octets are shaped (in
    the order the rule lists the faults), what after, and what is armed for later.

    Faults change a plan only through these fields: a new fault composes them (see
    faults/base.py) and adds no field here."""

    reply: Reply | None
    before: tuple[Action, ...] = ()
    after: tuple[Action, ...] = ()
    shapes: tuple[Shape, ...] = ()  # applied in order to the reply's octets
    armed: tuple[Armed, ...] = ()
    #: with ENHANCEDSTATUSCODES, a reply without an enhanced code gets its class default
    #: (RFC 2034 §3); a rule's ``reply`` with ``enhanced: none`` turns that off
    enhanced_default: bool = True

    def with_(self, **changes: Any) -> Plan:
        return replace(self, **changes)

    def shaped(self, shape: Shape) -> Plan:
        """This plan with one more step shaping its octets."""
        return replace(self, shapes=(*self.shapes, shape))

    @property
    def closes(self) -> bool:
        return any(isinstance(a, Close | Reset) for a in self.after)

    def wire(self) -> bytes:
        """The reply's octets as they go out: rendered (b"" for none), then every shape."""
        reply = self.reply
        data = reply.render() if reply is not None else b""
        for shape in self.shapes:
            data = shape.octets(data, reply)
        return data

    def actions(self, rule: str | None = None) -> tuple[Action, ...]:
        """The plan as actions; the reply's last Send carries its transcript note."""
        reply = self.reply
        plain = not self.shapes and not self.before and not self.after
        if plain and reply is not None and not reply.closes:
            return _plain(reply, rule)  # most replies: one Send
        out: list[Action] = list(self.before)
        data = self.wire()
        if data:
            out += self._paced(data, Note(wire_text(data), rule, wire_endings(data)))
        for action in self.after:  # extra replies (``replies``) carry the rule too
            if isinstance(action, Send) and action.note is not None and action.note.rule is None:
                action = Send(action.data, Note(action.note.text, rule, action.note.endings))
            if isinstance(action, Send) and action.note is not None:
                # paced as the first (drip, fragment): the server stays out of step all along
                out += self._paced(action.data, action.note, follows=True)
                continue
            out.append(action)
        # RFC 5321 §3.8: a 421 is always followed by closing the channel, whatever produced it.
        if self.reply is not None and self.reply.closes and not self.closes:
            out.append(Close())
        return tuple(out)

    def _paced(self, data: bytes, note: Note, follows: bool = False) -> list[Action]:
        """One reply's octets as the shapes pace them (one Send by default), ``note`` on the
        last piece; ``follows``: after octets just sent (Shape.split)."""
        pieces: tuple[tuple[bytes, float], ...] = ((data, 0.0),)
        for shape in self.shapes:
            pieces = shape.split(data, follows) or pieces
        out: list[Action] = []
        last = len(pieces) - 1
        for i, (piece, pause) in enumerate(pieces):
            if pause:
                out.append(Sleep(pause))
            out.append(Send(piece, note if i == last else None))
        return out


@functools.lru_cache(maxsize=1024)
def _plain(reply: Reply, rule: str | None) -> tuple[Action, ...]:
    """A reply sent whole, nothing before or after it (rendered once per distinct reply)."""
    data = reply.render()
    return (Send(data, Note(wire_text(data), rule)),)


def wire_text(data: bytes) -> str:
    """A reply's bytes as the transcript keeps them: its lines as sent, without line endings,
    joined with newlines; how each ended is :func:`wire_endings`' (a bare LF, a cut-off line)."""
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "\n".join(line.removesuffix("\r") for line in lines)


#: how a reply line ended on the wire (TranscriptEntry.endings), by its last octets
CRLF, LF, CR, NONE = "crlf", "lf", "cr", "none"


def wire_endings(data: bytes) -> tuple[str, ...]:
    """How each line of :func:`wire_text` ended: ``crlf``, ``lf`` (a bare LF), ``cr`` (a CR the
    bytes end with, no LF after it) or ``none`` (the bytes end mid-line); ``()`` when every line
    ended in CRLF, as nearly every reply does. Only an LF ends a line (as clients read replies),
    so a CR inside a line stays in its text."""
    if data.endswith(b"\r\n") and data.count(b"\n") == data.count(b"\r\n"):
        return ()
    lines = data.split(b"\n")
    last = lines.pop()  # after the last LF: b"" when the bytes end with one
    endings = [CRLF if line.endswith(b"\r") else LF for line in lines]
    if last:
        endings.append(CR if last.endswith(b"\r") else NONE)
    return tuple(endings)
