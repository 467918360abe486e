"""Questions about the journal: which messages, which sessions, which retries.

Pure functions over the snapshots a control returns (tuples of :class:`Message` and
:class:`SessionRecord`), so they work the same in-process and against a sidecar. When an
assertion finds nothing, its message lists the closest candidates, the way WireMock reports
near misses: what was received, and which of the asked-for fields differed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from smtpfake.engine.records import Message
    from smtpfake.journal import SessionRecord

#: a wanted value: equal (addresses compare case-insensitively), or a pattern ``re.search`` finds
Want = Union[str, "re.Pattern[str]"]

# how many near misses a failure lists; more is noise
_CANDIDATES = 3


@dataclass(frozen=True)
class MessageQuery:
    """What a message must have; ``None`` means "anything". ``to`` matches any one recipient."""

    to: Want | None = None
    sender: Want | None = None
    subject: Want | None = None
    headers: Mapping[str, Want] | None = None

    def fields(self, message: Message) -> list[tuple[str, Want, str]]:
        """(field label, wanted, what the message has) for each asked-for field."""
        out: list[tuple[str, Want, str]] = []
        if self.to is not None:
            hit = next((r for r in message.rcpt_tos if _same(self.to, r, True)), None)
            out.append(("to", self.to, hit if hit is not None else ", ".join(message.rcpt_tos)))
        if self.sender is not None:
            out.append(("sender", self.sender, message.mail_from))
        if self.subject is not None:
            out.append(("subject", self.subject, message.subject))
        for name, want in (self.headers or {}).items():
            out.append((f"header {name}", want, str(message.headers.get(name, ""))))
        return out

    def misses(self, message: Message) -> list[str]:
        """The fields ``message`` gets wrong, as ``subject: wanted 'a', got 'b'``."""
        return [
            f"{label}: wanted {_show(want)}, got {got!r}"
            for label, want, got in self.fields(message)
            if not _same(want, got, label in ("to", "sender"))
        ]

    def describe(self) -> str:
        parts = [f"to={_show(self.to)}"] if self.to is not None else []
        if self.sender is not None:
            parts.append(f"sender={_show(self.sender)}")
        if self.subject is not None:
            parts.append(f"subject={_show(self.subject)}")
        parts += [f"{k}={_show(v)}" for k, v in (self.headers or {}).items()]
        return ", ".join(parts) or "any message"


def _same(want: Want, got: str, address: bool) -> bool:
    if isinstance(want, re.Pattern):
        return want.search(got) is not None
    # RFC 5321 §2.4: the local part may be case-sensitive, but no real mailbox relies on it
    return want.casefold() == got.casefold() if address else want == got


def _show(want: Want | None) -> str:
    return f"re.compile({want.pattern!r})" if isinstance(want, re.Pattern) else repr(want)


def find_messages(messages: Sequence[Message], query: MessageQuery) -> tuple[Message, ...]:
    """The messages that match every asked-for field, in arrival order."""
    return tuple(m for m in messages if not query.misses(m))


def near_misses(messages: Sequence[Message], query: MessageQuery) -> str:
    """The closest messages to ``query`` (fewest wrong fields first), one block each."""
    if not messages:
        return "no message was accepted at all"
    ranked = sorted(messages, key=lambda m: len(query.misses(m)))[:_CANDIDATES]
    lines = [f"closest of {len(messages)} accepted message(s):"]
    for m in ranked:
        lines.append(
            f"  message {m.queue_id} (session {m.session}) from {m.mail_from!r} "
            f"to {', '.join(m.rcpt_tos)}, subject {m.subject!r}"
        )
        lines += [f"    {miss}" for miss in query.misses(m)]
    return "\n".join(lines)


def rule_fired(session: SessionRecord, rule: str) -> bool:
    """A reply in ``session`` was shaped by the rule named (or labelled) ``rule``."""
    return any(e.rule == rule for e in session.transcript)


def sessions_where(
    sessions: Sequence[SessionRecord], *, rule: str | None = None, code: int | None = None
) -> tuple[SessionRecord, ...]:
    """Sessions where ``rule`` fired and/or reply ``code`` (e.g. 421) was sent."""
    return tuple(
        s
        for s in sessions
        if (rule is None or rule_fired(s, rule)) and (code is None or code in s.reply_codes)
    )


def fired_rules(sessions: Sequence[SessionRecord]) -> tuple[str, ...]:
    """Every rule that shaped a reply, first-seen order (for "did you mean" in failures)."""
    seen = dict.fromkeys(e.rule for s in sessions for e in s.transcript if e.rule)
    return tuple(r for r in seen if r is not None)


@dataclass(frozen=True)
class Retry:
    """A connection that followed a transient failure (RFC 5321 §4.5.4.1: the client retries).

    ``failed`` is the session that got a 4xx reply, ``retry`` the next one; ``code`` the 4xx
    sent; ``delay`` the seconds from the server's last reply delivered in ``failed`` (the 4xx,
    or a later one such as the 221 to QUIT; a reply the client left before it was written whole
    does not count) to the start of ``retry``. Both are stamped by the server in
    the order things happened: a reply's time is the clock's reading before the write that
    handed its last octet to the socket (one the socket took later: the last reading at which
    it was still seen held), so before the client could read it; the retry's start is read
    once the server took the connection, after the client connected. So ``delay`` is never
    less than the client waited, however loaded the machine (fresh13 F2); the
    session's ``ended`` is not used, as the server may notice the client's close after the
    client has already connected again.
    """

    failed: SessionRecord
    retry: SessionRecord
    code: int
    delay: float

    def __repr__(self) -> str:
        # the sessions by number: a failed assert on a Retry's field printed both records whole
        return (
            f"Retry(failed=session {self.failed.index}, retry=session {self.retry.index}, "
            f"code={self.code}, delay={self.delay:.3f})"
        )


def _said(session: SessionRecord) -> float:
    """When the server last replied in ``session`` (seconds; its start if it never did): the
    last reply the client could have had whole. One not delivered (the client left before it
    was written: 0 octets, or cut short) is stamped when the session ended, after the client's
    last reading; measured from it, a retry came "sooner" than the client waited (fresh12 F4)."""
    replies = [
        e.time
        for e in session.transcript
        if e.side == "server" and e.delivered and e.text[:3].isdigit()
    ]
    return replies[-1] if replies else session.started


def retries(sessions: Sequence[SessionRecord]) -> tuple[Retry, ...]:
    """One :class:`Retry` per session that came after a session with a 4xx reply from the same
    client IP (as greylisting and ``retry-too-soon`` know a client: each connection has a port
    of its own), in the order of the retries. A session from another address in between is
    another client's, not this one's retry (fresh14 N5: two senders behind one sidecar)."""
    from smtpfake.engine.occurrence import client_ip

    out = []
    failed: dict[str, SessionRecord] = {}  # by client IP: its last session, when it got a 4xx
    for session in sessions:
        ip = client_ip(session.peer)
        before = failed.pop(ip, None)
        if before is not None:
            code = [c for c in before.reply_codes if 400 <= c < 500][-1]
            out.append(Retry(before, session, code, max(0.0, session.started - _said(before))))
        if any(400 <= c < 500 for c in session.reply_codes):
            failed[ip] = session
    return tuple(out)
