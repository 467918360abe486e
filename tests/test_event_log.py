"""The event log's batching and formatting (smtpfake.logging_observer), without a process: lines
gathered and written in batches by the running loop's timer, at once past FLUSH_SIZE or with no
loop, in order across threads; stamps as datetime makes them; a stream that fails; and the
logging journal keeping the journal's quick path. ``tests/cli/test_serve_log.py`` runs the log in
real ``smtpfake serve`` processes."""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import math
import random
import subprocess
import sys
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpfake.engine import session as session_module
from smtpfake.engine.records import (
    UNFINISHED_TAG,
    Message,
    SessionInfo,
    TranscriptEntry,
    Violation,
    reply_as_sent,
)
from smtpfake.log_lines import KNOWN, MILLI_SPAN, json_object, milli_of, tables
from smtpfake.logging_observer import FLUSH_SIZE, EventLog, LoggingJournal
from smtpfake.visible import json_document, json_text, visible

from .engine.test_hot_path import whole_session
from .support.engine import Engine
from .support.pipe import Pipe


class Counted(io.StringIO):
    """A stream that counts the writes it was given (each one a system call on a real file)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_lines_made_in_a_loop_are_written_together_by_its_timer() -> None:
    stream = Counted()
    log = EventLog(stream, delay=0.01)

    async def burst() -> str:
        for i in range(1000):
            log.event("command", 1.0, f"C: NOOP {i}", session=1)
        written = stream.getvalue()
        for _ in range(500):  # the timer's 0.01 s, with room for a loaded machine (5 s)
            await asyncio.sleep(0.01)
            if stream.writes:
                break
        return written

    assert asyncio.run(burst()) == ""  # nothing yet: gathered
    assert stream.writes == 1
    lines = stream.getvalue().splitlines()
    assert lines == [f"1970-01-01T00:00:01.000Z session 1 C: NOOP {i}" for i in range(1000)]


def test_past_flush_size_lines_are_written_without_waiting() -> None:
    stream = Counted()
    log = EventLog(stream, delay=60.0)  # a timer that would not fire in this test

    async def burst() -> None:
        line = "x" * 1000
        for _ in range(FLUSH_SIZE // 1000 + 1):
            log.event("command", 0.0, line)

    asyncio.run(burst())
    assert stream.writes == 1 and len(stream.getvalue()) >= FLUSH_SIZE


def test_with_no_running_loop_a_line_is_written_at_once() -> None:
    stream = Counted()
    log = EventLog(stream)
    log.event("connect", 0.0, "connect from ?", session=3)
    assert stream.getvalue() == "1970-01-01T00:00:00.000Z session 3 connect from ?\n"


def test_a_loop_that_stopped_before_its_timer_does_not_hold_later_lines_back() -> None:
    stream = io.StringIO()
    log = EventLog(stream, delay=60.0)

    async def one() -> None:
        log.event("connect", 0.0, "in the loop", session=1)

    asyncio.run(one())  # ends long before its timer would fire
    assert stream.getvalue() == ""
    log.event("close", 0.0, "after it", session=1)  # no loop runs: both lines, in order, now
    assert [line.split(" ", 3)[3] for line in stream.getvalue().splitlines()] == [
        "in the loop",
        "after it",
    ]


def test_lines_from_several_threads_all_arrive_in_the_order_each_made_them() -> None:
    stream = io.StringIO()
    log = EventLog(stream, delay=0.001)
    count = 2000

    def plain(name: str) -> None:  # a thread with no loop: its lines go out at once
        for i in range(count):
            log.event("command", 0.0, f"{name} {i}")

    async def looping() -> None:  # the server's loop: its lines wait for the timer
        for i in range(count):
            log.event("command", 0.0, f"loop {i}")
            if i % 100 == 0:
                await asyncio.sleep(0)

    threads = [threading.Thread(target=plain, args=(f"t{n}",)) for n in range(3)]
    threads.append(threading.Thread(target=asyncio.run, args=(looping(),)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    log.flush()  # what the loop's last timer may not have written before the loop ended
    seen: dict[str, list[int]] = {}
    for line in stream.getvalue().splitlines():
        name, number = line.split()[1:]
        seen.setdefault(name, []).append(int(number))
    assert seen == {name: list(range(count)) for name in ("t0", "t1", "t2", "loop")}


def test_stamps_are_what_datetime_makes_to_the_millisecond() -> None:
    log = EventLog(io.StringIO())
    rng = random.Random(7)
    times = [rng.uniform(0, 4e9) for _ in range(20_000)]
    times += [1_764_439_554 + k / 1000 for k in range(-3, 3)]  # across a second
    times += [1_764_439_554.9994999, 1_764_439_554.9995, 1_764_439_554.9999996]
    # either side of the years the log formats without datetime (1970-2514), and the first day
    times += [-0.5, 0.0, 86399.9996, 2.0**34 - 0.0001, 2.0**34, 2.0**34 + 1.5, 1e11]
    # in a row, as events come: most stamps from the last one's millisecond, edges crossed
    times += [1_764_439_554 + i * 7e-6 for i in range(5000)]
    # around each edge of a millisecond, where rounding to the microsecond decides
    edges = (-1e-6, -5e-7, -4e-7, 0.0, 4e-7, 5e-7, 1e-6)
    times += [1_800_000_000 + k / 1000 + d for k in range(200) for d in edges]
    for t in times:
        when = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)
        expected = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert log.stamp(t) == expected, t


def test_text_lines_in_a_row_are_stamped_as_datetime_across_millisecond_edges() -> None:
    """The text log's hot loop reuses the last line's millisecond while a time is within its
    span (log_lines.MILLI_SPAN): every line's stamp is still datetime's, in runs within a
    millisecond, at each edge where rounding to the microsecond decides, across seconds."""
    stream = io.StringIO()
    log = EventLog(stream)
    journal = LoggingJournal(log)
    start = 1_800_000_000.0
    info = SessionInfo(1, "127.0.0.1:1", start)
    journal.started(info)
    room = journal.direct_transcript(info)  # type: ignore[misc]
    assert room is not None
    edges = (-2.1e-6, -1.9e-6, -1e-6, -5e-7, -4e-7, 0.0, 4e-7, 5e-7, 1e-6, 1.9e-6, 2.1e-6)
    times = [start + k / 1000 + d for k in range(-3, 2004) for d in edges]
    times += [start + 3 + i * 7e-6 for i in range(3000)]  # in a row, most in the last's ms
    for t in times:
        room[0].append((t, "client", "NOOP", None))
        if len(room[0]) == 50:
            log.flush()  # batches: the span carries from one to the next
    journal.ended(info, times[-1])
    log.flush()
    lines = stream.getvalue().splitlines()[1:-1]
    assert len(lines) == len(times)
    for t, line in zip(times, lines, strict=True):
        when = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)
        expected = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert line == f"{expected} session 1 C: NOOP", t


def test_milli_of_is_datetimes_millisecond_within_a_second_and_no_key_outside() -> None:
    """log_lines.milli_of, which the log's hot loops inline: the millisecond datetime gives a
    time in the second ``second`` (rounded to the microsecond half to even), as a key of
    MILLI_SPAN; for a time in another second, or carried into the next, no key of it."""
    tables()
    milli_at = {key: span[0] for key, span in MILLI_SPAN.items()}
    rng = random.Random(5)
    times = [rng.uniform(1e9, 4e9) for _ in range(20_000)] + [rng.random() for _ in range(1000)]
    times += [1_764_439_554 + k / 1000 + d for k in range(-2, 3) for d in (-5e-7, 0.0, 5e-7)]
    for t in times:
        when = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)
        second = float(math.floor(t))
        milli = milli_at.get(milli_of(t, second))
        later = milli_at.get(milli_of(t, second + 1))
        if when.timestamp() >= second + 1:  # the microsecond carried it into the next second
            assert milli is None and later == "000Z", t
        else:
            assert milli == f"{when.microsecond // 1000:03d}Z" and later is None, t
        assert milli_at.get(milli_of(t, second - 1)) is None


def test_the_stamp_tables_are_made_at_the_first_stamp_not_at_import() -> None:
    """serve --quiet and the sidecar stamp no line: importing the log and making one builds
    no table (some 5 million instructions of start-up); the first stamp fills them, and the
    stamps are datetime's before and after (the first comes the slow way)."""
    code = (
        "import io\n"
        "from smtpfake.log_lines import MILLI_SPAN, MILLI_Z\n"
        "from smtpfake.logging_observer import EventLog\n"
        "log = EventLog(io.StringIO())\n"
        "assert not MILLI_SPAN and not MILLI_Z, 'made at import'\n"
        "print(log.stamp(1764000000.1234), log.stamp(1764000000.5678))\n"
        "assert len(MILLI_SPAN) == len(MILLI_Z) == 1000, 'not made at the first stamp'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2025-11-24T16:00:00.123Z 2025-11-24T16:00:00.567Z\n"


def test_json_ts_is_the_float_exactly_with_7_decimals_from_2001_to_2286() -> None:
    """A JSON line's ts reads back as the journal's float, bit for bit: 17 significant digits
    (10 and 7 decimals) give any float back. Made without repr() (its shortest digits cost
    several times more), the same text as f"{t:.7f}" whichever second the log last stamped."""
    log = EventLog(io.StringIO(), "json")
    rng = random.Random(11)
    times = [rng.uniform(1e9, 1e10) for _ in range(20_000)]
    times += [1_764_439_554 + k / 1e7 for k in range(-20, 20)]  # across a second
    times += [1_764_439_554 + k * 1e-8 for k in range(-20, 20)]  # halfway between decimals
    times += [1_764_439_554.9999996, 1_764_439_554.99999995, 1e9, math.nextafter(1e10, 0)]
    for t in times:
        cold = log.ts(t)  # maybe another second than the last stamp's
        log.stamp(t)  # as a line is made: stamped first, its second the log's
        for text in (cold, log.ts(t)):
            assert text == f"{t:.7f}" and float(text) == t, (t, text)
    for t in (0.0, 1.5, 1e9 - 0.5, 1e10, 1e10 + 0.25, -1.5):
        log.stamp(t)
        assert log.ts(t) == repr(t)  # outside those years: the shortest digits that read back


def test_json_lines_keep_their_fields_and_escape_what_is_not_utf8() -> None:
    stream = io.StringIO()
    log = EventLog(stream, "json")
    log.event("command", 1.5, "C: NOOP \udcff \x1b", session=2, side="client", rule=None)
    # the octet 0xFF as the HTTP API shows it (the string \xff), not a lone surrogate
    assert stream.getvalue() == (
        '{"time": "1970-01-01T00:00:01.500Z", "ts": 1.5, "event": "command", '
        '"text": "C: NOOP \\\\xff \\u001b", "session": 2, "side": "client", "rule": null}\n'
    )
    assert json.loads(stream.getvalue())["text"] == json_text("C: NOOP \udcff \x1b")


def test_a_stream_that_fails_is_a_failure_of_the_log_given_to_on_failure() -> None:
    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    failures: list[OSError] = []
    log = EventLog(Closed(), on_failure=failures.append)
    log.event("connect", 0.0, "one")
    log.event("connect", 0.0, "two")  # dropped: the stream is gone
    assert len(failures) == 1 and log.failure is failures[0]
    with pytest.raises(BrokenPipeError):  # with no one to tell, the writer is told
        EventLog(Closed()).event("connect", 0.0, "one")


def test_the_logging_journal_keeps_the_direct_path_and_logs_every_entry() -> None:
    stream = io.StringIO()
    engine = Engine()
    engine.journal = journal = LoggingJournal(EventLog(stream))
    # the session appends its entries to the journal's list itself; the log reads them there
    assert journal.direct_transcript is not None and journal.quick_transcript is not None
    whole_session(engine)
    (record,) = journal.sessions()
    logged = [line.split(" ", 3)[3] for line in stream.getvalue().splitlines()]
    shown = [line for e in record.transcript for line in str(e).split("\n")]  # C*/S*: notes
    assert any(line.startswith("C* (message data, ") for line in shown)
    assert [line for line in logged if line[:3] in ("C: ", "S: ", "C* ", "S* ")] == shown
    assert logged[0].startswith("connect from") and logged[-1] == "closed"
    assert sum(line.startswith("accepted message") for line in logged) == 1


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_engine_s_notes_take_the_quick_path_and_are_logged_as_notes(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message's ``(message data, N bytes)``, the server's close and the client's are notes
    delivered whole: kept as tuples like a line (no TranscriptEntry made), logged ``C*``/``S*``
    with ``"note": true`` in JSON."""
    made: list[str] = []

    def counted(*args: Any) -> TranscriptEntry:
        made.append(args[2])
        return TranscriptEntry(*args)

    monkeypatch.setattr(session_module, "TranscriptEntry", counted)
    stream = io.StringIO()
    engine = Engine()
    engine.journal = journal = LoggingJournal(EventLog(stream, fmt))  # type: ignore[arg-type]
    whole_session(engine)
    journal.log.flush()
    assert made == []
    (record,) = journal.sessions()
    noted = [e.text for e in record.transcript if e.note]
    assert noted == [
        "(message data, 52 bytes)",
        "(connection closed)",
        "(client closed the connection)",
    ]
    if fmt == "text":
        said = [line.split(" ", 3)[3] for line in stream.getvalue().splitlines()]
        assert [line[3:] for line in said if line.startswith(("C* ", "S* "))] == noted
        assert [line[:3] for line in said if line.endswith(tuple(noted))] == ["C* ", "S* ", "C* "]
    else:
        logged = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert [e["text"] for e in logged if e.get("note")] == noted
        assert all("note" not in e for e in logged if e.get("text") in ("QUIT", "."))


def test_the_text_log_remembers_printable_texts_boundedly_and_still_shows_the_rest() -> None:
    """The text loop remembers the texts it found printable (log_lines.Lines.known): past
    KNOWN distinct ones it forgets them, and a text with what a terminal would act on is
    never remembered, so it is shown as ``\\xNN`` however often it comes."""
    stream = io.StringIO()
    log = EventLog(stream)
    journal = LoggingJournal(log)
    info = SessionInfo(1, "127.0.0.1:1", 1_800_000_000.0)
    journal.started(info)
    room = journal.direct_transcript(info)  # type: ignore[misc]
    assert room is not None
    texts = [f"RCPT TO:<u{i}@x>" for i in range(2 * KNOWN + 5)] + ["NOOP\x1b[2J"] * 3
    texts += ["RCPT TO:<u1@x>", "NOOP\x1b[2J"]
    for i, text in enumerate(texts):
        room[0].append((1_800_000_000.0 + i, "client", text, None))
        if i % 100 == 0:
            log.flush()
            assert len(journal._lines.known) <= KNOWN
    journal.ended(info, 1_800_000_999.0)
    log.flush()
    assert len(journal._lines.known) <= KNOWN
    assert "NOOP\x1b[2J" not in journal._lines.known
    shown = [line.split(" C: ", 1)[1] for line in stream.getvalue().splitlines()[1:-1]]
    assert shown == [visible(text) for text in texts]
    assert shown[-1] == "NOOP\\x1b[2J"


def test_an_entry_of_a_session_the_journal_does_not_keep_is_still_logged() -> None:
    # the quick path keeps nothing for a session it does not know (after clear()), and logs it
    # still: the log is what happened, the journal what it keeps
    stream = io.StringIO()
    journal = LoggingJournal(EventLog(stream))
    quick = journal.quick_transcript
    assert quick is not None
    quick(SessionInfo(9, "p", 0.0), 0.0, "client", "NOOP", None)
    assert journal.sessions() == ()
    assert stream.getvalue().endswith("session 9 C: NOOP\n")


@pytest.mark.parametrize(("octets", "said"), [(1, "1 octet"), (0, "0 octets"), (4, "4 octets")])
def test_a_reply_not_delivered_says_how_many_octets_in_the_text_log(octets: int, said: str) -> None:
    stream = io.StringIO()
    journal = LoggingJournal(EventLog(stream))
    info = SessionInfo(1, "p", 0.0)
    journal.started(info)
    journal.transcript(
        info, TranscriptEntry(0.0, "server", "250 Ok", delivered=False, written=octets)
    )
    assert stream.getvalue().endswith(f"S: 250 Ok   (not delivered: {said} written)\n")


def test_lines_still_waiting_when_the_interpreter_exits_are_written() -> None:
    # a loop that ends before its timer fires, and no flush(): the exit writes what waits
    script = (
        "import asyncio, sys\n"
        "from smtpfake.logging_observer import EventLog\n"
        "log = EventLog(sys.stdout, delay=60.0)\n"
        "async def main():\n"
        "    log.event('connect', 0.0, 'connect from ?', session=1)\n"
        "asyncio.run(main())\n"
        "print('after the loop', flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("after the loop\n1970-01-01T00:00:00.000Z session 1 connect from ?\n")


def json_log_of(
    ref: object, *feeds: bytes, advance: float = 0.0
) -> tuple[list[dict[str, Any]], Any]:
    """serve's JSON log of one session on the FakeClock: each of ``feeds`` in one read, the
    clock moved ``advance`` s after each; then the client's EOF."""
    stream = io.StringIO()
    engine = Engine(ref)
    engine.journal = LoggingJournal(EventLog(stream, "json"))
    p = Pipe(engine)
    p.connect(hold=True)
    for data in feeds:
        p.feed(data)
        engine.advance(advance)
    p.release()
    p.eof()
    p.finish()
    (record,) = engine.journal.sessions()
    return [json.loads(line) for line in stream.getvalue().splitlines()], record


def test_the_log_follows_the_transcripts_order_with_a_message_and_quit_in_one_read() -> None:
    """The message and QUIT in one read: the message is accepted (stamped .941) before the
    QUIT that came in that read (.940) is recorded, the 250 held behind it. serve's log writes
    the message's line after the QUIT's, before the 250: in time order, as the transcript."""
    session = b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n"
    events, record = json_log_of(
        {"rules": [{"on": "end_of_data", "delay": 0.2}]},
        session,
        b"Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n",
        advance=0.1,
    )
    said = [e["event"] + " " + e["text"].split("\n")[0] for e in events]
    assert said[said.index("command .") + 1].startswith("message accepted message SF")
    times = [e["ts"] for e in events]
    assert times == sorted(times)
    shown = [(e["ts"], e["text"]) for e in events if e["event"] in ("command", "reply")]
    assert shown == [(e.time, e.text) for e in record.transcript]
    # the same calls as the engine makes them, the message accepted a moment after the QUIT
    # arrived (a real clock's readings): the message line waits for the 250
    stream = io.StringIO()
    journal = LoggingJournal(EventLog(stream))
    info = SessionInfo(1, "p", 0.0)
    quick = journal.quick_transcript
    assert quick is not None
    journal.started(info)
    quick(info, 0.940, "client", ".", None)
    journal.message(info, Message("a@b.test", ("c@d.test",), b"hi\r\n", 1, 0.941, "SF000001"))
    quick(info, 0.940, "client", "QUIT", None)
    quick(info, 0.942, "server", "250 2.0.0 Ok: queued as SF000001", None)
    journal.ended(info, 0.943)
    logged = [line.split(" ", 3)[3] for line in stream.getvalue().splitlines()]
    assert [line.split(" ")[0] for line in logged] == [
        "connect",
        "C:",
        "C:",
        "accepted",
        "S:",
        "closed",
    ]


def test_the_log_writes_an_early_talkers_violation_in_time_order() -> None:
    """A dripped greeting, EHLO sent early: the violation (the EHLO's time) comes before the
    greeting that went out after it, every line's time no earlier than the one before."""
    events, record = json_log_of("dripping-greeting", b"EHLO early\r\n")
    early, no_quit = [e for e in events if e["event"] == "violation"]
    assert no_quit["kind"] == "no-quit" and no_quit["command"] == ""
    assert early["kind"] == "early-talker" and early["ts"] == record.violations[0].time
    times = [e["ts"] for e in events]
    assert times == sorted(times)
    kinds_in_order = [e["event"] for e in events]
    assert kinds_in_order.index("violation") < kinds_in_order.index("reply")


# -- the lines as they were made one call per event (the reference) -------------------------------


def reference_text(stamp: str, session: int, line: str) -> str:
    """A text line as EventLog.text made it, one event at a time, before lines were made in
    batches: visible(), a line per line, UTF-8 escaped."""
    line = visible(line)
    out = f"{stamp} session {session} {line}\n"
    if "\n" in line:
        head = out[: len(out) - len(line) - 1]
        out = "".join(f"{head}{part}\n" for part in line.split("\n"))
    return out.encode("utf-8", "backslashreplace").decode("utf-8")


def reference_entry(log: EventLog, session: int, entry: TranscriptEntry, fmt: str) -> str:
    arrow = "C: " if entry.side == "client" else "S: "
    tag = f"   [{entry.rule}]" if entry.rule else ""
    undelivered: dict[str, Any] = {}
    text = entry.text
    if not entry.delivered:
        if entry.side == "client":
            tag += UNFINISHED_TAG
        else:  # the text log shows only the lines that crossed, as format() does
            text, cut = reply_as_sent(text, entry.written)
            tag += cut
        undelivered = {"delivered": False, "written": entry.written}
    if fmt == "text":
        shown = arrow + text.replace("\n", "\n" + arrow)
        return reference_text(log.stamp(entry.time), session, shown + tag)
    shown = arrow + entry.text.replace("\n", "\n" + arrow)
    event = "command" if entry.side == "client" else "reply"
    fields = {"time": log.stamp(entry.time), "ts": entry.time, "event": event, "text": shown}
    fields.update(session=session, side=entry.side, rule=entry.rule, text=entry.text)
    encoded = json.JSONEncoder(ensure_ascii=False).encode({**fields, **undelivered})
    # ts: 7 decimals from 2001 to 2286 (17 significant digits: the same float), else repr()
    t = entry.time
    if 1e9 <= t < 1e10:
        encoded = encoded.replace(f'"ts": {t!r}, ', f'"ts": {t:.7f}, ', 1)
    return json_document(encoded) + "\n"


_TEXTS = st.sampled_from(
    [
        "NOOP",
        "250-a\n250 b",
        "caf\u00e9",
        "\udcff\udcfe",
        "\x1b[2J",
        "\x00",
        "tab\there",
        "\ud800",
        "",
        "\u2028",
        "\x85",
        "\\",
        '"q"',
        "\r",
    ]
).flatmap(lambda a: st.sampled_from(["", " ", "x"]).map(lambda b: a + b))
_ENTRIES = st.lists(
    st.tuples(
        st.sampled_from(["client", "server"]),
        _TEXTS,
        st.sampled_from([None, "", "greylisted", "r\x1b"]),
        st.sampled_from([None, 0, 4]),  # written: None delivered whole, else not delivered
        st.floats(0, 5, allow_nan=False),
    ),
    max_size=12,
)


@pytest.mark.parametrize("tag", [None, "srv-1"])
def test_a_sessions_json_event_lines_are_what_eventlog_line_makes(tag: str | None) -> None:
    """connect, violation, message and close, made from a template a batch at a time: the
    fields and order of EventLog.line's JSON (time, ts, event, text, server, session, ...)."""
    stream = io.StringIO()
    log = EventLog(stream, "json")
    journal = LoggingJournal(log, tag)
    info = SessionInfo(3, "127.0.0.1:5555", 1_764_000_000.25)
    journal.started(info)
    bad = Violation("bad-sequence", "RCPT before \x1b MAIL", "RCPT", 1_764_000_000.31)
    journal.violation(info, bad)
    message = Message("a@b", ("c@d", "e@f"), b"Subject: hi\r\n\r\nx", 3, 1_764_000_000.4, "SF1")
    journal.message(info, message)
    journal.ended(info, 1_764_000_000.6)
    log.flush()
    said = "accepted message SF1 from <a@b> to c@d, e@f (16 bytes)"
    events = [
        ("connect", info.started, "connect from 127.0.0.1:5555", {"peer": "127.0.0.1:5555"}),
        ("violation", bad.time, f"! {bad}", {"kind": bad.kind, "detail": bad.detail}),
        ("message", message.time, said, {"queue_id": "SF1", "mail_from": "a@b"}),
        ("close", 1_764_000_000.6, "closed", {}),
    ]
    events[1][3]["command"] = "RCPT"
    events[2][3].update(rcpt_tos=["c@d", "e@f"], size=16, subject="hi")
    reference = EventLog(io.StringIO(), "json")
    expected = ""
    for event, time, line, fields in events:
        head: dict[str, Any] = {"server": tag} if tag is not None else {}
        line = f"[{tag}] {line}" if tag is not None else line
        expected += reference.line(event, time, line, **head, session=3, **fields)
    assert stream.getvalue() == expected
    assert '"ts": 1764000000.2500000, ' in expected  # 7 decimals: the float exactly


@settings(max_examples=150, deadline=None)
@given(_ENTRIES, st.sampled_from(["text", "json"]), st.booleans())
def test_batched_lines_are_what_one_call_per_event_made(
    entries: list[tuple[str, str, str | None, int | None, float]], fmt: str, direct: bool
) -> None:
    """Whatever way an entry came in (appended by its session, or through a call), the lines
    are the ones the log made one event at a time: the text log's visible() and escaping, the
    JSON log's fields, order and \\xNN for what was not UTF-8."""
    stream = io.StringIO()
    log = EventLog(stream, fmt)  # type: ignore[arg-type]
    journal = LoggingJournal(log)
    info = SessionInfo(4, "127.0.0.1:1", 1_764_000_000.0)
    journal.started(info)
    room = journal.direct_transcript(info) if direct else None  # type: ignore[misc]
    made: list[TranscriptEntry] = []
    for side, text, rule, written, late in entries:
        entry = TranscriptEntry(
            info.started + late,
            side,
            text,
            rule,
            written is None,
            written,  # type: ignore[arg-type]
        )
        made.append(entry)
        if room is not None and written is None and len(room[0]) < room[1]:
            room[0].append((entry.time, side, text, rule))
        else:
            journal.transcript(info, entry)
    journal.ended(info, info.started + 6)
    log.flush()
    lines = stream.getvalue().splitlines(keepends=True)
    expected = "".join(reference_entry(log, 4, e, fmt) for e in made)
    assert "".join(lines[1:-1]) == expected
    stream.getvalue().encode("utf-8")  # the log is valid UTF-8


def test_the_sessions_of_a_batch_are_in_time_order_each_in_its_own_order() -> None:
    stream = io.StringIO()
    log = EventLog(stream, delay=60.0)
    journal = LoggingJournal(log)

    async def two_sessions() -> None:
        a, b = SessionInfo(1, "a", 10.0), SessionInfo(2, "b", 10.001)
        journal.started(a)
        journal.started(b)
        room_a, room_b = journal.direct_transcript(a), journal.direct_transcript(b)  # type: ignore[misc]
        for n in range(3):
            room_a[0].append((10.002 + n * 0.002, "client", f"a{n}", None))
            room_b[0].append((10.003 + n * 0.002, "client", f"b{n}", None))
        # a reply recorded after a later line of its session (held back): it stays in place
        room_a[0].append((10.0025, "server", "a-held", None))

    asyncio.run(two_sessions())
    assert stream.getvalue() == ""  # the loop's timer would have written them: not yet
    log.flush()
    said = [line.split(" ", 3)[3] for line in stream.getvalue().splitlines()]
    assert said == [
        "connect from a",
        "connect from b",
        "C: a0",
        "C: b0",
        "C: a1",
        "C: b1",
        "C: a2",
        "S: a-held",
        "C: b2",
    ]


def test_lines_a_session_appends_itself_are_written_by_the_timer_while_it_is_open() -> None:
    stream = io.StringIO()
    log = EventLog(stream, delay=0.01)
    journal = LoggingJournal(log)
    info = SessionInfo(1, "p", 0.0)

    async def appended() -> str:
        journal.started(info)
        room = journal.direct_transcript(info)  # type: ignore[misc]
        for _ in range(500):  # the timer's 0.01 s, with room for a loaded machine (5 s)
            await asyncio.sleep(0.01)
            if "connect" in stream.getvalue():
                break
        room[0].append((0.001, "client", "NOOP", None))  # no call: the session appends it
        for _ in range(500):
            await asyncio.sleep(0.01)
            if "NOOP" in stream.getvalue():
                break
        return stream.getvalue()

    assert asyncio.run(appended()).endswith("session 1 C: NOOP\n")


def test_entries_the_journal_drops_or_cuts_are_logged_whole_once() -> None:
    stream = io.StringIO()
    journal = LoggingJournal(EventLog(stream), max_entries=3, max_entry_chars=10)
    info = SessionInfo(1, "p", 0.0)
    journal.started(info)
    room = journal.direct_transcript(info)  # type: ignore[misc]
    assert room is not None and room[1] == 3
    for n in range(3):
        room[0].append((n, "client", f"N{n}", None))
    quick = journal.quick_transcript
    assert quick is not None
    for n in range(3, 8):  # past the journal's 3: the oldest go from its list
        quick(info, n, "client", f"N{n}" + "x" * 20 * (n == 5), None)
    journal.ended(info, 9.0)
    said = [line.split(" ", 3)[3] for line in stream.getvalue().splitlines()]
    assert said[1:-1] == [f"C: N{n}" + "x" * 20 * (n == 5) for n in range(8)]
    texts = [e.text for e in journal.sessions()[0].transcript]
    assert texts == ["N5xxxxxxxx... (12 more characters)", "N6", "N7"]


def test_a_session_the_journal_let_go_is_still_logged_to_its_end() -> None:
    stream = io.StringIO()
    journal = LoggingJournal(EventLog(stream), max_sessions=1)
    first, second = SessionInfo(1, "a", 0.0), SessionInfo(2, "b", 0.0)
    journal.started(first)
    room = journal.direct_transcript(first)  # type: ignore[misc]
    journal.started(second)  # the journal keeps one session: the first goes
    room[0].append((0.1, "client", "kept by nobody", None))
    journal.transcript(first, TranscriptEntry(0.2, "client", "QUIT", None))
    journal.ended(first, 0.3)
    journal.clear()  # the second, still open, is logged as it was
    journal.ended(second, 0.4)
    lines = [line.split(" ", 1)[1] for line in stream.getvalue().splitlines()]
    assert lines == [
        "session 1 connect from a",
        "session 2 connect from b",
        "session 1 C: kept by nobody",
        "session 1 C: QUIT",
        "session 1 closed",
        "session 2 closed",
    ]


def test_a_server_on_demand_s_lines_carry_its_id() -> None:
    for fmt in ("text", "json"):
        stream = io.StringIO()
        journal = LoggingJournal(EventLog(stream, fmt), "s1")  # type: ignore[arg-type]
        info = SessionInfo(1, "a", 0.0)
        journal.started(info)
        journal.transcript(info, TranscriptEntry(0.1, "server", "250-a\n250 b", None))
        journal.ended(info, 0.2)
        if fmt == "text":
            assert stream.getvalue().splitlines() == [
                "1970-01-01T00:00:00.000Z session 1 [s1] connect from a",
                "1970-01-01T00:00:00.100Z session 1 [s1] S: 250-a",
                "1970-01-01T00:00:00.100Z session 1 [s1] S: 250 b",
                "1970-01-01T00:00:00.200Z session 1 [s1] closed",
            ]
        else:
            lines = [json.loads(line) for line in stream.getvalue().splitlines()]
            assert [line["server"] for line in lines] == ["s1"] * 3
            assert [list(line)[:5] for line in lines] == [
                ["time", "ts", "event", "text", "server"]
            ] * 3
            assert lines[0]["text"] == "[s1] connect from a" and lines[1]["text"] == "250-a\n250 b"


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=5),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(),
            st.text(max_size=8),
            st.lists(st.text(max_size=4), max_size=3),
            st.lists(st.integers(), max_size=2),
            st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
        ),
        max_size=6,
    )
)
def test_json_objects_are_what_the_json_module_writes(fields: dict[str, Any]) -> None:
    from json.encoder import encode_basestring

    made = json_object(fields, encode_basestring)
    if made is not None:
        assert made == json.JSONEncoder(ensure_ascii=False).encode(fields)
    else:  # left to the json module: what it does not write itself
        assert any(
            type(v) not in (str, int, float, bool, type(None), list)
            or (type(v) is float and v - v != 0)
            or (type(v) is list and any(type(i) is not str for i in v))
            for v in fields.values()
        )


def test_entries_dropped_in_a_block_from_a_long_session_are_each_logged_once_in_order() -> None:
    stream = io.StringIO()
    journal = LoggingJournal(EventLog(stream), max_entries=16)
    info = SessionInfo(1, "p", 0.0)
    journal.started(info)
    ask = journal.direct_transcript
    assert ask is not None
    n = 0
    while n < 200:  # as the engine does: append up to the room given, then ask again
        room = ask(info)
        assert room is not None and room[1] > len(room[0])
        while len(room[0]) < room[1] and n < 200:
            room[0].append((float(n), "client", f"N{n}", None))
            n += 1
    journal.ended(info, 300.0)
    said = [line.split(" ", 3)[3] for line in stream.getvalue().splitlines()]
    assert said[1:-1] == [f"C: N{n}" for n in range(200)]
    (record,) = journal.sessions()
    kept = [e.text for e in record.transcript]
    assert 16 - 16 // 8 <= len(kept) <= 16 and kept == [
        f"N{n}" for n in range(200 - len(kept), 200)
    ]
