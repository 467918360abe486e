"""Framing is the engine's (h11's property): however the client's bytes are split in transit —
whole, byte by byte, or at random points — the server sends the same replies and the journal
holds the same record. Everything is fed while the greeting is still going out (a delay), so
in every split every line is equally ahead of the replies."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import example, given, settings
from hypothesis import strategies as st

from smtpfake.journal import SessionRecord

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

LINES = [
    b"EHLO c.test\r\n",
    b"HELO c.test\r\n",
    b"MAIL FROM:<a@x.test> SIZE=10\r\n",
    b"RCPT TO:<b@x.test>\r\n",
    b"DATA\r\n",
    b"Subject: split\r\n",
    b"\r\n",
    b"..a line that starts with a dot\r\n",
    b".\r\n",
    b"NOOP\r\n",
    b"RSET\r\n",
    b"a bare LF\n",
    b"a bare CR\rin the middle\r\n",
    b"8-bit \xc3\xa9\r\n",
    b"x" * 1500 + b"\r\n",  # over-long: a command line or text in pieces
    b"VRFY " + b"y" * 600 + b"\r\n",
    b"AUTH PLAIN\r\n",
    b"QUIT\r\n",
]
SCENARIO = scenario({"on": "connect", "delay": 1}, {"on": "rcpt", "nth": 2, "reply": 452})


def run(chunks: list[bytes], played: object = SCENARIO) -> tuple[bytes, tuple[SessionRecord, ...]]:
    engine = Engine(played)
    pipe = Pipe(engine)
    pipe.connect(hold=True)
    for chunk in chunks:
        pipe.feed(chunk)
    pipe.release()
    pipe.eof()
    pipe.finish()
    return bytes(pipe.wire), engine.journal.sessions()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in pairwise(points)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(LINES), max_size=25), st.lists(st.integers(0, 10**6), max_size=30))
def test_any_split_gives_the_same_replies_and_the_same_journal(
    lines: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(lines)
    whole = run([data])
    assert run([data[i : i + 1] for i in range(len(data))]) == whole
    assert run(split(data, cuts)) == whole


#: lines that the line-ending and envelope settings judge: a bare CR or LF in a command, an AUTH
#: response line and a BDAT command line; paths without angle brackets
STRICTNESS_LINES = [
    *LINES,
    b"NOOP\rx\r\n",
    b"dXNlcgB1c2VyAHB3\n",  # an AUTH response (PLAIN) with a bare LF
    b"*\r\r\n",
    b"BDAT 4 LAST\r\nab\r\n",
    b"BDAT 3\nx\ry",
    b"BDAT 2\r \r\nzz",
    b"MAIL FROM:a@x.test\r\n",
    b"RCPT TO: <c@x.test>\r\n",
    # the shapes a bare CR that ends a line (bare_cr: clean) frames: lines, the final "."
    b"x\r.\rNOOP\r",
    b"\n.\r",
    b"\r.\r\n",
    b"RSET\rNOOP\r\r\n",
    b"\r",
    # a bare CR, then a "." line ended by a bare LF (smtplib sends it as is); a stuffed one
    b"a\r.\nb\r\n",
    b"\r..\n",
    # a line of text whose 1001st octet is a bare CR (one line, or a piece then more, by clean)
    b"y" * 1000 + b"\r.\r",
    # several lines a bare CR ends (a block, by clean): stuffed, 8-bit, one ended by a bare LF
    b"a\r..b\rc\r\xc3\r.d\ne\r",
]

#: a transaction up to its DATA (for the examples)
IN_DATA = [b"EHLO c.test\r\n", b"MAIL FROM:<a@x.test>\r\n", b"RCPT TO:<b@x.test>\r\n", b"DATA\r\n"]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["accept", "normalize", "reject", "disconnect"]),
    st.sampled_from(["accept", "clean", "reject", "disconnect"]),
    st.booleans(),
    st.lists(st.sampled_from(STRICTNESS_LINES), max_size=25),
    st.lists(st.integers(0, 10**6), max_size=30),
)
@example("reject", "clean", False, [*IN_DATA, b"y" * 1000 + b"\r.\r", b"QUIT\r\n"], [])
@example("normalize", "clean", False, [*IN_DATA, b"a\r.\nb\r\n", b".\r\n"], [])
def test_any_split_gives_the_same_journal_under_each_strictness(
    bare_lf: str, bare_cr: str, strict: bool, lines: list[bytes], cuts: list[int]
) -> None:
    """The property holds whatever ``server.bare_lf``, ``bare_cr`` and ``strict_envelope`` say."""
    played = scenario(
        {"on": "connect", "delay": 1},
        bare_lf=bare_lf,
        bare_cr=bare_cr,
        strict_envelope=strict,
        extensions_add=["CHUNKING"],
        auth={"users": {"user": "pw"}},
    )
    data = b"".join(lines)
    whole = run([data], played)
    assert run([data[i : i + 1] for i in range(len(data))], played) == whole
    assert run(split(data, cuts), played) == whole


def run_timed(
    chunks: list[bytes], gaps: list[int]
) -> tuple[bytes, SessionRecord, list[float], float]:
    """As run(), the clock moving on ``gaps[i]`` ms after chunk i; with the time of each read
    and of the client's close."""
    engine = Engine(SCENARIO)
    pipe = Pipe(engine)
    pipe.connect(hold=True)
    reads = []
    for i, chunk in enumerate(chunks):
        reads.append(engine.clock.now())
        pipe.feed(chunk)
        engine.advance(gaps[i % len(gaps)] / 1000 if gaps else 0)
    pipe.release()
    closed = engine.clock.now()
    pipe.eof()
    pipe.finish()
    (record,) = engine.journal.sessions()
    return bytes(pipe.wire), record, reads, closed


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(LINES), max_size=25),
    st.lists(st.integers(0, 10**6), max_size=30),
    st.lists(st.integers(0, 300), max_size=10),
)
# a group ending with DATA (nothing after the 354: no text entry), and one ending mid-message
@example(LINES[0:1] + LINES[2:5], [], [])
@example(LINES[0:1] + LINES[2:6], [30], [0, 120])
def test_with_time_passing_between_reads_the_record_is_in_time_order(
    lines: list[bytes], cuts: list[int], gaps: list[int]
) -> None:
    """Each client line is stamped when the read that ended it came (not when the engine got to
    it behind the delayed greeting), a message the close cut short at the close (README, "The
    record"), and the transcript stays in time order."""
    data = b"".join(lines)
    wire, whole = run([data])
    timed_wire, record, reads, closed = run_timed(split(data, cuts), gaps)
    assert timed_wire == wire
    assert record.commands == whole[0].commands
    times = [e.time for e in record.transcript]
    assert times == sorted(times)
    for entry in record.transcript:
        if entry.side == "client" and not entry.event:
            unfinished = entry.text.endswith(" bytes, unfinished)")
            # lines counted after the server's close: one note, stamped when the count ends (at
            # the next entry or the client's close: README, "After the server's last reply")
            counted = entry.text.startswith("(after the close: ")
            if unfinished or counted:
                assert entry.time == closed or (counted and entry.time in reads), entry
            else:
                assert entry.time in reads, entry


