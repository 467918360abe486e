"""Messages as Mailpit users expect them: a summary list with filters and paging, and one
message in detail (envelope, headers, text and HTML bodies, attachments).

Parsing uses the standard library's ``email`` package with the default (RFC 5322/6532) policy; a
client's broken MIME (unknown charset, bad transfer encoding) degrades to replaced characters,
never to an error: a fake server shows what it was sent.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.message import Message as MimePart
from typing import Any

from smtpfake.engine.records import Message
from smtpfake.http.inputs import JSON, PAGING, ApiError, only, whole, window
from smtpfake.scenario import limits
from smtpfake.serialize import message_summary, options_to_json

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


Summary = dict[str, Any]
Test = Callable[[Summary], bool]


def _lower(*parts: str | Sequence[str]) -> str:
    return "\n".join(p if isinstance(p, str) else "\n".join(p) for p in parts).lower()


def _tests(query: Mapping[str, str]) -> list[Test]:
    """The filters asked for, as tests of a summary (its envelope and header block only)."""
    tests: list[Test] = []
    if "to" in query:
        to = query["to"].lower()
        tests.append(lambda s: to in _lower(s["rcpt_tos"], s["to"], s["cc"]))
    if "from" in query:
        sender = query["from"].lower()
        tests.append(lambda s: sender in _lower(s["mail_from"], s["from"]))
    if "subject" in query:
        subject = query["subject"].lower()
        tests.append(lambda s: subject in s["subject"].lower())
    if "session" in query:
        session = whole(query["session"], "session", high=2**31)
        tests.append(lambda s: s["session"] == session)
    if "since" in query:
        since = _since(query["since"])
        tests.append(lambda s: s["time"] >= since)
    return tests


class Summaries:
    """Each message's summary (``serialize.message_summary`` and its ``id``), made once: a
    header parse costs about 0.1 ms, 1 s for a listing of 10,000 messages made anew each time.
    Summaries are never changed once made (the same dict goes into every answer)."""

    def __init__(self) -> None:
        self._made: dict[int, Summary] = {}

    def of(self, numbered: Numbered) -> Summary:
        made = self._made.get(numbered.id)
        if made is None:
            made = {"id": numbered.id, **message_summary(numbered.message)}
            if numbered.id:  # 0: a message the API never numbered, so no key of its own
                self._made[numbered.id] = made
        return made

    def keep(self, found: Sequence[Numbered]) -> None:
        """Forget the summaries of messages no longer in ``found`` (the journal dropped them),
        once there are more of those than kept ones (so this costs O(1) per message)."""
        if len(self._made) > 2 * len(found) + 64:
            ids = {n.id for n in found}
            self._made = {k: v for k, v in self._made.items() if k in ids}


#: what ``?include=`` may add to a listing's messages
INCLUDES = ("data",)


class Listing:
    """``GET /api/messages``: filter, then page (both checked on creation: a 400 comes before
    any of the answer). :meth:`walk` goes through the messages one at a time, so a streamed
    answer can pace itself; ``matching`` and ``count`` are complete once it is done."""

    def __init__(
        self, found: Sequence[Numbered], query: Mapping[str, str], summaries: Summaries
    ) -> None:
        only(query, FILTERS + PAGING + ("include",), "query parameter")
        self.found = found
        self.tests = _tests(query)
        self.window = window(query)
        include = query.get("include", "")
        if include not in ("", *INCLUDES):
            raise ApiError(400, f"'include' may be {', '.join(INCLUDES)}, got {include[:20]!r}")
        #: each message's data too (``data`` and ``data_base64``, streamed)
        self.with_data = include == "data"
        self.summaries = summaries
        summaries.keep(found)
        self.matching = 0
        self.count = 0

    def head(self) -> JSON:
        return {"total": len(self.found), **self.window.json()}

    def tail(self) -> JSON:
        return {"count": self.count, "matching": self.matching}

    def walk(self) -> Iterator[tuple[Numbered, Summary] | None]:
        """Each message on the page with its summary, and None for each one that is not (a
        turn to give the event loop)."""
        for numbered in self.window.ordered(self.found):
            summary = self.summaries.of(numbered)
            if all(test(summary) for test in self.tests):
                shown = self.window.holds(self.matching)
                self.matching += 1
                if shown:
                    self.count += 1
                    yield numbered, summary
                    continue
            yield None

    def result(self) -> JSON:
        """The whole answer at once (without data), for callers in-process."""
        shown = [item[1] for item in self.walk() if item is not None]
        return {**self.head(), "messages": shown, **self.tail()}


def listing(found: Sequence[Numbered], query: Mapping[str, str]) -> JSON:
    """``GET /api/messages`` as one document (see :class:`Listing`)."""
    return Listing(found, query, Summaries()).result()


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
        "envelope": {
            "mail_from": message.mail_from,
            "rcpt_tos": list(message.rcpt_tos),
            **options_to_json(message),
        },
        "subject": message.subject,
        "headers": [[name, str(value)] for name, value in parsed.items()],
        "text": _text(text) if text is not None else None,
        "html": _text(html) if html is not None else None,
        "attachments": attachments,
        "size": len(message.data),
    }


def detail_bytes(numbered: Numbered) -> bytes:
    """:func:`detail` as the JSON answer's bytes (ASCII, indented as every answer)."""
    return json.dumps(detail(numbered), indent=1).encode("ascii") + b"\n"


def find(found: Sequence[Numbered], raw_id: str) -> Numbered:
    """The message with this id, or a 404."""
    number = whole(raw_id, "id", low=1, high=2**62)
    for numbered in found:
        if numbered.id == number:
            return numbered
    raise ApiError(404, f"no message {number} (deleted, reset, or never received)")
