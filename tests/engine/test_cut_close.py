"""A fault that closes in the middle of a message (``cut_body`` how close or reset): the client
streams its text and reads nothing before its "." (RFC 5321 §4.1.1.4), so the rest of the text up
to and including that "." is message text after the close: every octet of it in the record under
``(message text after the close)``, none of it judged, whatever way TCP split it; what follows the
"." is judged as after any close. The rest of a BDAT chunk a close cut is counted, never read as
command lines. On the FakeClock, no sockets (fresh8 F3, F4)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpfake.journal import SessionRecord

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

#: the fresh8 repro's message: 14 times a header, a blank line and a 76-octet line (1,288 octets)
TEXT = (b"Subject: x\r\n\r\n" + b"y" * 76 + b"\r\n") * 14
CUT = 1024
HEAD = ("EHLO c.test", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>")


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in pairwise(points)]


def cut(how: str, chunks: list[bytes], *, gap: float = 0.0, held: bool = False) -> SessionRecord:
    """DATA, then ``chunks`` of the client's stream, ``gap`` seconds apart; ``held``: all of
    them come while the 354 is still going out (a delay), so none is read before the last."""
    rule: dict[str, object] = {"on": "data", "cut_body": {"after_bytes": CUT, "how": how}}
    if held:
        rule["delay"] = 1
    p = Pipe(Engine(scenario(rule)))
    p.connect()
    for line in HEAD:
        p.feed(line)
    p.feed("DATA", hold=held)
    for chunk in chunks:
        if p.ended is None or p.half_closed:  # (after a reset nothing more is read)
            p.feed(chunk)
        p.engine.advance(gap)
    if held:
        p.release()
    if p.ended is None:
        p.eof()
    p.finish()
    return p.record


def client_side(record: SessionRecord) -> list[tuple[str, bool, bool]]:
    """What the record says the client sent after its DATA (not where the server's close is)."""
    after = record.commands.index("DATA") + 1
    entries = [e for e in record.transcript if e.side == "client" and not e.event]
    return [(e.text, e.note, e.delivered) for e in entries[after:]]


def accounted(record: SessionRecord) -> int:
    """The octets the entries after DATA account for: the count of the text before the cut,
    each line after it with its CRLF (the text here has no dot to unstuff)."""
    total = 0
    for text, note, _ in client_side(record):
        if note and text.startswith("(message data, "):
            total += int(text.split()[2])
        elif not note:
            total += len(text) + 2
    return total


def test_one_write_accounts_for_every_octet_under_the_note() -> None:
    """F3: 1,288 octets, ".", in one write: the 264 octets between the cut and the "." were in
    no entry and no count; the "." looked like the line right after the first 1024 octets."""
    record = cut("close", [TEXT + b".\r\n"])
    seen = client_side(record)
    assert seen[:4] == [
        ("(message data, 1024 bytes so far)", True, True),
        ("(message text after the close)", True, True),
        ("", False, True),  # the rest of the 12th header's lines, as they came
        ("y" * 76, False, True),
    ]
    assert seen[-1] == (".", False, True)
    assert accounted(record) == len(TEXT) + 3
    assert record.violations == ()
    assert record.messages == ()


@pytest.mark.parametrize("how", ["close", "reset"])
def test_any_split_of_a_stream_read_before_the_cut_gives_the_same_record(how: str) -> None:
    """All of it in before the engine gets to it (the 354 delayed): whole, byte by byte or at
    random points, the same record to the last entry and time."""
    data = TEXT + b".\r\nQUIT\r\n"
    whole = cut(how, [data], held=True)
    assert accounted(whole) == len(data)
    assert client_side(whole)[1] == ("(message text after the close)", True, True)
    assert cut(how, [data[i : i + 1] for i in range(len(data))], held=True) == whole
    for seed in range(5):
        cuts = [(seed + 1) * 997 * k for k in range(1, 6)]
        assert cut(how, split(data, cuts), held=True) == whole


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10**6), max_size=8), st.sampled_from([0.0, 0.1]))
def test_a_streamed_message_is_judged_and_accounted_the_same_however_tcp_split_it(
    cuts: list[int], gap: float
) -> None:
    """F4: the server reads as the octets come and its FIN goes out at the cut, so the rest may
    come before or after it: the same client entries, every octet accounted, no violation
    (nodemailer got ``sent-after-close`` through a container's port forwarding only)."""
    data = TEXT + b".\r\n"
    whole = cut("close", [data])
    record = cut("close", split(data, cuts), gap=gap)
    assert client_side(record) == client_side(whole)
    assert accounted(record) == len(data)
    assert record.violations == ()


