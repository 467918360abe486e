"""Pairing a session's commands with their replies (``SessionRecord.exchanges()``).

The transcript keeps the wire's order, so a pipelined group reads as its lines, then its replies
(RFC 2920 §3.1); the reply to a command is found by counting: a server answers the commands in
the order they came, one reply each (RFC 5321 §4.2), after its greeting. What counts:

- a *command* is every line the client sent (a client entry that is no note,
  ``TranscriptEntry.note``): a command line, the final ``.`` of message text (its reply is the
  message's), an AUTH response line (``(auth response)``: RFC 4954 §4 answers each with a 334
  or the outcome), a line discarded as over-long, and any line whatever its text (a client's
  ``(message data, 5 bytes)`` command is a command). The engine's notes answer nothing:
  message text (``(message data, ...)``), a BDAT chunk's octets (``(chunk data, ...)``: the
  BDAT command's reply comes after them), octets never read or discarded, the client's close;
- a *reply* is every server entry that is no note (not ``(TLS established: ...)``,
  ``(connection closed)``, ...): a reply cut short or not delivered still answers its command;
- the greeting (the first reply) and an unsolicited 421 (``server.idle``, ``server.close_after``,
  ``server.stop``, ``server.reset``: RFC 5321 §3.8, sent on no command) answer no command;
- a command never answered (its reply was never sent: a ``disconnect``, ``reset`` or ``hang``
  fault, a line after the server's last reply, a line the connection's end cut short, which is
  ``delivered`` False and may come before the reply to the line before it) is paired with None.

DATA's 354 is DATA's reply; the message's 250 is its ``.``'s.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from smtpfake.engine.records import TranscriptEntry
from smtpfake.frozen_dataclass import frozen_dataclass

#: the command that ends a message sent in chunks (RFC 3030 §2)
_LAST_CHUNK = re.compile(r"BDAT +[0-9]+ +LAST *", re.IGNORECASE)
#: the rules of replies sent on no command (engine/session.py: timers, a stop, a reset)
UNSOLICITED = frozenset({"server.idle", "server.close_after", "server.stop", "server.reset"})


@frozen_dataclass(slots=True)
class Exchange:
    """A command the client sent (a transcript entry) and the reply that answered it (None:
    never answered). ``code`` is the reply's code (None without a reply, or for one that does
    not begin with three digits: a ``malformed`` fault's)."""

    command: TranscriptEntry
    reply: TranscriptEntry | None

    @property
    def code(self) -> int | None:
        reply = self.reply
        return int(reply.text[:3]) if reply is not None and reply.text[:3].isdigit() else None

    def __str__(self) -> str:
        said = f"C: {self.command.text}"
        return f"{said} -> {self.reply.text.split(chr(10))[-1]}" if self.reply else said


def is_command(entry: TranscriptEntry) -> bool:
    """The entry is a line the client sent, which the server answers (not the engine's note)."""
    return entry.side == "client" and not entry.note and not entry.event


def is_reply(entry: TranscriptEntry) -> bool:
    """The entry is a reply the server sent (any, the greeting and a 421 on no command too)."""
    return entry.side == "server" and not entry.note


def pair(transcript: Sequence[TranscriptEntry], *, whole: bool = True) -> tuple[Exchange, ...]:
    """Each command of ``transcript`` with its reply, in the order the commands came.

    ``whole``: the transcript begins at the connection, so its first reply is the greeting.
    Without it (the journal dropped the oldest entries, ``dropped_entries``), a reply that comes
    while no kept command waits answered one no longer kept, and is left out."""
    commands: list[TranscriptEntry] = []
    replies: list[TranscriptEntry | None] = []
    due = 0  # the first command not answered yet: replies come in the commands' order
    greeted = not whole
    for entry in transcript:
        if is_command(entry):
            commands.append(entry)
            replies.append(None)
        elif is_reply(entry):
            if not greeted:
                greeted = True  # the greeting: it comes before any command is answered
            elif entry.rule not in UNSOLICITED:
                while due < len(commands) and not commands[due].delivered:
                    due += 1  # a line the connection's end cut short: never answered
                if due < len(commands):
                    replies[due] = entry
                    due += 1
    return tuple(map(Exchange, commands, replies))


def accepted_message(exchange: Exchange) -> bool:
    """``exchange`` ended a message's data (its final ".", RFC 5321 §4.1.1.4; BDAT ... LAST,
    RFC 3030 §2) and the server took it (a 2xx reply)."""
    code = exchange.code
    text = exchange.command.text
    ended = text == "." or _LAST_CHUNK.fullmatch(text) is not None
    return ended and code is not None and 200 <= code < 300
