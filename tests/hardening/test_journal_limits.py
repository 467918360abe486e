"""The journal's limits (issue 9): bounded in counts and bytes, honest about what it dropped,
waits that count what was accepted, each message held once, listings as reused snapshots."""

from __future__ import annotations

import math
import smtplib

import pytest

from smtpfake.control import SmtpFake
from smtpfake.engine.records import Message, SessionInfo, TranscriptEntry, Violation
from smtpfake.journal import Journal, JournalCounts, JournalLimits, subject_of
from smtpfake.server import Server


def _info(i: int) -> SessionInfo:
    return SessionInfo(index=i, peer=f"127.0.0.1:{i}", started=float(i))


def _message(i: int, size: int = 1) -> Message:
    return Message("a@x.test", ("b@x.test",), b"x" * size, 1, float(i), f"Q{i}")


def test_a_wait_for_more_messages_than_are_kept_succeeds() -> None:
    """It kept the last 10,000 and dropped the rest silently: a wait for 10,050 never ended."""
    journal = Journal()
    info = _info(1)
    journal.started(info)
    for i in range(10_050):
        journal.message(info, _message(i))
    assert journal.wait_for_messages(10_050, timeout=0)
    counts = journal.counts()
    assert (counts.messages_accepted, counts.messages_dropped) == (10_050, 50)
    assert len(journal.messages()) == 10_000
    assert journal.messages()[0].queue_id == "Q50"


def test_message_bytes_are_bounded_and_the_newest_is_always_kept() -> None:
    journal = Journal(JournalLimits(message_bytes=250_000))
    info = _info(1)
    journal.started(info)
    for i in range(5):
        journal.message(info, _message(i, 100_000))
    assert [m.queue_id for m in journal.messages()] == ["Q3", "Q4"]
    (record,) = journal.sessions()
    assert [m.queue_id for m in record.messages] == ["Q3", "Q4"]
    counts = journal.counts()
    assert (counts.messages_dropped, counts.message_bytes) == (3, 200_000)
    journal.message(info, _message(9, 400_000))  # alone over the bound: still kept
    assert [m.queue_id for m in journal.messages()] == ["Q9"]


def test_a_message_is_held_once() -> None:
    journal = Journal()
    info = _info(1)
    journal.started(info)
    journal.message(info, _message(1, 1000))
    (record,) = journal.sessions()
    assert record.messages[0] is journal.messages()[0]


def test_the_log_reads_a_subject_without_parsing_the_body() -> None:
    """The serve log asked for .subject, which parsed (and kept) all of a 30 MiB message."""
    body = b"x" * 998 + b"\r\n"
    message = Message(
        "a@x.test",
        ("b@x.test",),
        b"Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\n" + body * 100,
        1,
        0.0,
        "Q",
    )
    assert subject_of(message) == "café"
    assert not getattr(message, "_parsed", [])  # nothing parsed or kept beside the raw bytes
    assert subject_of(_message(2)) == ""


def test_listings_reuse_snapshots_until_something_changes() -> None:
    journal = Journal()
    a, b = _info(1), _info(2)
    journal.started(a)
    journal.started(b)
    journal.transcript(a, TranscriptEntry(0.0, "client", "EHLO x"))
    first = journal.sessions()
    assert journal.sessions() is first  # nothing changed: the same snapshot
    assert journal.messages() is journal.messages()
    journal.transcript(b, TranscriptEntry(0.0, "client", "NOOP"))
    changed = journal.sessions()
    assert changed[0] is first[0] and changed[1] is not first[1]
    assert changed[1].commands == ("NOOP",)


def test_sessions_and_entries_dropped_are_counted_and_shown() -> None:
    journal = Journal(JournalLimits(sessions=2, entries=3))
    infos = [_info(i) for i in range(1, 5)]
    for info in infos:
        journal.started(info)
    for i in range(5):
        journal.transcript(infos[-1], TranscriptEntry(float(i), "client", f"NOOP {i}"))
        journal.violation(infos[-1], Violation("bad-sequence", "d", "DATA", float(i)))
    counts = journal.counts()
    assert (counts.sessions_started, counts.sessions_dropped) == (4, 2)
    assert counts.entries_dropped == 4  # two entries and two violations
    record = journal.sessions()[-1]
    assert record.dropped_entries == 4
    assert [e.text for e in record.transcript] == ["NOOP 2", "NOOP 3", "NOOP 4"]
    assert "4 earlier entries not kept" in record.format()


def test_transcript_text_is_bounded_in_bytes_and_per_entry() -> None:
    journal = Journal(JournalLimits(transcript_bytes=10_000, entry_chars=1_000))
    infos = [_info(i) for i in range(1, 30)]
    for info in infos:
        journal.started(info)
        journal.transcript(info, TranscriptEntry(0.0, "client", "X" * 5_000))
    counts = journal.counts()
    assert counts.entries_cut == 29
    assert counts.transcript_bytes <= 10_000
    kept = journal.sessions()
    assert counts.sessions_dropped == 29 - len(kept) > 0
    assert kept[-1].transcript[0].text == "X" * 1_000 + "... (4,000 more characters)"


@pytest.mark.parametrize("timeout", [math.nan, math.inf, -1.0])
def test_a_wait_refuses_a_timeout_that_never_ends(timeout: float) -> None:
    """A NaN timeout made a wait spin for ever."""
    with pytest.raises(ValueError, match="finite number of seconds"):
        Journal().wait(lambda j: False, timeout)


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match=r"JournalLimits\.messages"):
        JournalLimits(messages=0)


def test_a_real_server_keeps_its_limits_and_the_fixture_wait_counts_accepted() -> None:
    limits = JournalLimits(messages=3)
    with Server(journal_limits=limits) as server:
        with smtplib.SMTP(server.host, server.port, timeout=10) as client:
            for i in range(5):
                client.sendmail("a@x.test", ["b@x.test"], f"Subject: {i}\r\n\r\nbody\r\n")
        fake = SmtpFake(server)
        assert [m.subject for m in fake.wait_for_messages(5, timeout=10)] == ["2", "3", "4"]
        fake.wait_for_sessions(1, timeout=10)
        counts = server.journal.counts()
        assert (counts.messages_accepted, counts.messages_dropped) == (5, 2)


def test_a_session_dropped_while_open_still_counts_its_messages_and_its_end() -> None:
    journal = Journal(JournalLimits(sessions=1))
    first, second = _info(1), _info(2)
    journal.started(first)
    journal.started(second)  # the first, still open, is dropped
    journal.message(first, _message(1))
    journal.ended(first, 1.0)
    counts = journal.counts()
    assert (counts.messages_accepted, counts.messages_dropped, counts.sessions_ended) == (1, 1, 1)
    assert journal.wait_for_sessions(1, timeout=0)
    journal.clear()
    journal.message(first, _message(2))  # from before clear(): not counted
    journal.ended(first, 2.0)
    assert journal.counts() == JournalCounts()