@pytest.mark.parametrize(
    "chunks",
    [
        [TEXT + b".\r\n"],
        [TEXT, b".\r\n"],  # the last line 0.1 s later (F4)
        [TEXT + b"tail\r\n", b".\r\n"],
        [TEXT[:1000], TEXT[1000:] + b".\r\n"],  # the F3 addendum's K = 1000 and 1030
        [TEXT[:1030], TEXT[1030:] + b".\r\n"],
    ],
    ids=["one write", "dot later", "two lines later", "k1000", "k1030"],
)
def test_the_fresh8_splits_show_no_text_as_command_lines(chunks: list[bytes]) -> None:
    record = cut("close", chunks, gap=0.1)
    seen = client_side(record)
    assert seen[1] == ("(message text after the close)", True, True)
    assert record.violations == ()
    times = [e.time for e in record.transcript]
    assert times == sorted(times)


def test_what_follows_the_dot_is_judged_as_after_any_close() -> None:
    """QUIT in the write with the message: pipelined before the FIN, as after any end of
    message (no violation); QUIT after the FIN went out: ``sent-after-close``."""
    assert cut("close", [TEXT + b".\r\nQUIT\r\n"]).violations == ()
    for chunks in ([TEXT + b".\r\n", b"QUIT\r\n"], [TEXT, b".\r\nQUIT\r\n"]):
        later = cut("close", chunks, gap=0.1)
        # (the "." after the FIN too: the end of the text, not a command sent after the close)
        assert [(v.kind, v.command) for v in later.violations] == [("sent-after-close", "QUIT")]
        assert client_side(later)[-2:] == [(".", False, True), ("QUIT", False, True)]


def chunk_cut(how: str, chunks: list[bytes]) -> SessionRecord:
    rule = {"on": "bdat", "cut_body": {"after_bytes": 5, "how": how}}
    p = Pipe(Engine(scenario(rule, extensions_add=["CHUNKING"])))
    p.connect()
    for line in HEAD:
        p.feed(line)
    for chunk in chunks:
        if p.ended is None or p.half_closed:
            p.feed(chunk)
        p.engine.advance(0.1)
    if p.ended is None:
        p.eof()
    p.finish()
    return p.record


@pytest.mark.parametrize("at", range(1, 30))
def test_the_rest_of_a_chunk_a_close_cut_is_counted_not_read_as_commands(at: int) -> None:
    data = b"BDAT 12 LAST\r\n0123456789abQUIT\r\n"
    record = chunk_cut("close", [data[:at], data[at:]])
    client = [(e.text, e.note) for e in record.transcript if e.side == "client" and not e.event]
    assert client[-4:] == [
        ("BDAT 12 LAST", False),
        ("(chunk data, 5 of 12 octets so far)", True),
        ("(chunk data after the close, 7 octets)", True),
        ("QUIT", False),
    ]
    # QUIT begun in the read with the chunk's 5th octet: ahead of the FIN; all in a later read
    # (the first ends within "0123456789ab"): after it
    expected = ["sent-after-close"] if 14 + 5 <= at <= 26 else []
    assert [v.kind for v in record.violations] == expected


def test_a_chunk_s_rest_cut_short_by_the_client_s_close_is_counted_unfinished() -> None:
    record = chunk_cut("close", [b"BDAT 12 LAST\r\n0123456", b"78"])
    assert "(chunk data after the close, 4 of 7 octets, unfinished)" in record.commands
    assert record.violations == ()


#: text after the cut that would be judged in a message: over-long, a bare LF, 8-bit, stuffed
ODD = b"z" * 1500 + b"\r\n" + b"bare LF\n" + b"\xc3\xa9\r\n" + b"..stuffed\r\n" + b".\r\n"


@pytest.mark.parametrize("later", [False, True])
def test_no_line_of_the_text_after_the_close_is_judged(later: bool) -> None:
    chunks = [TEXT, ODD] if later else [TEXT + ODD]
    record = cut("close", chunks, gap=0.1)
    assert record.violations == ()
    assert client_side(record)[-2:] == [("..stuffed", False, True), (".", False, True)]


