"""The journal's bounds hold inside one session too: a client that keeps one connection open and
sends message after message (or mistake after mistake) must not grow it without limit."""

from __future__ import annotations

import dataclasses

from smtpfake import journal as journal_module
from smtpfake.engine.records import Message, SessionInfo, TranscriptEntry, Violation
from smtpfake.journal import Journal


def test_one_long_session_keeps_only_the_latest_entries_violations_and_messages() -> None:
    journal = Journal(max_sessions=2, max_messages=3, max_entries=4)
    info = SessionInfo(index=1, peer="127.0.0.1:1", started=0.0)
    journal.started(info)
    for i in range(10):
        journal.transcript(info, TranscriptEntry(float(i), "client", f"NOOP {i}"))
        journal.violation(info, Violation("bad-sequence", f"#{i}", "RCPT TO:<a@x.test>", float(i)))
        journal.message(info, Message("a@x.test", ("b@x.test",), b"x", 1, float(i), f"Q{i}"))
    (record,) = journal.sessions()
    assert [e.text for e in record.transcript] == ["NOOP 6", "NOOP 7", "NOOP 8", "NOOP 9"]
    assert [v.detail for v in record.violations] == ["#6", "#7", "#8", "#9"]
    assert [m.queue_id for m in record.messages] == ["Q7", "Q8", "Q9"]
    assert [m.queue_id for m in journal.messages()] == ["Q7", "Q8", "Q9"]


def test_a_session_from_before_clear_writes_nothing_after_it() -> None:
    journal = Journal()
    old = SessionInfo(index=1, peer="127.0.0.1:1", started=0.0)
    journal.started(old)
    journal.clear()
    journal.message(old, Message("a@x.test", ("b@x.test",), b"x", 1, 0.0, "Q1"))
    journal.violation(old, Violation("no-helo", "d", "MAIL FROM:<a@x.test>", 0.0))
    journal.ended(old, 1.0)
    assert journal.sessions() == () and journal.messages() == ()


def direct_session(journal: Journal, entries: int) -> SessionInfo:
    """A session that appends ``entries`` entries itself, asking for room as the engine does."""
    info = SessionInfo(index=1, peer="127.0.0.1:1", started=0.0)
    journal.started(info)
    ask = journal.direct_transcript
    assert ask is not None
    n = 0
    while n < entries:
        room = ask(info)
        assert room is not None
        kept, up_to, _ = room
        assert up_to > len(kept)  # room again, also past the limit: no entry takes the slow way
        while len(kept) < up_to and n < entries:
            kept.append((float(n), "client", f"NOOP {n}", None))
            n += 1
    return info


def test_past_its_entries_limit_a_session_appending_itself_drops_a_block_of_the_oldest() -> None:
    journal = Journal(max_entries=64)
    direct_session(journal, 1000)
    (record,) = journal.sessions()
    kept = [e.text for e in record.transcript]
    assert 64 - 64 // 8 <= len(kept) <= 64
    assert kept == [f"NOOP {n}" for n in range(1000 - len(kept), 1000)]
    assert record.dropped_entries == 1000 - len(kept) == journal.counts().entries_dropped
    size = sum(len(text) for text in kept)
    assert journal.counts().transcript_bytes == size


def test_format_shows_a_client_s_control_octets_as_transcript_does() -> None:
    """A bare CR, ESC or NUL a client sent is ``\\xNN`` in ``format()`` (the text form a failing
    test prints), never played on the terminal: ``NO\\rOP`` would print as ``OP: NO``."""
    journal = Journal()
    info = SessionInfo(index=1, peer="127.0.0.1:1", started=0.0)
    journal.started(info)
    for when, side, text in [
        (0.1, "server", "220 x"),
        (0.2, "client", "NO\rOP"),
        (0.3, "client", "\x1b[2J\x00"),
        (0.4, "server", "500 5.5.2 Error: command not recognized"),
    ]:
        journal.transcript(info, TranscriptEntry(time=when, side=side, text=text))  # type: ignore[arg-type]
    (record,) = journal.sessions()
    text = record.format()
    assert "  C: NO\\x0dOP\n" in text and "  C: \\x1b[2J\\x00\n" in text
    assert not any(ch in text for ch in "\r\x1b\x00")


def test_the_journals_count_names_are_its_counts_fields() -> None:
    """journal._COUNT_FIELDS is read from JournalCounts's annotations (dataclasses.fields
    processed the class at import, start-up time): they must stay its fields, in order."""
    fields = tuple(f.name for f in dataclasses.fields(journal_module.JournalCounts))
    assert fields == journal_module._COUNT_FIELDS
