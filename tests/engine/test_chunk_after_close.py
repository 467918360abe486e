"""A BDAT line the server reads after its close (a 421 to RCPT, the close of a ``cut_body`` on the
chunk before): the client streams the chunk right behind the line, before it reads any reply
(RFC 3030 §2), so the line's size says how many octets follow; they are counted as one note,
``(chunk data after the close, N octets)``, never read as command lines (a chunk may hold
CRLF "." CRLF and ``QUIT``), and the command after them is judged as usual. On the FakeClock,
whatever way TCP split the stream (fresh10 F2)."""

from __future__ import annotations

import pytest

from smtpfake.journal import SessionRecord

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

CHUNKING = {"extensions_add": ["CHUNKING"]}
#: a chunk whose octets read like lines: a lone "." and a QUIT among them
CHUNK = b"AB\r\n.\r\nQUIT\r\nC"
#: MAIL, RCPT (answered 421), then a BDAT of CHUNK and the client's QUIT, all pipelined
STREAM = (
    b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n"
    + f"BDAT {len(CHUNK)} LAST\r\n".encode()
    + CHUNK
    + b"QUIT\r\n"
)
RCPT_END = STREAM.index(b"BDAT")
QUIT_START = STREAM.rindex(b"QUIT")


def run(rule: dict[str, object], head: list[str], pieces: list[bytes]) -> SessionRecord:
    """``head`` lines each in turn, then ``pieces`` of the client's stream, then its EOF."""
    p = Pipe(Engine(scenario(rule, **CHUNKING)))
    p.connect()
    for line in head:
        p.feed(line)
    for piece in pieces:
        if piece and (p.ended is None or p.half_closed):
            p.feed(piece)
        p.engine.advance(0.1)
    if p.ended is None or p.half_closed:
        p.eof()
    if p.ended is None:
        p.engine.advance(1.0)
    p.finish()
    return p.record


def client_lines(record: SessionRecord, after: str) -> list[tuple[str, bool]]:
    entries = [(e.text, e.note) for e in record.transcript if e.side == "client" and not e.event]
    return entries[entries.index((after, False)) + 1 :]


@pytest.mark.parametrize("at", range(len(STREAM) + 1))
def test_a_chunk_behind_a_bdat_read_after_a_421_is_counted_not_read_as_lines(at: int) -> None:
    rule = {"on": "rcpt", "reply": "421 4.7.0 go away"}
    record = run(rule, ["EHLO c.test"], [STREAM[:at], STREAM[at:]])
    assert client_lines(record, "RCPT TO:<b@x.test>") == [
        (f"BDAT {len(CHUNK)} LAST", False),
        (f"(chunk data after the close, {len(CHUNK)} octets)", True),
        ("QUIT", False),
    ]
    # a command that began in a read after the 421 went out is after the close (README, The
    # record); the chunk's octets are never judged (no line-too-long, no bad-pipelining)
    expected = ["sent-after-close"] if RCPT_END <= at <= QUIT_START else []
    assert [v.kind for v in record.violations] == expected


def test_a_long_chunk_after_a_421_holding_an_over_long_run_is_one_note() -> None:
    # fresh10's repro: 3,000 octets, a 1,000-octet run without a line end and CRLF "." CRLF QUIT
    # a hundred times; the client's own QUIT right behind it, all in one write
    chunk = b"A" * 1000 + b"\r\n.\r\nQUIT\r\n" * 100 + b"A" * 900
    group = b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nBDAT 3000 LAST\r\n" + chunk
    rule = {"on": "rcpt", "reply": "421 4.7.0 go away"}
    record = run(rule, ["EHLO c.test"], [group + b"QUIT\r\n"])
    assert client_lines(record, "RCPT TO:<b@x.test>") == [
        ("BDAT 3000 LAST", False),
        ("(chunk data after the close, 3000 octets)", True),
        ("QUIT", False),
    ]
    assert record.violations == ()


@pytest.mark.parametrize("at", range(1, 46))
def test_the_next_chunk_after_a_cut_body_close_is_counted_too(at: int) -> None:
    # cut_body closes 5 octets into the first of two chunks: the first's rest and the whole
    # second chunk (its BDAT line read after the close) are counted, QUIT judged as usual
    stream = b"BDAT 12\r\n0123456789abBDAT 6 LAST\r\ntail\r\nQUIT\r\n"
    assert len(stream) == 46
    rule = {"on": "bdat", "nth": 1, "cut_body": {"after_bytes": 5, "how": "close"}}
    head = ["EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>"]
    record = run(rule, head, [stream[:at], stream[at:]])
    assert client_lines(record, "RCPT TO:<b@x.test>") == [
        ("BDAT 12", False),
        ("(chunk data, 5 of 12 octets so far)", True),
        ("(chunk data after the close, 7 octets)", True),
        ("BDAT 6 LAST", False),
        ("(chunk data after the close, 6 octets)", True),
        ("QUIT", False),
    ]
    # the cut came in the first read (its 5th chunk octet, at 14) and a command began in the
    # second (the second BDAT at 21, QUIT at 40): that one is after the close
    expected = ["sent-after-close"] if 14 <= at <= 40 else []
    assert [v.kind for v in record.violations] == expected


def test_a_chunk_after_the_close_cut_short_by_the_client_s_close_is_unfinished() -> None:
    rule = {"on": "rcpt", "reply": "421 4.7.0 go away"}
    group = b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nBDAT 10 LAST\r\n0123\r\n"
    record = run(rule, ["EHLO c.test"], [group])
    assert client_lines(record, "RCPT TO:<b@x.test>") == [
        ("BDAT 10 LAST", False),
        ("(chunk data after the close, 6 of 10 octets, unfinished)", True),
    ]
    assert record.violations == ()


@pytest.mark.parametrize("arg", ["0 LAST", "x LAST", ""])
def test_a_bdat_after_the_close_with_no_chunk_frames_nothing(arg: str) -> None:
    # a size of 0, or no number: nothing to count; what follows is read as lines again
    rule = {"on": "rcpt", "reply": "421 4.7.0 go away"}
    group = f"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nBDAT {arg}\r\nQUIT\r\n".encode()
    record = run(rule, ["EHLO c.test"], [group])
    assert client_lines(record, "RCPT TO:<b@x.test>") == [
        (f"BDAT {arg}", False),
        ("QUIT", False),
    ]
