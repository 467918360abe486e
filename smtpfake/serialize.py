"""JSON <-> the journal's frozen records, for the HTTP API and its Python client.

Both directions live here so the server and ``remote`` cannot drift apart: whatever
``session_to_json`` writes, ``session_from_json`` reads back into an equal ``SessionRecord``.
A whole message's data travels twice: as text (for people and ``jq``) and as base64 (exact
bytes); listings carry summaries (:func:`message_summary`) and fetch data on demand.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

from smtpfake.engine.records import HEADER_SCAN_BYTES, Message, Outcome, TranscriptEntry, Violation
from smtpfake.exchanges import Exchange
from smtpfake.journal import JournalCounts, JournalLimits, SessionRecord
from smtpfake.scenario import Scenario, ScenarioError
from smtpfake.scenario.errors import ParamsError, Problem
from smtpfake.scenario.model import Location, Rule
from smtpfake.scenario.violations import VIOLATION_KINDS
from smtpfake.visible import json_text

if TYPE_CHECKING:
    from smtpfake.server import Server

JSON = dict[str, Any]


#: violation kind -> the RFC sections it breaks (the README's Violations table; a test holds the
#: two together); the list itself is the scenario layer's, which checks name kinds against
VIOLATION_REFERENCES: Mapping[str, str] = VIOLATION_KINDS


# -- records -> JSON -------------------------------------------------------------------------------


def entry_to_json(entry: TranscriptEntry) -> JSON:
    out: JSON = {
        "time": entry.time,
        "side": entry.side,
        "text": json_text(entry.text),
        "rule": entry.rule,
    }
    # only when set: an undelivered reply, the client's close, the engine's note
    if not entry.delivered:
        out.update(delivered=False, written=entry.written)
    if entry.event:
        out["event"] = True
    if entry.note:
        out["note"] = True
    if entry.endings:  # only a reply whose line endings were not all CRLF
        out["endings"] = list(entry.endings)
    return out


def exchange_to_json(exchange: Exchange) -> JSON:
    """One command with the reply that answered it (``SessionRecord.exchanges()``, RFC 5321
    §4.2): both as transcript entries, ``reply`` null when none did; ``code``, the reply's
    (null without one, or for a reply that does not begin with three digits)."""
    reply = exchange.reply
    return {
        "command": entry_to_json(exchange.command),
        "reply": entry_to_json(reply) if reply is not None else None,
        "code": exchange.code,
    }


def violation_to_json(violation: Violation) -> JSON:
    return {
        "kind": violation.kind,
        "detail": json_text(violation.detail),
        "command": json_text(violation.command),
        "time": violation.time,
        "rfc": VIOLATION_REFERENCES.get(violation.kind),
    }


#: header -> the summary field that shows it (read from the header block alone)
SUMMARY_HEADERS = {
    "From": "from",
    "To": "to",
    "Cc": "cc",
    "Date": "date",
    "Message-ID": "message_id",
}


def _headers_cut(data: bytes) -> bool:
    """Whether the header block runs past what ``Message.headers`` reads."""
    return len(data) > HEADER_SCAN_BYTES and data.find(b"\r\n\r\n", 0, HEADER_SCAN_BYTES) < 0


def options_to_json(message: Message) -> JSON:
    """The envelope's parameters as the client wrote them: ``mail_options`` (MAIL's, a list of
    strings) and ``rcpt_options`` (a list per recipient, aligned with ``rcpt_tos``)."""
    return {
        "mail_options": [json_text(o) for o in message.mail_options],
        "rcpt_options": [[json_text(o) for o in options] for options in message.rcpt_options],
    }


def options_from_json(data: JSON) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """``mail_options`` and ``rcpt_options`` as :func:`options_to_json` wrote them; a record
    written without them (an older server) has none: ``()``, and ``()`` for each recipient."""
    rcpt = data.get("rcpt_options")
    return (
        tuple(str(o) for o in data.get("mail_options", ())),
        tuple(tuple(str(o) for o in options) for options in rcpt)
        if rcpt is not None
        else ((),) * len(data["rcpt_tos"]),
    )


def message_summary(message: Message) -> JSON:
    """A message as listings show it, from its envelope and header block alone (never its body,
    never its data): envelope (with its MAIL and RCPT parameters), ``size`` in octets, decoded
    Subject/From/To/Cc/Date/Message-ID (``""`` when absent), every header in order (repeats
    kept) and ``flags`` (``multipart``: a multipart Content-Type; ``headers-cut``: the header
    block runs past what is read, so ``headers`` is partial). The data is at
    ``/api/messages/{id}/raw``."""
    parsed = message.headers
    fields = {
        key: json_text(", ".join(str(v) for v in parsed.get_all(name, [])))
        for name, key in SUMMARY_HEADERS.items()
    }
    flags = [
        flag
        for flag, present in (
            ("multipart", parsed.get_content_maintype() == "multipart"),
            ("headers-cut", _headers_cut(message.data)),
        )
        if present
    ]
    return {
        "queue_id": message.queue_id,
        "session": message.session,
        "time": message.time,
        "mail_from": json_text(message.mail_from),
        "rcpt_tos": [json_text(r) for r in message.rcpt_tos],
        **options_to_json(message),
        "subject": json_text(str(parsed.get("Subject", ""))),
        **fields,
        # as received, in order, repeats kept (Received:, DKIM-Signature: ...)
        "headers": [[json_text(name), json_text(str(value))] for name, value in parsed.items()],
        "size": len(message.data),
        "flags": flags,
    }


def message_to_json(message: Message) -> JSON:
    """The summary and the data, twice: ``data`` as text (invalid UTF-8 replaced) and
    ``data_base64`` (the exact bytes). For whole records in one document (tests, files); the
    API's listings give summaries and stream data only when asked (``?include=data``)."""
    return {
        **message_summary(message),
        "data": message.data.decode("utf-8", "replace"),
        "data_base64": base64.b64encode(message.data).decode("ascii"),
    }


