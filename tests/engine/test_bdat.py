"""CHUNKING / BDAT (RFC 3030) in the engine: chunks framed by their byte count however the bytes
are split, the reply after the chunk, per-chunk faults, and what a client can do wrong. On the
FakeClock through the engine's Connection (no sockets, no sleeps)."""

from __future__ import annotations

import pytest

from smtpfake.scenario.plan import Reset

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

CHUNKING = {"extensions_add": ["CHUNKING"]}


def pipe(*rules: dict[str, object], **server: object) -> Pipe:
    return Pipe(Engine(scenario(*rules, **{**CHUNKING, **server})))  # type: ignore[arg-type]


def ready(p: Pipe, greet: str = "EHLO client.test") -> None:
    p.connect()
    p.feed(greet)
    p.feed("MAIL FROM:<a@x.test>")
    assert p.feed("RCPT TO:<b@x.test>").startswith(b"250 ")


def kinds(p: Pipe) -> list[str]:
    return [v.kind for v in p.record.violations]


def texts(p: Pipe) -> list[str]:
    return [e.text for e in p.record.transcript]


def test_chunks_make_the_message_octet_for_octet_whatever_the_split() -> None:
    # Octets a DATA reader would change: a leading dot, a lone "." line, bare LF, NUL, 8-bit.
    body = b".leading dot\r\n.\r\nbare\nlf\x00\xff\r\n"
    wire = b"BDAT 10\r\n" + body[:10] + b"BDAT %d LAST\r\n" % (len(body) - 10) + body[10:]
    for split in (1, 3, 7, len(wire)):
        p = pipe()
        ready(p)
        out = b"".join(p.feed(wire[i : i + split]) for i in range(0, len(wire), split))
        assert (
            out
            == b"250 2.0.0 Ok: 10 octets received\r\n250 2.0.0 Ok: queued as "
            + (out.split(b"queued as ")[1])
        )
        assert out.endswith(b"\r\n") and out.count(b"\r\n") == 2
        (message,) = p.engine.journal.messages()
        assert message.data == body
        assert kinds(p) == []
        assert p.feed("MAIL FROM:<c@x.test>") == b"250 2.1.0 Ok\r\n"  # a new transaction


def test_the_reply_waits_for_the_whole_chunk_and_the_record_shows_it() -> None:
    p = pipe()
    ready(p)
    assert p.feed(b"BDAT 4 LAST\r\nab") == b""
    assert p.feed(b"cd").startswith(b"250 2.0.0 Ok: queued as ")
    assert texts(p)[-3:-1] == ["BDAT 4 LAST", "(chunk data, 4 octets)"]


def test_bdat_zero_last_ends_the_message_at_once() -> None:
    p = pipe()
    ready(p)
    assert p.feed(b"BDAT 3\r\nabc") == b"250 2.0.0 Ok: 3 octets received\r\n"
    assert p.feed("BDAT 0 LAST").startswith(b"250 2.0.0 Ok: queued as ")
    assert [m.data for m in p.engine.journal.messages()] == [b"abc"]


def test_rules_on_bdat_shape_the_chunk_reply_and_a_refusal_fails_the_transaction() -> None:
    p = pipe({"on": "bdat", "match": "* LAST", "times": 1, "reply": "451 4.3.0 disk full"})
    ready(p)
    assert p.feed(b"BDAT 2\r\nab") == b"250 2.0.0 Ok: 2 octets received\r\n"
    assert p.feed(b"BDAT 2 LAST\r\ncd") == b"451 4.3.0 disk full\r\n"
    assert p.engine.journal.messages() == ()
    # RFC 3030 §2: the transaction failed; a chunk still in the pipeline is read and refused
    assert p.feed(b"BDAT 2 LAST\r\nef") == b"503 5.5.1 Error: need MAIL command\r\n"
    assert p.feed("NOOP") == b"250 2.0.0 Ok\r\n"  # still in step: "ef" was not a command


