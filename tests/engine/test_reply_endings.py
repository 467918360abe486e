"""A reply's line endings are in the record (fresh10 F6): a ``raw``, ``malformed: bare-lf`` or
``truncate`` reply whose lines did not all end in CRLF says how each ended (``endings``), in
the API, the JSON and the text form; a reply in CRLF has none. On the FakeClock, no socket."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from smtpfake.engine.records import TranscriptEntry
from smtpfake.logging_observer import EventLog, LoggingJournal
from smtpfake.serialize import entry_from_json, entry_to_json

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe


def pipe(*rules: dict[str, Any]) -> Pipe:
    p = Pipe(Engine(scenario(*rules)))
    p.connect()
    p.feed("EHLO client.test")
    return p


def last_reply(p: Pipe) -> TranscriptEntry:
    return [e for e in p.record.transcript if e.side == "server" and not e.note][-1]


@pytest.mark.parametrize(
    ("raw", "text", "endings", "shown"),
    [
        ("250 ok\r\n", "250 ok", (), "S: 250 ok"),
        ("250 ok", "250 ok", ("none",), "S: 250 ok   (unfinished: no line ending)"),
        ("250 ok\n", "250 ok", ("lf",), "S: 250 ok   (bare LF)"),
        ("250 ok\r", "250 ok", ("cr",), "S: 250 ok   (bare CR)"),
        ("250-a\r\n250 b", "250-a\n250 b", ("crlf", "none"),
         "S: 250-a\nS: 250 b   (unfinished: no line ending)"),
        ("250-a\n250 b\r\n", "250-a\n250 b", ("lf", "crlf"), "S: 250-a   (bare LF)\nS: 250 b"),
        ("250 ok\r\n\r\n", "250 ok\n", (), "S: 250 ok\nS: "),
        # only an LF ends a line (as clients read): a CR inside one stays in its text
        ("250 a\rb\n", "250 a\rb", ("lf",), "S: 250 a\rb   (bare LF)"),
    ],
)  # fmt: skip
def test_a_raw_reply_records_how_each_line_ended(
    raw: str, text: str, endings: tuple[str, ...], shown: str
) -> None:
    p = pipe({"on": "noop", "name": "r", "raw": raw})
    assert p.feed("NOOP") == raw.encode("latin-1")
    entry = last_reply(p)
    assert (entry.text, entry.endings, entry.delivered) == (text, endings, True)
    assert str(entry) == shown + "   [r]"  # the rule's tag after the last line


def test_three_wires_give_three_records() -> None:
    # fresh10's repro: no line ending, CRLF and a bare LF were one and the same record
    records = set()
    for raw in ("250 ok", "250 ok\r\n", "250 ok\n"):
        p = pipe({"on": "noop", "raw": raw})
        p.feed("NOOP")
        entry = last_reply(p)
        records.add((entry.text, entry.endings, str(entry)))
    assert len(records) == 3


def test_truncate_mid_line_is_unfinished_and_at_the_cr_a_bare_cr() -> None:
    p = pipe({"on": "rcpt", "name": "cut", "reply": "550 5.1.1 no such user", "truncate": 6})
    p.feed("MAIL FROM:<a@x.test>")
    assert p.feed("RCPT TO:<b@x.test>") == b"550 5."
    entry = last_reply(p)
    assert (entry.text, entry.endings) == ("550 5.", ("none",))
    assert str(entry) == "S: 550 5.   (unfinished: no line ending)   [cut]"
    # the 24 octets up to the CR: the LF never went
    p = pipe({"on": "rcpt", "reply": "550 5.1.1 no such user", "truncate": 23})
    p.feed("MAIL FROM:<a@x.test>")
    assert p.feed("RCPT TO:<b@x.test>") == b"550 5.1.1 no such user\r"
    assert last_reply(p).endings == ("cr",)
    # cut after the CRLF: a whole line, nothing to say
    p = pipe({"on": "rcpt", "reply": "550 5.1.1 no such user", "truncate": 24})
    p.feed("MAIL FROM:<a@x.test>")
    p.feed("RCPT TO:<b@x.test>")
    assert last_reply(p).endings == ()


def test_malformed_bare_lf_tags_every_line() -> None:
    p = Pipe(Engine(scenario({"on": "ehlo", "name": "lf", "malformed": "bare-lf"})))
    p.connect()
    wire = p.feed("EHLO client.test")
    entry = last_reply(p)
    assert wire.count(b"\n") == len(entry.lines) > 1 and b"\r" not in wire
    assert entry.endings == ("lf",) * len(entry.lines)
    shown = str(entry).split("\n")
    assert all(line.endswith("   (bare LF)") for line in shown[:-1])
    assert shown[-1].endswith("   (bare LF)   [lf]")


@pytest.mark.parametrize("pacing", [{"drip": {"bytes": 2, "interval": 0.5}}, {"fragment": 3}])
def test_a_paced_reply_is_recorded_once_with_the_endings_of_the_whole(
    pacing: dict[str, Any],
) -> None:
    p = pipe({"on": "noop", "raw": "250-a\n250 b", **pacing})
    assert p.feed("NOOP") == b"250-a\n250 b"
    replies = [e for e in p.record.transcript if e.side == "server" and not e.note]
    assert replies[-1].endings == ("lf", "none") and replies[-2].text != "250-a\n250 b"
    # and a paced reply in CRLF says nothing
    p = pipe({"on": "noop", **pacing})
    p.feed("NOOP")
    assert last_reply(p).endings == ()


def test_the_endings_go_through_json_and_back_and_a_reply_in_crlf_has_none() -> None:
    p = pipe({"on": "noop", "raw": "250-a\n250 b"}, {"on": "rset", "raw": "250 ok\r\n"})
    p.feed("NOOP")
    entry = last_reply(p)
    data = entry_to_json(entry)
    assert data["endings"] == ["lf", "none"]
    assert entry_from_json(data) == entry
    # JSON without endings (an old writer's) reads as CRLF
    del data["endings"]
    assert entry_from_json(data).endings == ()
    # the common reply's JSON is as it was: no endings key
    p.feed("RSET")
    assert last_reply(p).text == "250 ok" and "endings" not in entry_to_json(last_reply(p))


def test_a_reply_cut_by_the_client_counts_its_octets_by_its_own_endings() -> None:
    # two bare-LF lines of 6 octets each: 7 written are the first line and one octet more
    entry = TranscriptEntry(
        1.0, "server", "250-a\n250 b", delivered=False, written=7, endings=("lf", "lf")
    )
    assert str(entry) == "S: 250-a   (bare LF)\nS: 250 b   (not delivered: 7 octets written)"
    # with CRLFs those 7 octets would be the first line alone, the second never begun
    crlf = TranscriptEntry(1.0, "server", "250-a\n250 b", delivered=False, written=7)
    assert str(crlf) == "S: 250-a   (not delivered: 7 octets written; 1 more line not sent)"
    # the cut at the first LF: that line went whole, with its ending
    at_end = TranscriptEntry(
        1.0, "server", "250-a\n250 b", delivered=False, written=6, endings=("lf", "lf")
    )
    assert str(at_end) == (
        "S: 250-a   (bare LF)   (not delivered: 6 octets written; 1 more line not sent)"
    )


def test_a_paced_bare_lf_reply_the_client_left_is_recorded_with_its_endings() -> None:
    p = pipe({"on": "noop", "raw": "250-a\n250 b\n", "drip": {"bytes": 4, "interval": 1}})
    p.feed("NOOP", hold=True)
    p.release(hold=True)  # 8 octets out: the first line and two of the second
    p.eof()
    entry = [e for e in p.record.transcript if e.side == "server" and not e.note][-1]
    assert (entry.delivered, entry.written, entry.endings) == (False, 8, ("lf", "lf"))
    assert str(entry) == (
        "S: 250-a   (bare LF)\nS: 250 b   [rule 1 (on noop)]   (not delivered: 8 octets written)"
    )


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_serve_s_log_says_it_as_the_record_does(fmt: str) -> None:
    stream = io.StringIO()
    engine = Engine(scenario({"on": "noop", "raw": "250-a\n250 b"}))
    engine.journal = LoggingJournal(EventLog(stream, fmt))  # type: ignore[arg-type]
    p = Pipe(engine)
    p.connect()
    p.feed("NOOP")
    p.feed("QUIT")
    p.eof()
    engine.journal.log.flush()
    (record,) = engine.journal.sessions()
    (entry,) = [e for e in record.transcript if e.endings]
    if fmt == "text":
        logged = [line.split(" ", 3)[3] for line in stream.getvalue().splitlines()]
        assert str(entry).split("\n") == [
            "S: 250-a   (bare LF)",
            "S: 250 b   (unfinished: no line ending)   [rule 1 (on noop)]",
        ]
        assert [line for line in logged if line.startswith("S: 250")] == str(entry).split("\n")
    else:
        replies = [json.loads(line) for line in stream.getvalue().splitlines()]
        (said,) = [r for r in replies if r.get("text") == entry.text]
        assert said["endings"] == ["lf", "none"] == entry_to_json(entry)["endings"]
        assert all("endings" not in r for r in replies if r is not said)
