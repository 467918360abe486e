"""A pipelined flood read after the server's close (fresh16 F4): past the first lines recorded
one by one (as message text after a close: TEXT_SHOWN), the lines read in the grace period are
counted in one note, exactly (every octet read is in a line or the count), judged once, and
the grace timer keeps its time however much came. On the FakeClock, no sockets."""

from __future__ import annotations

import random

from smtpfake.engine.session import TEXT_SHOWN
from smtpfake.journal import SessionRecord

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

FLOOD = 400_000  # RSETs: 2.4 MB, fresh16's repro


def idle_closed() -> Pipe:
    """A session the idle timeout closed (421, half-close, the grace period running)."""
    p = Pipe(Engine(scenario(idle_timeout=5)))
    p.connect()
    p.feed("EHLO c.test")
    assert p.fire("idle").startswith(b"421 ")
    assert "grace" in p.timers
    return p


def after_close(record: SessionRecord) -> list[str]:
    closed = next(i for i, e in enumerate(record.transcript) if e.text == "(connection closed)")
    return [e.text for e in record.transcript[closed + 1 :]]


def counted(lines: int, octets: int) -> str:
    return f"(after the close: {lines:,} more lines, {octets:,} octets, not shown)"


def test_a_flood_after_the_close_is_counted_exactly_and_judged_once() -> None:
    p = idle_closed()
    due = p.due("grace")
    assert p.feed(b"RSET\r\n" * FLOOD) == b""  # one read: never answered
    assert p.due("grace") == due  # the grace period's end is kept
    assert p.fire("grace") == b""
    p.finish()
    assert p.ended == "close"
    rest = after_close(p.record)
    # the first is the command forgiven after the unsolicited 421 (RFC 5321 §3.8); the count is
    # stamped when the lines ended (their read), the session ends at the grace period's end
    assert rest == ["RSET"] * TEXT_SHOWN + [counted(FLOOD - TEXT_SHOWN, (FLOOD - TEXT_SHOWN) * 6)]
    kinds = [(v.kind, v.command) for v in p.record.violations]
    assert kinds == [("sent-after-close", "RSET")]


def test_the_count_is_exact_however_the_reads_split_the_flood() -> None:
    p = idle_closed()
    data = b"RSET\r\n" * 3000 + b"NOOP\r\n" * 2000 + b"QUIT\r\nNOO"
    rng = random.Random(4)
    at = 0
    while at < len(data):  # bounded: every step takes at least one octet
        step = rng.randrange(1, 9000)
        assert p.feed(data[at : at + step]) == b""
        at += step
    p.eof()  # the client's close: recorded after the count, the unfinished line before it
    p.finish()
    rest = after_close(p.record)
    shown = rest.index(rest[TEXT_SHOWN])
    assert rest[:shown] == ["RSET"] * TEXT_SHOWN
    lines = 3000 + 2000 + 1 - TEXT_SHOWN
    assert rest[shown:] == [
        counted(lines, lines * 6),
        "NOO",  # unfinished: never sent whole
        "(client closed the connection)",
    ]


def test_a_bdat_among_the_flood_stops_the_count_its_chunk_is_counted_by_size() -> None:
    p = idle_closed()
    p.feed(b"RSET\r\n" * 50 + b"BDAT 5 LAST\r\nabcde" + b"NOOP\r\n" * 30)
    p.eof()
    p.finish()
    rest = after_close(p.record)
    lines = 50 - TEXT_SHOWN
    assert rest[TEXT_SHOWN:] == [
        counted(lines, lines * 6),  # before the BDAT line, which stops the count
        "BDAT 5 LAST",
        "(chunk data after the close, 5 octets)",  # by its size, not as lines (RFC 3030 §2)
        counted(30, 30 * 6),
        "(client closed the connection)",
    ]


def stamps(record: SessionRecord) -> list[tuple[float, str]]:
    """The last entries from the server's close on, each with its time after the close's."""
    closed = next(e for e in record.transcript if e.text == "(connection closed)")
    return [
        (round(e.time - closed.time, 6), e.text)
        for e in record.transcript
        if e.time >= closed.time and e.text != "RSET"
    ]


def test_the_count_is_stamped_at_the_last_read_that_brought_lines_to_it() -> None:
    # fresh18 N2: the note had the count's end's time (here the client's close, 0.7 s on),
    # not the time the lines came, as every line has (README, After the server's last reply)
    p = idle_closed()
    p.engine.advance(0.1)
    p.feed(b"RSET\r\n" * (TEXT_SHOWN + 5))
    p.engine.advance(0.2)
    p.feed(b"RSET\r\n" * 7)  # the last read with lines to count
    p.engine.advance(0.4)
    p.eof()
    assert stamps(p.record)[-2:] == [
        (0.3, counted(12, 72)),
        (0.7, "(client closed the connection)"),
    ]


def test_lines_read_ahead_of_the_close_are_counted_at_the_close_in_time_order() -> None:
    # lines sent while QUIT's reply was delayed came before the 221 and the close, recorded
    # before the count ends: the note has the close's time, not theirs (time order)
    p = Pipe(Engine(scenario({"on": "quit", "delay": 0.3})))
    p.connect()
    p.feed("EHLO c.test")
    p.feed("QUIT", hold=True)
    p.engine.advance(0.1)
    p.feed(b"RSET\r\n" * (TEXT_SHOWN + 80))  # ahead of the 221: held until it goes
    p.release()
    p.engine.advance(0.4)
    p.eof()
    assert stamps(p.record) == [
        (0.0, "221 2.0.0 Bye"),
        (0.0, "(connection closed)"),
        (0.0, counted(80, 480)),
        (0.4, "(client closed the connection)"),
    ]
    times = [e.time for e in p.record.transcript]
    assert times == sorted(times)
