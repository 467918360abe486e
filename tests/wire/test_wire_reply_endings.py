"""A reply's line endings in the record, on a real socket on both loops (fresh10 F6): a raw
socket reads the exact octets of a ``raw``, ``malformed``, ``truncate``, ``drip`` or
``fragment`` reply, and the record's lines with their ``endings`` give back exactly those."""

from __future__ import annotations

from typing import Any

import pytest

from smtpfake.engine.records import TranscriptEntry
from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions

_OCTETS = {"crlf": "\r\n", "lf": "\n", "cr": "\r", "none": ""}


def as_wire(entry: TranscriptEntry) -> bytes:
    """The octets a reply's record says went out: each line with its ending (CRLF when the
    record has none)."""
    endings = entry.endings or ("crlf",) * len(entry.lines)
    assert len(endings) == len(entry.lines), entry
    return "".join(line + _OCTETS[e] for line, e in zip(entry.lines, endings, strict=True)).encode(
        "latin-1"
    )


@pytest.mark.parametrize(
    ("rule", "command", "wire"),
    [
        ({"on": "noop", "raw": "250 ok"}, "NOOP", b"250 ok"),
        ({"on": "noop", "raw": "250 ok\r\n"}, "NOOP", b"250 ok\r\n"),
        ({"on": "noop", "raw": "250 ok\n"}, "NOOP", b"250 ok\n"),
        ({"on": "noop", "raw": "250 ok\r"}, "NOOP", b"250 ok\r"),
        ({"on": "noop", "raw": "250-a\r\n250 b"}, "NOOP", b"250-a\r\n250 b"),
        ({"on": "noop", "malformed": "bare-lf"}, "NOOP", b"250 2.0.0 Ok\n"),
        ({"on": "vrfy", "reply": "550 5.1.1 no such user", "truncate": 6}, "VRFY b", b"550 5."),
        ({"on": "noop", "raw": "250-a\n250 b", "drip": {"bytes": 3, "interval": 0.01}}, "NOOP",
         b"250-a\n250 b"),
        ({"on": "noop", "raw": "250-a\n250 b\r\n", "fragment": 2}, "NOOP", b"250-a\n250 b\r\n"),
    ],
)  # fmt: skip
def test_the_record_gives_back_the_octets_the_client_read(
    fresh: Server, rule: dict[str, Any], command: str, wire: bytes
) -> None:
    fresh.use(scenario({**rule, "name": "shaped"}))
    with Raw(fresh) as conn:
        assert conn.code() == 220
        conn.send(command.encode() + b"\r\n")
        got, _ = conn.until(wire)
        assert got == wire
        conn.send(b"QUIT\r\n")
        conn.rest()
    (session,) = ended_sessions(fresh, 1)
    (entry,) = [e for e in session.transcript if e.rule == "shaped" and not e.note]
    assert entry.delivered
    assert as_wire(entry) == got
    assert bool(entry.endings) == (not wire.endswith(b"\r\n") or b"\n" in wire[:-2])


def test_a_reply_cut_short_reads_so_in_the_text_form(fresh: Server) -> None:
    fresh.use(scenario({"on": "vrfy", "reply": "550 5.1.1 no such user", "truncate": 6}))
    with Raw(fresh) as conn:
        assert conn.code() == 220
        conn.send(b"VRFY b\r\n")
        assert conn.rest() == b"550 5."  # then the close
    (session,) = ended_sessions(fresh, 1)
    assert (
        "S: 550 5.   (unfinished: no line ending)   [rule 1 (on vrfy)]"
        in session.format().split("\n  ")
    )