@pytest.mark.parametrize("how", ["reset", "close"])
def test_cut_body_on_bdat_ends_the_connection_after_n_octets_of_the_chunk(how: str) -> None:
    p = pipe({"on": "bdat", "nth": 2, "cut_body": {"after_bytes": 5, "how": how}})
    ready(p)
    assert p.feed(b"BDAT 3\r\nabc") == b"250 2.0.0 Ok: 3 octets received\r\n"
    assert p.feed(b"BDAT 10 LAST\r\n0123") == b""
    assert p.feed(b"456789") == b""  # the cut comes after exactly 5 octets of this chunk
    assert p.ended == how or (how == "close" and p.half_closed)
    p.eof()
    p.finish()
    assert p.engine.journal.messages() == ()
    assert "(chunk data, 5 of 10 octets so far)" in texts(p)
    assert kinds(p) == []  # the server cut it: not the client's fault, no chunk-short


def test_a_chunk_shorter_than_declared_is_told_when_the_client_leaves() -> None:
    p = pipe()
    ready(p)
    p.feed(b"BDAT 100 LAST\r\nonly this")
    p.eof()
    p.finish()
    assert "chunk-short" in kinds(p)
    assert "(chunk data, 9 of 100 octets, unfinished)" in texts(p)
    assert p.engine.journal.messages() == ()


def test_bdat_without_chunking_advertised_is_read_discarded_and_refused() -> None:
    p = Pipe(Engine(scenario()))
    ready(p)
    assert p.feed(b"BDAT 9 LAST\r\nQUIT\r\nxyz") == b"502 5.5.1 Error: BDAT without CHUNKING\r\n"
    assert kinds(p) == ["bdat-without-chunking"]
    assert p.engine.journal.messages() == ()
    assert p.feed("NOOP") == b"250 2.0.0 Ok\r\n"  # the QUIT inside the chunk was not a command


def test_bdat_after_helo_is_without_chunking_too() -> None:
    p = pipe()
    ready(p, "HELO client.test")
    assert p.feed(b"BDAT 1 LAST\r\nx").startswith(b"502 5.5.1 ")
    assert kinds(p) == ["bdat-without-chunking"]


def test_bdat_before_mail_or_rcpt_gets_503_after_its_chunk() -> None:
    p = pipe()
    p.connect()
    p.feed("EHLO client.test")
    assert p.feed(b"BDAT 3 LAST\r\nabc") == b"503 5.5.1 Error: need MAIL command\r\n"
    p.feed("MAIL FROM:<a@x.test>")
    assert p.feed(b"BDAT 3 LAST\r\nabc") == b"503 5.5.1 Error: need RCPT command\r\n"
    details = [v.detail for v in p.record.violations]
    assert details == ["BDAT before MAIL", "BDAT before any accepted RCPT"]


def test_data_after_bdat_in_one_transaction_gets_503() -> None:
    p = pipe()
    ready(p)
    p.feed(b"BDAT 2\r\nab")
    assert p.feed("DATA") == b"503 5.5.1 Error: DATA after BDAT in one transaction\r\n"
    assert kinds(p) == ["bdat-and-data"]
    assert p.feed("RSET") == b"250 2.0.0 Ok\r\n"  # RSET clears it (RFC 3030 §2)
    p.feed("MAIL FROM:<a@x.test>")
    p.feed("RCPT TO:<b@x.test>")
    assert p.feed("DATA").startswith(b"354 ")


def test_a_chunk_over_the_size_limit_is_read_and_refused_with_552() -> None:
    p = pipe(extensions_add=["CHUNKING", "SIZE 10"])
    ready(p)
    assert p.feed(b"BDAT 8\r\n12345678") == b"250 2.0.0 Ok: 8 octets received\r\n"
    assert p.feed(b"BDAT 8 LAST\r\n12345678").startswith(b"552 5.3.4 ")
    assert p.engine.journal.messages() == ()


def test_a_bad_bdat_argument_gets_501_and_no_chunk_is_read() -> None:
    p = pipe()
    ready(p)
    assert p.feed("BDAT lots").startswith(b"501 5.5.4 ")
    assert p.feed("NOOP") == b"250 2.0.0 Ok\r\n"