def run_in_turn(lines: list[bytes], pieces: list[list[bytes]]) -> tuple[bytes, SessionRecord]:
    """A client that waits for each reply: line i goes in the reads ``pieces[i]`` (joined, the
    line), the clock moving on 10 ms after each line."""
    engine = Engine(scenario({"on": "rcpt", "nth": 2, "reply": 452}))
    pipe = Pipe(engine)
    pipe.connect()
    for line, reads in zip(lines, pieces, strict=True):
        assert b"".join(reads) == line
        for read in reads:
            pipe.feed(read)
        engine.advance(0.01)
    pipe.eof()
    pipe.finish()
    (record,) = engine.journal.sessions()
    return bytes(pipe.wire), record


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(LINES), max_size=25), st.lists(st.integers(0, 10**6), max_size=30))
# past the TEXT_SHOWN lines recorded after the close, a line in one read was recorded, not counted
@example([b"QUIT\r\n", *[b"EHLO c.test\r\n"] * 21], [])
def test_a_line_in_one_read_is_taken_as_the_same_line_in_pieces(
    lines: list[bytes], cuts: list[int]
) -> None:
    """A client that waits for each reply sends each line in one read (most clients): the
    engine takes such a read without buffering it (Connection.receive_data). Same replies, same
    record as when each line comes in pieces (the buffered path) or byte by byte."""
    whole = run_in_turn(lines, [[line] for line in lines])
    in_pieces = [split(line, cuts[i : i + 2]) for i, line in enumerate(lines)]
    assert run_in_turn(lines, in_pieces) == whole
    by_byte = [[line[i : i + 1] for i in range(len(line))] for line in lines]
    assert run_in_turn(lines, by_byte) == whole


