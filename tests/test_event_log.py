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
import random
import subprocess
import sys
import threading
from typing import Any

import pytest

from smtpfake.engine import session as session_module
from smtpfake.engine.records import Message, SessionInfo, TranscriptEntry
from smtpfake.logging_observer import FLUSH_SIZE, EventLog, LoggingJournal
from smtpfake.visible import json_text

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
    # in a row, as events come: most stamps from the last one's millisecond, edges crossed
    times += [1_764_439_554 + i * 7e-6 for i in range(5000)]
    # around each edge of a millisecond, where rounding to the microsecond decides
    edges = (-1e-6, -5e-7, -4e-7, 0.0, 4e-7, 5e-7, 1e-6)
    times += [1_800_000_000 + k / 1000 + d for k in range(200) for d in edges]
    for t in times:
        when = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)
        expected = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert log.stamp(t) == expected, t


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


def test_the_logging_journal_keeps_the_quick_path_and_logs_every_entry() -> None:
    stream = io.StringIO()
    engine = Engine()
    engine.journal = journal = LoggingJournal(EventLog(stream))
    assert journal.quick_transcript is not None  # entries kept as tuples, as the plain journal
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
    """A message's ``(message data, N bytes)`` and the server's close are notes delivered whole:
    kept as tuples like a line (no TranscriptEntry made; only the client's close, an event, is),
    logged ``C*``/``S*`` with ``"note": true`` in JSON."""
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
    assert made == ["(client closed the connection)"]
    (record,) = journal.sessions()
    noted = [e.text for e in record.transcript if e.note]
    assert noted == ["(message data, 52 bytes)", "(connection closed)", *made]
    if fmt == "text":
        said = [line.split(" ", 3)[3] for line in stream.getvalue().splitlines()]
        assert [line[3:] for line in said if line.startswith(("C* ", "S* "))] == noted
        assert [line[:3] for line in said if line.endswith(tuple(noted))] == ["C* ", "S* ", "C* "]
    else:
        logged = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert [e["text"] for e in logged if e.get("note")] == noted
        assert all("note" not in e for e in logged if e.get("text") in ("QUIT", "."))


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