def test_a_reset_cut_is_a_reset_action() -> None:
    p = pipe({"on": "bdat", "cut_body": 1})
    ready(p)
    actions = p.conn.receive_data(b"BDAT 5 LAST\r\nabcde")
    assert any(isinstance(a, Reset) for a in actions)


def test_a_chunk_cut_by_the_servers_close_after_is_not_the_clients_fault() -> None:
    from smtpfake.engine.session import CLOSE_AFTER_TIMER

    p = pipe(close_after=30)
    ready(p)
    p.feed(b"BDAT 100 LAST\r\nhalf")
    assert p.fire(CLOSE_AFTER_TIMER).startswith(b"421 4.3.2 ")
    p.eof()
    p.finish()
    assert "chunk-short" not in kinds(p)
    assert "(chunk data, 4 of 100 octets, unfinished)" in texts(p)
    assert p.engine.journal.messages() == ()


def test_a_delay_on_bdat_runs_after_the_chunk_on_the_clock() -> None:
    p = pipe({"on": "bdat", "delay": 5})
    ready(p)
    start = p.engine.clock.now()
    assert p.feed(b"BDAT 3 LAST\r\nabc").startswith(b"250 2.0.0 Ok: queued as ")
    reply = p.record.transcript[-1]
    assert reply.text.startswith("250 2.0.0 Ok: queued as ")
    assert reply.time == start + 5  # written after the delay, on the FakeClock
    (message,) = p.engine.journal.messages()
    assert message.time == start  # accepted when the chunk was in


def _since(p: Pipe, t0: float) -> list[tuple[float, str, bool]]:
    return [(round(e.time - t0, 6), e.text, e.delivered) for e in p.record.transcript]


@pytest.mark.parametrize("how", ["eof", "reset"])
def test_a_chunk_the_clients_close_cuts_short_ends_at_the_close_before_its_entry(
    how: str,
) -> None:
    """A chunk cut short is recorded as a message cut short in DATA is: at the close that ended
    it, before the close's own entry (RFC 3030 §2: the chunk is exactly that long); its
    chunk-short is stamped at the close too."""
    p = pipe()
    ready(p)
    t0 = p.engine.clock.now()
    p.feed(b"BDAT 10\r\n01234")  # the last octet at +0
    p.engine.advance(0.25)
    if how == "eof":
        assert p.eof() == b""
        p.engine.advance(0.1)  # the wire reports the socket gone a little later
        p.finish()
    else:
        p.lost(reset=True)
    closed = "(client closed the connection)" if how == "eof" else "(client reset the connection)"
    assert _since(p, t0)[-3:] == [
        (0.0, "BDAT 10", True),
        (0.25, "(chunk data, 5 of 10 octets, unfinished)", True),
        (0.25, closed, True),
    ]
    stamps = {v.kind: round(v.time - t0, 6) for v in p.record.violations}
    assert stamps == {"chunk-short": 0.25, "no-quit": 0.25}
    assert p.engine.journal.messages() == ()


def test_a_chunk_read_after_a_paced_reply_is_cut_by_the_reset_before_its_entry() -> None:
    """The BDAT and its octets wait behind a reply a fault paces; the client resets: they are
    read at the end (the drain) and the chunk still ends before the reset's entry."""
    p = pipe({"on": "rcpt", "delay": 2})
    p.connect()
    p.feed("EHLO client.test")
    p.feed("MAIL FROM:<a@x.test>")
    t0 = p.engine.clock.now()
    assert p.feed(b"RCPT TO:<b@x.test>\r\nBDAT 10\r\n012", hold=True) == b""
    p.engine.advance(0.5)
    p.lost(reset=True)
    assert _since(p, t0)[-5:] == [
        (0.0, "RCPT TO:<b@x.test>", True),
        (0.0, "BDAT 10", True),  # came before the reply was written: recorded before it
        (0.5, "(chunk data, 3 of 10 octets, unfinished)", True),
        (0.5, "250 2.1.5 Ok", False),  # never delivered: the client left waiting for it
        (0.5, "(client reset the connection)", True),
    ]
    stamps = [(v.kind, round(v.time - t0, 6)) for v in p.record.violations]
    assert stamps == [("chunk-short", 0.5)]  # no no-quit: it left while a reply was due
