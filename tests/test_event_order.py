"""smtpfake.event_order, the one rule by which serve's log and the event stream place a violation
or an accepted message among a session's transcript entries: just before the first entry stamped
at or after it, at the latest at the session's end (tests/wire/test_wire_arrival.py holds both
faces to it on a real socket)."""

from __future__ import annotations

import io

from smtpfake.engine.records import Message, SessionInfo, Violation
from smtpfake.event_order import Waiting, place
from smtpfake.logging_observer import EventLog, LoggingJournal


def test_an_item_goes_before_the_first_entry_at_or_after_its_time_in_the_order_held() -> None:
    one, two = SessionInfo(1, "p", 0.0), SessionInfo(2, "p", 0.0)
    waiting: Waiting[str] = Waiting()
    assert not waiting  # nothing held: a plain dict's truth, no Python call on the hot path
    waiting.hold(one, 2.0, "late")
    waiting.hold(one, 1.0, "early, judged after")  # waits behind the one held first
    waiting.hold(two, 1.0, "other session")
    assert waiting.due(one, 1.5) == []
    assert waiting.due(one, 2.0) == ["late", "early, judged after"]  # at its time: goes first
    assert waiting.due(one, 9.0) == []
    assert waiting.due(two, None) == ["other session"]  # the session ended: all
    assert not waiting


def test_sessions_are_told_apart_by_their_info_not_their_number() -> None:
    """use() restarts connection numbers: two sessions of one journal can share an index."""
    old, new = SessionInfo(1, "p", 0.0), SessionInfo(1, "p", 0.0)
    waiting: Waiting[str] = Waiting()
    waiting.hold(old, 1.0, "old's")
    assert waiting.due(new, 5.0) == []
    assert waiting.everything() == [(old, "old's")]
    assert not waiting


def test_a_log_line_still_waiting_when_the_journal_is_cleared_is_written_then() -> None:
    """A reset carries open sessions into the fresh journal as new sessions: what waited for
    the old one's next entry happened before the reset, and is logged before what follows."""
    out = io.StringIO()
    journal = LoggingJournal(EventLog(out))
    info = SessionInfo(1, "p", 0.0)
    journal.started(info)
    journal.violation(info, Violation("bad-sequence", "RCPT before MAIL", "RCPT", 1.0))
    assert "bad-sequence" not in out.getvalue()  # waiting for the RCPT's reply
    journal.clear()
    assert "session 1 ! bad-sequence: RCPT before MAIL (on 'RCPT')" in out.getvalue()
    journal.ended(info, 2.0)
    assert out.getvalue().count("bad-sequence") == 1


def test_place_puts_an_item_after_the_entries_recorded_before_it_was_held() -> None:
    """serve's log holds an item with the number of entries its session had recorded: an
    entry recorded before it (its '.', stamped as the message) never goes after it, one
    recorded after it but stamped earlier (a QUIT of the same read) does."""
    # entries 5.. of a session: 5 the ".", 6 the QUIT read with it, 7 the 250
    new = [(0.940, "."), (0.940, "QUIT"), (0.942, "250")]
    held = [(0.941, 6, "message"), (0.9405, 8, "judged late")]
    assert place(held, new, 5) == [(2, ["message"])]  # "judged late": no entry from 8 on yet
    assert held == [(0.9405, 8, "judged late")]
    assert place(held, [(0.95, "221")], 8) == [(0, ["judged late"])]
    assert not held
    # stamped at the same time as the '.', held after it: after it, before the next at its time
    held = [(0.940, 6, "a"), (0.940, 6, "b"), (0.943, 6, "c")]
    assert place(held, new, 5) == [(1, ["a", "b"])]  # "c" waits: no entry stamped .943 yet
    assert place(held, [], 8) == [] and held == [(0.943, 6, "c")]


def test_a_held_message_line_takes_its_place_and_sort_key_among_sessions_in_one_batch() -> None:
    """serve's log makes a session's new entries in one loop and moves the held message's line
    to its place (log_lines.Lines.entries): the batch is as if made in order. Entries recorded
    before the hold may be stamped after the message, and ties between sessions keep the order
    the lines were made in (the batch's sort is stable on each line's key: its session's latest
    time so far)."""
    out = io.StringIO()
    log = EventLog(out)
    journal = LoggingJournal(log)
    t = 1_800_000_000.0
    one, two = SessionInfo(1, "p", t), SessionInfo(2, "q", t)
    rooms = []
    for info in (one, two):
        journal.started(info)
        room = journal.direct_transcript(info)  # type: ignore[misc]
        assert room is not None
        rooms.append(room[0])
    log.flush()
    out.seek(0)
    out.truncate()
    first, second = rooms
    first += [(t + 0.100, "client", "DATA", None), (t + 0.102, "server", "354 go", None)]
    first.append((t + 0.105, "client", ".", None))  # recorded before the hold, stamped after
    journal.message(one, Message("a@x", ("b@x",), b"hi\r\n", 1, t + 0.104, "Q1"))
    first += [(t + 0.104, "server", "250 ok", None), (t + 0.106, "client", "QUIT", None)]
    second += [(t + 0.1045, "client", "NOOP", None), (t + 0.105, "client", "RSET", None)]
    log.flush()
    said = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert said == [
        "session 1 C: DATA",
        "session 1 S: 354 go",
        "session 2 C: NOOP",
        "session 1 C: .",
        "session 1 accepted message Q1 from <a@x> to b@x (4 bytes)",
        "session 1 S: 250 ok",
        "session 2 C: RSET",
        "session 1 C: QUIT",
    ]
