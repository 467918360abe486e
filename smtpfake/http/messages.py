"""Messages as Mailpit users expect them: a summary list with filters and paging, and one
message in detail (envelope, headers, text and HTML bodies, attachments).

Parsing uses the standard library's ``email`` package with the default (RFC 5322/6532) policy; a
client's broken MIME (unknown charset, bad transfer encoding) degrades to replaced characters,
never to an error: a fake server shows what it was sent.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.message import Message as MimePart

from smtpfake.engine.records import Message
from smtpfake.http.inputs import PAGING, ApiError, only, page, whole
from smtpfake.scenario import limits
from smtpfake.serialize import JSON, message_to_json

#: the largest ``since`` in Unix seconds either way (about the year 5138)
MAX_UNIX = 1e11

#: the list filters (all must match; text matches are case-insensitive substrings)
FILTERS = ("to", "from", "subject", "session", "since")


@dataclass(frozen=True)
class Numbered:
    """A message with the id the API names it by (``/api/messages/{id}``)."""

    id: int
    message: Message


def _since(value: str) -> float:
    """Unix seconds, or an ISO 8601 time (a time without a zone is UTC)."""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        try:
            return float(limits.check_number(number, "since", minimum=-MAX_UNIX, maximum=MAX_UNIX))
        except limits.LimitError:
            raise ApiError(
                400, f"'since' must be a time (Unix seconds or ISO 8601), got {value[:40]!r}"
            ) from None
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            400, f"'since' must be a time (Unix seconds or ISO 8601), got {value[:40]!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def _addresses(message: Message, envelope: Sequence[str], *headers: str) -> str:
    parsed = message.headers  # a filter reads the header block only, never the body
    found = list(envelope) + [str(v) for h in headers for v in parsed.get_all(h, [])]
    return "\n".join(found).lower()


Test = Callable[[Numbered], bool]


def _tests(query: Mapping[str, str]) -> list[Test]:
    tests: list[Test] = []
    if "to" in query:
        to = query["to"].lower()
        tests.append(lambda n: to in _addresses(n.message, n.message.rcpt_tos, "To", "Cc"))
    if "from" in query:
        sender = query["from"].lower()
        tests.append(lambda n: sender in _addresses(n.message, [n.message.mail_from], "From"))
    if "subject" in query:
        subject = query["subject"].lower()
        tests.append(lambda n: subject in n.message.subject.lower())
    if "session" in query:
        session = whole(query["session"], "session", high=2**31)
        tests.append(lambda n: n.message.session == session)
    if "since" in query:
        since = _since(query["since"])
        tests.append(lambda n: n.message.time >= since)
    return tests


def listing(found: Sequence[Numbered], query: Mapping[str, str]) -> JSON:
    """``GET /api/messages``: filter, then page. Unknown parameters are a 400."""
    only(query, FILTERS + PAGING, "query parameter")
    tests = _tests(query)
    matching = [n for n in found if all(t(n) for t in tests)]
    shown, offset, limit = page(matching, query)
    return {
        "count": len(shown),
        "matching": len(matching),
        "total": len(found),
        "offset": offset,
        "limit": limit,
        "messages": [summary(n) for n in shown],
    }


def summary(numbered: Numbered) -> JSON:
    """A message in a list: everything ``serialize.message_to_json`` gives, and its ``id``."""
    return {"id": numbered.id, **message_to_json(numbered.message)}


def _text(part: MimePart) -> str:
    try:
        content = part.get_content() if isinstance(part, EmailMessage) else None
    except (LookupError, UnicodeError, ValueError):  # a charset or encoding Python cannot read
        content = None
    if isinstance(content, str):
        return content
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _attachment(part: MimePart) -> JSON:
    payload = part.get_payload(decode=True)
    return {
        "name": part.get_filename() or "",
        "type": part.get_content_type(),
        "size": len(payload) if isinstance(payload, bytes) else 0,
        "inline": part.get_content_disposition() == "inline",
        "content_id": str(part.get("Content-ID", "")).strip("<>") or None,
    }


def detail(numbered: Numbered) -> JSON:
    """``GET /api/messages/{id}``: the envelope, headers, bodies and attachments."""
    message = numbered.message
    parsed = message.message
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    bodies = {id(p) for p in (text, html) if p is not None}
    attachments = [
        _attachment(part)
        for part in parsed.walk()
        if not part.is_multipart()
        and id(part) not in bodies
        and (part.get_filename() is not None or part.get_content_disposition() == "attachment")
    ]
    return {
        "id": numbered.id,
        "queue_id": message.queue_id,
        "session": message.session,
        "time": message.time,
        "envelope": {"mail_from": message.mail_from, "rcpt_tos": list(message.rcpt_tos)},
        "subject": message.subject,
        "headers": [[name, str(value)] for name, value in parsed.items()],
        "text": _text(text) if text is not None else None,
        "html": _text(html) if html is not None else None,
        "attachments": attachments,
        "size": len(message.data),
    }


def find(found: Sequence[Numbered], raw_id: str) -> Numbered:
    """The message with this id, or a 404."""
    number = whole(raw_id, "id", low=1, high=2**62)
    for numbered in found:
        if numbered.id == number:
            return numbered
    raise ApiError(404, f"no message {number} (deleted, reset, or never received)")
