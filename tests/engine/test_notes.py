"""The record tells the engine's notes on a connection from lines and replies by a flag
(TranscriptEntry.note), never by their wording: every note the engine makes has it, and a
client line that reads exactly like one does not. On the FakeClock: no sockets, no sleeps."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smtpfake.engine.connection import GRACE_TIMER
from smtpfake.engine.records import TranscriptEntry
from smtpfake.journal import SessionRecord

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

#: what a client may send as command lines that read like the engine's notes, one of each kind
LOOKALIKES = (
    "(message data, 5 bytes)",
    "(message data, 5 bytes, unfinished)",
    "(chunk data, 3 octets)",
    "(7 more octets, not read)",
    "(9 bytes after STARTTLS, before the handshake: discarded)",
    "(client closed the connection)",
    "(client reset the connection)",
    "(connection closed)",
    "(TLS established: TLSv1.3, TLS_AES_256_GCM_SHA384)",
)
SHUTDOWN_421 = "421 4.3.2 smtpfake.test Service not available, closing transmission channel"


def pipe(*rules: dict[str, object], **server: object) -> Pipe:
    p = Pipe(Engine(scenario(*rules, **server)))  # type: ignore[arg-type]
    p.connect()
    p.feed("EHLO client.test")
    return p


def transaction(p: Pipe) -> None:
    p.feed("MAIL FROM:<a@x.test>")
    p.feed("RCPT TO:<b@x.test>")


def notes(record: SessionRecord) -> list[tuple[str, str]]:
    return [(e.side, e.text) for e in record.transcript if e.note]


def lines_and_replies_are_no_notes(record: SessionRecord, sent: set[str]) -> None:
    """Every entry that is no note is a line the test sent or a reply with its code; every
    note is in parentheses."""
    for e in record.transcript:
        if e.note:
            assert e.text.startswith("(") and e.text.endswith(")"), e
        elif e.side == "client":
            assert e.text in sent and not e.event, e
        else:
            assert e.text[:3].isdigit(), e


def message_then_lookalikes(p: Pipe) -> None:
    transaction(p)
    p.feed("DATA")
    p.feed(b"Subject: x\r\n\r\nhi\r\n.\r\n")
    for line in LOOKALIKES:
        p.feed(line)
    p.feed("QUIT")
    p.eof()
    p.finish()


def test_a_client_line_that_reads_like_a_note_is_a_line_and_the_engine_s_notes_are_notes() -> None:
    p = pipe()
    message_then_lookalikes(p)
    record = p.record
    lines_and_replies_are_no_notes(record, {*LOOKALIKES, "EHLO client.test", ".", "QUIT"} | MAIL)
    assert notes(record) == [
        ("client", "(message data, 18 bytes)"),
        ("server", "(connection closed)"),
        ("client", "(client closed the connection)"),
    ]
    # each look-alike is a command, answered 500 (no regex on the text decides)
    answered = {x.command.text: x.code for x in record.exchanges()}
    assert {line: answered[line] for line in LOOKALIKES} == dict.fromkeys(LOOKALIKES, 500)
    assert [x.command.text for x in record.exchanges()].count("(message data, 5 bytes)") == 1
    (close,) = [e for e in record.transcript if e.event]
    assert close.note and close.text == "(client closed the connection)"
    # the text form: a line after "C: ", a note after "C* "/"S* "
    shown = record.format().splitlines()
    assert "  C: (message data, 5 bytes)" in shown
    assert "  C* (message data, 18 bytes)" in shown
    assert "  C: (connection closed)" in shown and "  S* (connection closed)" in shown
    assert "  C* (client closed the connection)" in shown
    assert "  C: (client closed the connection)" in shown


MAIL = {"MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "DATA"}


def _cut_message(p: Pipe) -> None:
    transaction(p)
    p.feed("DATA")
    p.feed(b"Subject:\r\n")  # the cut comes after 10 octets, this line's end: a reset


def _unfinished_message(p: Pipe) -> None:
    transaction(p)
    p.feed("DATA")
    p.feed(b"Subject: x\r\n")
    p.eof()


def _chunks(p: Pipe) -> None:
    transaction(p)
    p.feed(b"BDAT 3\r\nabc")
    p.feed(b"BDAT 100 LAST\r\nonly this")
    p.eof()


def _chunk_cut(p: Pipe) -> None:
    transaction(p)
    p.feed(b"BDAT 10 LAST\r\n0123456")  # the cut comes after 5 octets: a reset


def _starttls(p: Pipe) -> None:
    p.feed(b"STARTTLS\r\nMAIL FROM:<a@x.test>\r\n")  # sent before the handshake: discarded
    assert p.tls
    p._carry(p.conn.tls_started("TLSv1.3", "TLS_AES_256_GCM_SHA384"), False)
    p.feed("QUIT")


def _tls_failed(p: Pipe) -> None:
    p.feed("STARTTLS")
    p._carry(p.conn.tls_failed("bad record mac"), False)


def _idle(p: Pipe) -> None:
    p.fire("idle")


def _reset_fault(p: Pipe) -> None:
    p.feed("NOOP")


def _stop_with_flood(p: Pipe) -> None:
    p.feed("NOOP", hold=True)  # its reply waits 30 s
    p.feed(b"HELP\r\n" * 500)
    p._held = []  # the stop's batch replaces the one under way
    p._carry(p.conn.shutting_down("stop", 0.25), False)


def _stop_in_message(p: Pipe) -> None:
    transaction(p)
    p.feed("DATA")
    p.feed(b"Subject: x\r\n")
    p._carry(p.conn.shutting_down("stop", 0.25), False)
    p.fire(GRACE_TIMER)


#: (how the session goes, its scenario's rules and settings, the notes it must have)
CASES: dict[
    str,
    tuple[
        Callable[[Pipe], None],
        tuple[dict[str, object], ...],
        dict[str, object],
        list[tuple[str, str]],
    ],
] = {
    "cut_body": (
        _cut_message,
        ({"on": "data", "cut_body": 10},),
        {},
        [("client", "(message data, 10 bytes so far)"), ("server", "(connection reset)")],
    ),
    "unfinished message": (
        _unfinished_message,
        (),
        {},
        [
            ("client", "(message data, 12 bytes, unfinished)"),
            ("client", "(client closed the connection)"),
        ],
    ),
    "chunks": (
        _chunks,
        (),
        {"extensions_add": ["CHUNKING"]},
        [
            ("client", "(chunk data, 3 octets)"),
            ("client", "(chunk data, 9 of 100 octets, unfinished)"),  # ended by the close
            ("client", "(client closed the connection)"),
        ],
    ),
    "chunk cut": (
        _chunk_cut,
        ({"on": "bdat", "cut_body": {"after_bytes": 5, "how": "reset"}},),
        {"extensions_add": ["CHUNKING"]},
        [
            ("client", "(chunk data, 5 of 10 octets so far)"),
            ("server", "(connection reset)"),
            # the chunk's 2 octets read with the cut: counted (when the session ends)
            ("client", "(chunk data after the close, 2 of 5 octets, unfinished)"),
        ],
    ),
    "starttls": (
        _starttls,
        (),
        {"tls": {}},
        [
            ("client", "(22 bytes after STARTTLS, before the handshake: discarded)"),
            ("server", "(TLS established: TLSv1.3, TLS_AES_256_GCM_SHA384)"),
            ("server", "(connection closed)"),
        ],
    ),
    "tls failed": (
        _tls_failed,
        (),
        {"tls": {}},
        [("server", "(TLS handshake failed: bad record mac; connection closed)")],
    ),
    "idle": (_idle, (), {"idle_timeout": 30}, [("server", "(connection closed)")]),
    "reset fault": (
        _reset_fault,
        ({"on": "noop", "reset": True},),
        {},
        [("server", "(connection reset)")],
    ),
    "stop, a flood unread": (
        _stop_with_flood,
        ({"on": "noop", "delay": 30},),
        {},
        [
            ("server", "(connection closed: server stopping)"),
            ("client", "(2400 more octets, not read)"),  # 500 HELP lines, 100 of them read
        ],
    ),
    "stop in a message": (
        _stop_in_message,
        (),
        {},
        [
            ("client", "(message data, 12 bytes, unfinished)"),
            ("server", "(connection closed: server stopping)"),
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_note_of_the_engine_has_the_flag(case: str) -> None:
    play, rules, server, expected = CASES[case]
    p = pipe(*rules, **server)
    play(p)
    if p.ended is not None:
        p.finish()
    record = p.record
    assert notes(record) == expected
    sent = {"EHLO client.test", "STARTTLS", "QUIT", "NOOP", "HELP", "BDAT 3", "BDAT 100 LAST"}
    sent |= {"BDAT 10 LAST", SHUTDOWN_421} | MAIL
    lines_and_replies_are_no_notes(record, sent)
    for e in record.transcript:
        assert str(e).startswith(("C*", "S*") if e.note else ("C:", "S:"))


def test_an_entry_s_flags_default_to_a_line() -> None:
    entry = TranscriptEntry(1.0, "client", "(message data, 5 bytes)")
    assert not entry.note and not entry.event and str(entry) == "C: (message data, 5 bytes)"
    noted = TranscriptEntry(1.0, "server", "(connection closed)", "rule 1", note=True)
    assert str(noted) == "S* (connection closed)   [rule 1]"
