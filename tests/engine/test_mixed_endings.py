"""Message text mixing bare CR, bare LF and CRLF around a "." line, under every
``server.bare_lf`` x ``server.bare_cr`` pair: what ends the message, the text kept (as sent:
never a CRLF the wire did not carry), each bare CR and LF judged where it is on the wire, and the
reply. A table of shapes, then a property against a plain reference of the framing (README "Bare
LF and bare CR"), fed whole, byte by byte and split at random. On the FakeClock, no sockets."""

from __future__ import annotations

from itertools import product

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe
from .test_split_property import split

BARE_LF = ["accept", "normalize", "reject", "disconnect"]
BARE_CR = ["accept", "clean", "reject", "disconnect"]
HEAD = (b"EHLO c.test\r\n", b"MAIL FROM:<a@b.test>\r\n", b"RCPT TO:<c@d.test>\r\n", b"DATA\r\n")
QUEUED = b"250 2.0.0 Ok: queued as SF000001\r\n"
CR, LF, CRLF = "cr", "lf", "crlf"
ENDING = {CR: b"\r", LF: b"\n", CRLF: b"\r\n"}


def send(bare_lf: str, bare_cr: str, chunks: list[bytes]) -> tuple[bytes, list[str], list[bytes]]:
    """The reply to the message's end (its first line), the bare-cr/bare-lf violations (sorted)
    and the messages stored, for message text sent after the 354 in ``chunks``."""
    p = Pipe(Engine(scenario(bare_lf=bare_lf, bare_cr=bare_cr)))
    p.connect()
    for line in HEAD:
        p.feed(line)
    assert p.wire.endswith(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    start = len(p.wire)
    for chunk in chunks:
        p.feed(chunk)
    reply = bytes(p.wire[start:]).partition(b"\r\n")[0]
    kinds = sorted(v.kind for v in p.record.violations if v.kind in ("bare-cr", "bare-lf"))
    return reply, kinds, [m.data for m in p.engine.journal.messages()]


# -- the table --------------------------------------------------------------------------------

#: (text sent after the 354, then QUIT; {policy pair: (reply, kinds, stored)}) where a pair not
#: listed takes the row's default under the key None. The smtplib shape of the new-user pass
#: first: a bare CR, then ".<LF>" (kept with its dot: no CRLF the wire never carried)
LF_REFUSES = {"reject": b"550", "disconnect": b"521"}
TABLE: list[tuple[bytes, dict[tuple[str, str] | None, tuple[bytes, list[str], bytes | None]]]] = [
    (
        b"a\r.\nb\r\n.\r\n",
        {
            None: (b"250", ["bare-cr", "bare-lf"], b"a\r.\nb\r\n"),
            # a bare LF ends the message at "<CR>.<LF>" where it may, and a bare CR ends "a"
            ("accept", "clean"): (b"250", ["bare-cr", "bare-lf"], b"a\r"),
        },
    ),
    (
        b"a\rb\r\nc\r\n.\r\n",  # a bare CR ending a line, then whole CRLF lines (one block)
        {None: (b"250", ["bare-cr"], b"a\rb\r\nc\r\n")},
    ),
    (
        b"a\n.\rb\r\n.\r\n",  # a bare LF, then ".<CR>": the end only where both may end it
        {
            # ".<CR>b" is a line (unstuffed); with clean, ".<CR>" is, and no end after a bare LF
            None: (b"250", ["bare-cr", "bare-lf"], b"a\n\rb\r\n"),
            ("accept", "clean"): (b"250", ["bare-cr", "bare-lf"], b"a\n"),
        },
    ),
    (
        b"a\r\n.\rb\r\n.\r\n",  # "<CRLF>.<CR>": clean's end under every bare_lf
        {
            None: (b"250", ["bare-cr"], b"a\r\n\rb\r\n"),
            **{(lf, "clean"): (b"250", ["bare-cr"], b"a\r\n") for lf in BARE_LF},
        },
    ),
    (
        b"a\r..\nb\r\n.\r\n",  # a stuffed "." line after a bare CR: one dot off
        {
            None: (b"250", ["bare-cr", "bare-lf"], b"a\r..\nb\r\n"),
            **{(lf, "clean"): (b"250", ["bare-cr", "bare-lf"], b"a\r.\nb\r\n") for lf in BARE_LF},
        },
    ),
    (
        # a bare CR as the 1001st octet of a line: the engine takes a long line in pieces, but
        # never one ending in CR (the octet after it says what it is), so "<CR>.<CR>" is found
        b"y" * 1000 + b"\r.\rb\r\n.\r\n",
        {
            None: (b"250", ["bare-cr"], b"y" * 1000 + b"\r.\rb\r\n"),
            **{(lf, "clean"): (b"250", ["bare-cr"], b"y" * 1000 + b"\r") for lf in BARE_LF},
        },
    ),
]


def _expected(
    rows: dict[tuple[str, str] | None, tuple[bytes, list[str], bytes | None]], lf: str, cr: str
) -> tuple[bytes, list[str], list[bytes]]:
    reply, kinds, stored = rows.get((lf, cr), rows[None])
    # the policies refuse a message with what they forbid (the LF's refusal first), whatever it is
    refusal = LF_REFUSES.get(lf) if "bare-lf" in kinds else None
    if refusal is None and "bare-cr" in kinds:
        refusal = LF_REFUSES.get(cr)
    if refusal is not None:
        return refusal, kinds, []
    return reply, kinds, [stored] if stored is not None else []


@pytest.mark.parametrize(("lf", "cr"), list(product(BARE_LF, BARE_CR)))
@pytest.mark.parametrize("row", range(len(TABLE)))
def test_mixed_endings_table(lf: str, cr: str, row: int) -> None:
    text, rows = TABLE[row]
    reply, kinds, stored = _expected(rows, lf, cr)
    for chunks in ([text], [text[i : i + 1] for i in range(len(text))]):
        got_reply, got_kinds, got_stored = send(lf, cr, chunks)
        assert got_reply[:3] == reply, (chunks, got_reply)
        assert got_kinds == kinds
        assert got_stored == stored
        if reply in (b"550", b"521"):
            what = b"<LF>" if "bare-lf" in kinds and lf in LF_REFUSES else b"<CR>"
            assert got_reply.endswith(b"Error: bare " + what + b" received")


# -- the property, against a plain reference ---------------------------------------------------


def frame(text: bytes, clean: bool) -> list[tuple[bytes, str]]:
    """``text`` as lines (content, ending): an LF ends a line, a CR with an LF after it too (one
    CRLF), and with ``clean`` a CR with another octet after it; the rest is no line yet."""
    lines: list[tuple[bytes, str]] = []
    start = i = 0
    while i < len(text):
        if text[i] == 10:
            lines.append((text[start:i], LF))
            start = i + 1
        elif text[i] == 13 and i + 1 < len(text):
            if text[i + 1] == 10:
                lines.append((text[start:i], CRLF))
                i += 1
                start = i + 1
            elif clean:
                lines.append((text[start:i], CR))
                start = i + 1
        i += 1
    return lines


def reference(wire: bytes, bare_lf: str, bare_cr: str) -> tuple[bytes, bytes]:
    """The wire octets of the message up to its final "." line (with that line), and the text
    kept: each line dot-unstuffed (RFC 5321 §4.5.2) with its ending as sent, but a ".<LF>" right
    after a bare CR keeps its dot (its CR and LF never met on the wire)."""
    # what may end the line before the "." and the "." itself
    ends = {CRLF, *([LF] if bare_lf == "accept" else []), *([CR] if bare_cr == "clean" else [])}
    kept, used, previous = b"", 0, CRLF
    for content, ending in frame(wire, bare_cr == "clean"):
        used += len(content) + len(ENDING[ending])
        if content == b"." and previous in ends and ending in ends:
            return wire[:used], kept
        if content.startswith(b".") and not (content == b"." and ending == LF and previous == CR):
            content = content[1:]
        kept += content + ENDING[ending]
        previous = ending
    raise AssertionError("the text given ends in <CRLF>.<CRLF>")


PIECES = [b"a", b".", b"\r", b"\n", b"\r\n", b".\r", b"\r.\n", b"\r.\r", b"\n.\n", b"\r\n.\n"]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(BARE_LF),
    st.sampled_from(BARE_CR),
    st.lists(st.sampled_from(PIECES), max_size=12),
    st.lists(st.integers(0, 10**6), max_size=12),
)
@example("reject", "clean", [b"a\r.\nb"], [])  # the new-user pass's shape (smtplib sends it)
@example("normalize", "clean", [b"a\r.\nb"], [])
@example("accept", "clean", [b"a\rb"], [])
def test_mixed_endings_match_the_reference(
    bare_lf: str, bare_cr: str, pieces: list[bytes], cuts: list[int]
) -> None:
    """Whatever the mix and the split: the message ends where the reference says, its text is
    kept as sent (dot-unstuffed), bare-cr and bare-lf are told exactly when the message's wire
    octets hold one, and the reply is the policies' (a refusal: the LF's first)."""
    message, kept = reference(b"".join(pieces) + b"\r\n.\r\n", bare_lf, bare_cr)
    kinds = []
    if b"\r" in message.replace(b"\r\n", b""):
        kinds.append("bare-cr")
    if b"\n" in message.replace(b"\r\n", b""):
        kinds.append("bare-lf")
    refusal = LF_REFUSES.get(bare_lf) if "bare-lf" in kinds else None
    if refusal is None and "bare-cr" in kinds:
        refusal = LF_REFUSES.get(bare_cr)
    reply, stored = (refusal, []) if refusal is not None else (b"250", [kept])
    data = message + b"QUIT\r\n"  # (a "." ended by a bare CR is known to end once Q comes)
    for chunks in ([data], [data[i : i + 1] for i in range(len(data))], split(data, cuts)):
        got_reply, got_kinds, got_stored = send(bare_lf, bare_cr, chunks)
        assert (got_reply[:3], got_kinds, got_stored) == (reply, kinds, stored), chunks