def test_an_over_long_line_of_text_after_a_421_is_not_judged_either() -> None:
    p = Pipe(Engine(scenario(idle_timeout=5)))
    p.connect()
    for line in (*HEAD, "DATA"):
        p.feed(line)
    p.feed(b"Subject: x\r\n")
    assert p.fire("idle").startswith(b"421 ")
    p.feed(ODD)
    p.eof()
    p.finish()
    assert p.record.violations == ()


def cut_at(after: int, chunks: list[bytes], how: str = "reset") -> SessionRecord:
    """DATA with ``cut_body: {after_bytes: after}``, then the client's text in ``chunks``."""
    p = Pipe(Engine(scenario({"on": "data", "cut_body": {"after_bytes": after, "how": how}})))
    p.connect()
    for line in HEAD:
        p.feed(line)
    p.feed("DATA")
    for chunk in chunks:
        if p.ended is None or p.half_closed:
            p.feed(chunk)
        p.engine.advance(0.05)
    if p.ended is None:
        p.eof()
    p.finish()
    return p.record


@pytest.mark.parametrize("how", ["close", "reset"])
@pytest.mark.parametrize("step", [1, 50, 7, 10**6])
def test_the_cut_comes_at_octet_n_not_at_the_end_of_its_line(how: str, step: int) -> None:
    """fresh10 F7: one long line dripped (or whole), the cut at 100 octets: the count is 100, and
    the cut came when octet 100 arrived, not 900 octets later at the line's end. A stuffing dot
    is no octet of the message (RFC 5321 §4.5.2)."""
    text = b"..x" + b"y" * 997 + b"\r\n.\r\n"
    record = cut_at(100, [text[i : i + step] for i in range(0, len(text), step)], how)
    seen = client_side(record)
    assert seen[0] == ("(message data, 100 bytes so far)", True, True)
    (closed,) = [e for e in record.transcript if e.side == "server" and e.note]
    data = next(e for e in record.transcript if e.text == "DATA")
    # the cut when the read holding octet 100 came (the stream's 101st: after the stuffing dot)
    assert closed.time == pytest.approx(data.time + (min(101, len(text) - 1) // step) * 0.05)
    assert record.messages == ()
    assert record.violations == ()


@pytest.mark.parametrize("how", ["close", "reset"])
@pytest.mark.parametrize("end", [b"", b".\r\n"], ids=["no dot", "dot"])
def test_text_sent_in_abort_s_silence_is_message_data_not_after_the_close(
    how: str, end: bytes
) -> None:
    """fresh10 F8: ``abort: {seconds: 1}`` on DATA; the client's text comes 0.1 s after the 354,
    0.9 s before the close: it is the message's (unfinished), not "after the close"; a final
    "." the server never read ends it there, and only from the "." on is text after the close."""
    rule = {"on": "data", "abort": {"seconds": 1.0, "how": how}}
    p = Pipe(Engine(scenario(rule)))
    p.connect()
    for line in HEAD:
        p.feed(line)
    assert p.feed("DATA", hold=True).startswith(b"354")
    p.engine.advance(0.1)
    p.feed(b"Subject: x\r\n\r\nhello\r\n" + end)
    sent = p.engine.clock.now()
    p.release()
    assert p.ended == how or p.half_closed
    closed = p.engine.clock.now()
    if p.ended is None:
        p.eof()
    p.finish()
    record = p.record
    seen = client_side(record)
    assert seen[0] == ("(message data, 21 bytes, unfinished)", True, True)
    (note,) = [e for e in record.transcript if e.text.startswith("(message data")]
    if end:
        assert seen[1:] == [("(message text after the close)", True, True), (".", False, True)]
        assert note.time == sent  # cut at its "."
    else:
        assert seen[1:] == []
        assert note.time == closed > sent  # cut by the close
    assert record.messages == ()
    assert record.violations == ()


def test_a_client_that_leaves_in_abort_s_silence_left_an_unfinished_message() -> None:
    """fresh10 F8: the client's EOF comes in the silence: its text is the unfinished message,
    recorded before its close (as for any close mid-message), nothing after the close."""
    p = Pipe(Engine(scenario({"on": "data", "abort": {"seconds": 1.0}})))
    p.connect()
    for line in HEAD:
        p.feed(line)
    p.feed("DATA", hold=True)
    p.feed(b"Subject: x\r\n\r\nhel")
    p.engine.advance(0.2)
    p.eof()
    p.finish()
    texts = [e.text for e in p.record.transcript if e.side == "client"]
    assert texts[texts.index("DATA") + 1 :] == [
        "(message data, 17 bytes, unfinished)",
        "(client closed the connection)",
    ]