TEXT = [
    b"Subject: one read\r\n",
    b"\r\n",
    b"..a line that starts with a dot\r\n",
    b"a bare LF\n",
    b"a bare CR\rin the middle\r\n",
    b"8-bit \xc3\xa9\r\n",
    b"w" * 999 + b"\r\n",  # 1001 octets with its CRLF: one too many, still in a block
    b"z" * 1200 + b"\r\n",  # over-long: in pieces
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(TEXT), max_size=12), st.lists(st.integers(0, 10**6), max_size=30))
# a whole block told its violations in one fixed order, lines in the order they come
@example([b"a bare CR\rin the middle\r\n", b"a bare LF\n"], [])
@example([b"8-bit \xc3\xa9\r\n", b"a bare LF\n"], [])
@example([b"8-bit \xc3\xa9\r\n", b"w" * 999 + b"\r\n", b"a bare CR\rin the middle\r\n"], [])
def test_a_message_in_one_read_is_taken_as_the_same_message_in_pieces(
    text: list[bytes], cuts: list[int]
) -> None:
    """A message's text and its final "." in one read (most clients send it so): taken without
    buffering it (Connection.receive_data) when it is whole lines ending in the first final
    ".". Same replies, same record as in pieces or byte by byte."""
    message = b"".join(text) + b".\r\n"
    head = [b"EHLO c.test\r\n", b"MAIL FROM:<a@x.test>\r\n", b"RCPT TO:<b@x.test>\r\n", b"DATA\r\n"]
    lines = [*head, message, b"NOOP\r\n", b"QUIT\r\n"]
    whole = run_in_turn(lines, [[line] for line in lines])
    in_pieces = [[line] for line in head] + [split(message, cuts)] + [[b"NOOP\r\n"], [b"QUIT\r\n"]]
    assert run_in_turn(lines, in_pieces) == whole
    by_byte = [[line] for line in head] + [[message[i : i + 1] for i in range(len(message))]]
    assert run_in_turn(lines, [*by_byte, [b"NOOP\r\n"], [b"QUIT\r\n"]]) == whole


def run_to_the_end(chunks: list[bytes], gaps: list[int]) -> tuple[bytes, SessionRecord]:
    """As run_timed(), then the end comes from the server if it closed (its grace period runs
    out, the client still holding whatever it sent last open), else from the client's EOF."""
    engine = Engine(SCENARIO)
    pipe = Pipe(engine)
    pipe.connect(hold=True)
    for i, chunk in enumerate(chunks):
        pipe.feed(chunk)
        engine.advance(gaps[i % len(gaps)] / 1000 if gaps else 0)
    pipe.release()
    engine.advance(0.5)
    if "grace" in pipe.timers:
        pipe.fire("grace")
    else:
        pipe.eof()
    pipe.finish()
    (record,) = engine.journal.sessions()
    return bytes(pipe.wire), record


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(LINES), max_size=25),
    st.sampled_from([b"NOO", b"QUI", b"x" * 1200, b"AUTH PL"]),
    st.lists(st.integers(0, 10**6), max_size=30),
    st.lists(st.integers(0, 300), max_size=10),
)
@example([b"EHLO c.test\r\n", b"QUIT\r\n"], b"NOO", [], [])  # cut by the grace period's end
@example([], b"x" * 1200, [], [])  # a line too long to hold, during the greeting: before it
def test_a_last_line_cut_short_is_stamped_at_its_last_octet_whatever_the_split(
    lines: list[bytes], tail: bytes, cuts: list[int], gaps: list[int]
) -> None:
    """A last line without its line ending, whoever ends the connection: the same replies and
    entries whole or split, the transcript in time order, the line unfinished and stamped when
    its last octet's read came (not at the close)."""
    data = b"".join(lines) + tail
    wire, whole = run_to_the_end([data], [])
    chunks = split(data, cuts)
    timed_wire, record = run_to_the_end(chunks, gaps)
    assert timed_wire == wire
    assert [(e.text, e.delivered) for e in record.transcript] == [
        (e.text, e.delivered) for e in whole.transcript
    ]
    times = [e.time for e in record.transcript]
    assert times == sorted(times)
    unfinished = [e for e in record.transcript if e.side == "client" and not e.delivered]
    if unfinished:
        (line,) = unfinished
        last_read = sum(gaps[i % len(gaps)] for i in range(len(chunks) - 1)) / 1000 if gaps else 0
        assert round(line.time - record.transcript[0].time, 6) <= round(last_read + 1, 6)