def session_to_json(
    record: SessionRecord,
    message: Callable[[Message], JSON] = message_to_json,
    *,
    exchanges: bool = False,
) -> JSON:
    """A session; its messages as ``message`` writes them (whole by default; the API's
    listing gives summaries with ids); with ``exchanges``, each command with its reply too
    (``GET /api/sessions?include=exchanges``)."""
    out: JSON = {
        "index": record.index,
        "peer": record.peer,
        "started": record.started,
        "ended": record.ended,
        "transcript": [entry_to_json(e) for e in record.transcript],
        "violations": [violation_to_json(v) for v in record.violations],
        "messages": [message(m) for m in record.messages],
        "auth_user": json_text(record.auth_user) if record.auth_user is not None else None,
        "tls": record.tls,
        "outcomes": [outcome_to_json(o) for o in record.outcomes],
        "rule_hits": record.rule_hits,
        "near_misses": [json_text(m) for m in record.near_misses],
        "dropped_entries": record.dropped_entries,
    }
    if exchanges:
        out["exchanges"] = [exchange_to_json(e) for e in record.exchanges()]
    return out


def journal_to_json(limits: JournalLimits, counts: JournalCounts) -> JSON:
    """``GET /api/journal``: what the journal keeps at most (JournalLimits) and what it saw,
    kept and dropped since the last reset (JournalCounts), each by its field names."""
    return {"limits": dataclasses.asdict(limits), "counts": dataclasses.asdict(counts)}


def counts_from_json(data: JSON) -> JournalCounts:
    """The ``counts`` of a ``GET /api/journal`` answer; fields this version lacks are ignored."""
    known = {f.name for f in dataclasses.fields(JournalCounts)}
    return JournalCounts(**{k: int(v) for k, v in data["counts"].items() if k in known})


def outcome_to_json(outcome: Outcome) -> JSON:
    return {
        "time": outcome.time,
        "stage": outcome.stage,
        "argument": outcome.argument,
        "fired": outcome.fired,
        "misses": list(outcome.misses),
    }


def outcome_from_json(data: JSON) -> Outcome:
    fired = data.get("fired")
    return Outcome(
        time=float(data["time"]),
        stage=str(data["stage"]),
        argument=str(data["argument"]),
        fired=str(fired) if fired is not None else None,
        why=tuple(str(m) for m in data.get("misses", ())),
    )


def problems_to_json(error: ScenarioError) -> JSON:
    """The 400 body for a scenario that does not load: strings for people, parts for programs."""
    return {
        "error": f"the scenario is invalid ({len(error.problems)} problem(s))",
        "problems": [str(p) for p in error.problems],
        "details": [
            {
                "file": p.location.file,
                "line": p.location.line,
                "column": p.location.column,
                "message": p.message,
            }
            for p in error.problems
        ],
        # a ParamsError's: the values the caller set that the scenario does not take, each as
        # NAME=VALUE: why (a client tells them as its own argument's mistake)
        **({"settings": list(error.settings)} if isinstance(error, ParamsError) else {}),
    }


def _plain(value: Any) -> Any:
    """A fault parameter as JSON: dataclasses to objects, tuples to lists, the rest as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list | frozenset | set):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, frozenset | set) else items
    return str(value)


# Rule fields shown on their own above, or not conditions at all.
_NOT_CONDITIONS = {
    "index",
    "stages",
    "faults",
    "name",
    "location",
    "match",
    "nth",
    "connection",
    "times",
}


def _conditions(rule: Rule) -> JSON:
    """Every other condition the rule sets (per, first, window, probability, state, ...), by
    its YAML key, so a new condition shows up here without a change."""
    out: JSON = {}
    for f in dataclasses.fields(rule):
        value = getattr(rule, f.name)
        if f.name not in _NOT_CONDITIONS and value is not None:
            out[f.name] = _plain(value)
    return out


class ScenarioDescription(dict[str, Any]):
    """The scenario a server plays, as ``GET /api/scenario`` describes it (``name``, ``summary``,
    ``expect``, ``description``, ``source``, ``seed`` in force, ``params``, ``rules``, ``smtp``,
    ``show``): the fixture's ``scenario``, in-process and against a sidecar alike. Calling it
    returns it: ``RemoteSmtpFake.scenario()`` was a method before it was this property."""

    def __call__(self) -> ScenarioDescription:
        return self


def scenario_in_force(server: Server) -> ScenarioDescription:
    """``GET /api/scenario``'s body for ``server``."""
    from smtpfake.cli import show_text

    body = ScenarioDescription(scenario_to_json(server.scenario))
    body["seed"] = server.effective_seed
    body["smtp"] = {"host": server.host, "port": server.port}
    body["show"] = show_text(server.scenario)
    return body


