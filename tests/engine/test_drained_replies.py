"""Lines the server reads after the client gave up on a reply (its close or reset while a delayed
reply waited): they are recorded, judged and acted on, and each reply the server decided for them
is recorded as not delivered, 0 octets written (fresh14 F4): whatever the server acted on (a
message accepted, a transaction begun or reset) has its reply in the record. On the FakeClock."""

from __future__ import annotations

import pytest

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

CHUNKING = {"extensions_add": ["CHUNKING"]}


def pipe(*rules: dict[str, object]) -> Pipe:
    return Pipe(Engine(scenario(*rules, **CHUNKING)))  # type: ignore[arg-type]


def entries(p: Pipe) -> list[tuple[str, bool, int | None]]:
    """From the first MAIL on: (text, delivered, written)."""
    transcript = p.record.transcript
    start = next(i for i, e in enumerate(transcript) if e.text.startswith("MAIL"))
    return [(e.text, e.delivered, e.written) for e in transcript[start:]]


def gone(p: Pipe, how: str) -> None:
    if how == "reset":
        p.lost(reset=True)
    else:
        assert p.eof() == b""
        p.finish()


@pytest.mark.parametrize("how", ["eof", "reset"])
def test_a_last_chunk_behind_a_delayed_rcpt_is_accepted_and_its_reply_not_delivered(
    how: str,
) -> None:
    p = pipe({"on": "rcpt", "delay": 1})
    p.connect()
    p.feed("EHLO c.test")
    wire = b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nBDAT 5 LAST\r\nhello"
    assert p.feed(wire, hold=True) == b"250 2.1.0 Ok\r\n"  # RCPT's 250 waits its second
    p.engine.advance(0.3)
    gone(p, how)
    (message,) = p.engine.journal.messages()  # read and acted on, as an MTA would
    queued = f"250 2.0.0 Ok: queued as {message.queue_id}"
    close = "(client closed the connection)" if how == "eof" else "(client reset the connection)"
    assert entries(p) == [  # (the lines came in one read, before MAIL's reply went)
        ("MAIL FROM:<a@x.test>", True, None),
        ("RCPT TO:<b@x.test>", True, None),
        ("BDAT 5 LAST", True, None),
        ("(chunk data, 5 octets)", True, None),
        ("250 2.1.0 Ok", True, None),
        ("250 2.1.5 Ok", False, 0),
        (queued, False, 0),
        (close, True, None),
    ]
    times = [e.time for e in p.record.transcript]
    assert times == sorted(times)
    (session,) = p.engine.journal.sessions()
    end = session.end_of_data(message)
    assert end is not None and end.command.text == "BDAT 5 LAST"
    assert end.reply is not None and end.reply.text == queued and not end.reply.delivered


@pytest.mark.parametrize("how", ["eof", "reset"])
def test_a_message_and_a_rset_behind_a_delayed_reply_have_their_replies(how: str) -> None:
    """DATA's "." drained the same way, and a RSET and a MAIL after it: each acted on, each
    reply recorded not delivered."""
    p = pipe({"on": "rcpt", "delay": 1})
    p.connect()
    p.feed("EHLO c.test")
    p.feed("MAIL FROM:<a@x.test>")
    wire = b"RCPT TO:<b@x.test>\r\nDATA\r\nhi\r\n.\r\nRSET\r\nMAIL FROM:<c@x.test>\r\n"
    assert p.feed(wire, hold=True) == b""
    p.engine.advance(0.3)
    gone(p, how)
    (message,) = p.engine.journal.messages()
    texts = [(text, delivered, written) for text, delivered, written in entries(p)[2:]]
    assert texts[-6:] == [
        ("250 2.1.5 Ok", False, 0),
        ("354 End data with <CR><LF>.<CR><LF>", False, 0),
        (f"250 2.0.0 Ok: queued as {message.queue_id}", False, 0),
        ("250 2.0.0 Ok", False, 0),
        ("250 2.1.0 Ok", False, 0),
        (texts[-1][0], True, None),
    ]
    assert texts[-1][0].startswith("(client ")
