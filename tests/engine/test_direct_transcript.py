"""A session appends its transcript entries to the journal's list itself (direct_transcript):
readers still see every entry at once, and the journal still holds every bound (entries per
session, characters per entry, transcript bytes, sessions)."""

from __future__ import annotations

import pytest

from smtpfake.engine import FakeClock, Session, Shared
from smtpfake.engine.records import TranscriptEntry
from smtpfake.journal import DIRECT_ENTRIES, Journal, JournalLimits
from smtpfake.scenario import resolve

from ..support.engine import Engine
from .test_hot_path import whole_session


def session_of(journal: Journal, clock: FakeClock | None = None) -> Session:
    return Session(resolve("default"), Shared(), journal, peer="p:1", clock=clock or FakeClock())


def test_whole_entries_skip_the_journals_call_and_readers_see_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    called: list[str] = []
    keep = Journal._keep

    def counted(
        self: Journal, info: object, time: float, side: str, text: str, *rest: object
    ) -> None:
        called.append(text)
        keep(self, info, time, side, text, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(Journal, "_keep", counted)
    engine = Engine()
    p = whole_session(engine)
    (record,) = engine.journal.sessions()
    assert len(record.transcript) == 16
    assert called == []  # the client's close (an event entry) too
    assert record.transcript[-1].event and record.transcript[-1].delivered
    assert not any(e.event for e in record.transcript[:-1])
    texts = [e.text for e in record.transcript]
    assert texts[:3] == ["220 smtpfake.test ESMTP smtpfake", "EHLO c.test", texts[2]]
    assert engine.journal.counts().transcript_bytes == sum(len(t) for t in texts)
    del p


def test_a_snapshot_made_before_more_entries_is_made_again() -> None:
    journal = Journal()
    session = session_of(journal)
    session.note(1.0, "client", "NOOP", None)
    (first,) = journal.sessions()
    session.note(2.0, "server", "250 2.0.0 Ok", None)
    (again,) = journal.sessions()
    assert [e.text for e in first.transcript] == ["NOOP"]
    assert [e.text for e in again.transcript] == ["NOOP", "250 2.0.0 Ok"]
    assert again.transcript[0] is first.transcript[0]  # each entry made once
    assert journal.sessions_view()[0] is again


def test_past_the_entry_bound_the_oldest_go_and_are_counted() -> None:
    journal = Journal(JournalLimits(entries=3, entry_chars=10))
    session = session_of(journal)
    for i in range(5):
        session.note(float(i), "client", f"NOOP {i}", None)
    session.note(5.0, "server", "250 " + "x" * 20, "r")  # over entry_chars: cut
    (record,) = journal.sessions()
    assert [e.text for e in record.transcript] == [
        "NOOP 3",
        "NOOP 4",
        "250 xxxxxx... (14 more characters)",
    ]
    assert record.transcript[2].rule == "r"
    assert record.dropped_entries == 3
    counts = journal.counts()
    assert (counts.entries_dropped, counts.entries_cut) == (3, 1)
    assert counts.transcript_bytes == sum(len(e.text) for e in record.transcript)


def test_the_byte_bound_is_held_within_a_sessions_room() -> None:
    text = "NOOP " + "x" * 95  # 100 bytes an entry
    bound = 30 * 100
    journal = Journal(JournalLimits(transcript_bytes=bound))
    old = session_of(journal)
    for _ in range(20):
        old.note(0.0, "client", text, None)
    new = session_of(journal)
    for i in range(DIRECT_ENTRIES * 2 + 1):  # and no read: the session's own asks hold the bound
        new.note(float(i), "client", text, None)
    assert old._room() is None  # dropped already
    records = journal.sessions()
    assert [r.index for r in records] == [new.index]  # the old one went for the bound
    assert journal.counts().sessions_dropped == 1
    assert journal.counts().transcript_bytes == 100 * len(records[0].transcript)


def test_a_session_the_journal_dropped_stops_appending() -> None:
    journal = Journal(JournalLimits(sessions=1))
    gone = session_of(journal)
    kept = session_of(journal)  # the journal keeps one session: the first goes
    for i in range(DIRECT_ENTRIES + 5):
        gone.note(float(i), "client", "NOOP", None)
    assert gone.entries is None  # told once its room ran out
    kept.note(0.0, "client", "EHLO x", None)
    (record,) = journal.sessions()
    assert record.index == kept.index and [e.text for e in record.transcript] == ["EHLO x"]
    assert journal.counts().transcript_bytes == len("EHLO x")


def test_a_cleared_journal_keeps_nothing_a_session_appends_after() -> None:
    journal = Journal()
    session = session_of(journal)
    session.note(0.0, "client", "EHLO x", None)
    journal.clear()
    for i in range(DIRECT_ENTRIES + 1):
        session.note(float(i), "client", "NOOP", None)
    assert journal.sessions() == () and journal.counts().transcript_bytes == 0
    assert session.entries is None


def test_a_reader_in_another_thread_sees_a_growing_transcript_in_order() -> None:
    """The entries the session appends without the lock are read safely meanwhile: each read
    holds a prefix of what was appended, never a shifted or torn one."""
    import sys
    import threading

    journal = Journal(JournalLimits(entries=200))
    session = session_of(journal)
    done = threading.Event()
    seen: list[int] = []
    failures: list[str] = []

    def read() -> None:
        while not done.is_set() and len(seen) < 100_000:
            records = journal.sessions()
            texts = [e.text for e in records[0].transcript] if records else []
            dropped = records[0].dropped_entries if records else 0
            if texts != [f"NOOP {i}" for i in range(dropped, dropped + len(texts))]:
                failures.append(repr(texts[:3]))
            seen.append(len(texts))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(2_000):
            session.note(float(i), "client", f"NOOP {i}", None)
    finally:
        done.set()
        reader.join(10)
        sys.setswitchinterval(interval)
    assert not failures
    (record,) = journal.sessions()
    assert [e.text for e in record.transcript] == [f"NOOP {i}" for i in range(1_800, 2_000)]
    assert journal.counts().transcript_bytes == sum(len(e.text) for e in record.transcript)


def test_entries_with_more_fields_are_appended_and_read_back_whole() -> None:
    journal = Journal()
    session = session_of(journal)
    session.record("server", "250 2.0.0 Ok", "r", time=0.0, delivered=False, written=3)
    session.client_closed("(client closed the connection)", 2.5)
    session.note(3.0, "client", "NOOP", None)
    (record,) = journal.sessions()
    assert record.transcript == (
        TranscriptEntry(0.0, "server", "250 2.0.0 Ok", "r", False, 3),
        TranscriptEntry(
            2.5, "client", "(client closed the connection)", None, True, None, True, True
        ),
        TranscriptEntry(3.0, "client", "NOOP"),
    )


def test_appended_entries_are_counted_in_utf8_octets_lone_surrogates_included() -> None:
    """What the session appended is counted in one go: each entry's UTF-8 size, a character
    that cannot be encoded (a lone surrogate from an undecodable octet) as one octet."""
    journal = Journal()
    session = session_of(journal)
    texts = ["EHLO x", "NOOP é", "NOOP \udcff", "\ud83d", "\ude00", "250 ✓"]
    for text in texts:
        session.note(0.0, "client", text, None)
    (record,) = journal.sessions()
    assert [e.text for e in record.transcript] == texts
    assert journal.counts().transcript_bytes == sum(
        len(t.encode("utf-8", "replace")) for t in texts
    )
    assert journal.counts().transcript_bytes == 6 + 7 + 6 + 1 + 1 + 7