def scenario_to_json(scenario: Scenario) -> JSON:
    return {
        "name": scenario.name,
        "summary": scenario.summary,
        "expect": scenario.expect,
        "description": scenario.description,
        "source": scenario.source,
        "seed": scenario.seed,
        "params": [
            {
                "name": p.name,
                "type": p.type,
                "value": p.value,
                "default": p.default,
                "min": p.minimum,
                "max": p.maximum,
                "doc": p.doc,
            }
            for p in scenario.params
        ],
        "server": _plain(scenario.server),
        "rules": [
            {
                "index": rule.index,
                "label": rule.label,
                "on": sorted(s.value for s in rule.stages),
                "match": rule.match,
                "nth": list(rule.nth) if rule.nth is not None else None,
                "connection": list(rule.connection) if rule.connection is not None else None,
                "times": rule.times,
                "conditions": _conditions(rule),
                "faults": [{"type": f.name, "params": _plain(f)} for f in rule.faults],
            }
            for rule in scenario.rules
        ],
    }


# -- JSON -> records -------------------------------------------------------------------------------


def entry_from_json(data: JSON) -> TranscriptEntry:
    side = data["side"]
    if side not in ("client", "server"):
        raise ValueError(f"transcript side must be 'client' or 'server', got {side!r}")
    return TranscriptEntry(
        time=float(data["time"]),
        side=cast(Literal["client", "server"], side),
        text=str(data["text"]),
        rule=data.get("rule"),
        delivered=bool(data.get("delivered", True)),
        written=data.get("written"),
        event=bool(data.get("event", False)),
        note=bool(data.get("note", False) or data.get("event", False)),  # an event is a note
        endings=tuple(str(e) for e in data.get("endings", ())),
    )


def violation_from_json(data: JSON) -> Violation:
    return Violation(
        kind=str(data["kind"]),
        detail=str(data["detail"]),
        command=str(data["command"]),
        time=float(data["time"]),
    )


def message_from_json(data: JSON) -> Message:
    mail_options, rcpt_options = options_from_json(data)
    return Message(
        mail_from=str(data["mail_from"]),
        rcpt_tos=tuple(str(r) for r in data["rcpt_tos"]),
        data=base64.b64decode(data["data_base64"], validate=True),
        session=int(data["session"]),
        time=float(data["time"]),
        queue_id=str(data["queue_id"]),
        mail_options=mail_options,
        rcpt_options=rcpt_options,
    )


def session_from_json(
    data: JSON, message: Callable[[JSON], Message] = message_from_json
) -> SessionRecord:
    """The record ``session_to_json`` wrote; its messages read by ``message`` (the remote
    client's reads a summary and fetches the data when first used)."""
    ended = data.get("ended")
    auth_user = data.get("auth_user")
    return SessionRecord(
        index=int(data["index"]),
        peer=str(data["peer"]),
        started=float(data["started"]),
        ended=float(ended) if ended is not None else None,
        transcript=tuple(entry_from_json(e) for e in data["transcript"]),
        violations=tuple(violation_from_json(v) for v in data["violations"]),
        messages=tuple(message(m) for m in data["messages"]),
        auth_user=str(auth_user) if auth_user is not None else None,
        tls=bool(data.get("tls", False)),
        outcomes=tuple(outcome_from_json(o) for o in data.get("outcomes", ())),
        dropped_entries=int(data.get("dropped_entries", 0)),
    )


def _problem(detail: JSON) -> Problem:
    """A problem of a 400's ``details``: in a file (``file``, ``line``, ``column``), or in a field
    of the request (``field``: its key path, kept as a Location of line 0)."""
    if "field" in detail:
        return Problem(Location(str(detail["field"]), 0, 0), str(detail["message"]))
    where = Location(str(detail["file"]), int(detail["line"]), int(detail["column"]))
    return Problem(where, str(detail["message"]))


def problems_from_json(data: JSON) -> ScenarioError:
    """Rebuild the ScenarioError a 400 answer describes, so remote callers see the same error."""
    details = data.get("details") or []
    problems = [_problem(d) for d in details]
    if not problems:
        # an answer without details says no place: its message alone (no made-up position)
        problems = [Problem(Location("", 0, 0), str(data.get("error", "invalid")))]
    settings = data.get("settings")
    if isinstance(settings, list) and settings:
        return ParamsError(problems, [str(s) for s in settings])
    return ScenarioError(problems)
