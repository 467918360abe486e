"""Message text the client still sends after the server closed in the middle of it (a timer's
421, a stop): recorded as it came, line by line, under a note that says it is message text sent
after the close; none of it judged, its final "." the one command RFC 5321 §3.8 forgives after an
unsolicited 421 (the client reads no reply before it, §4.1.1.4), anything after it
``sent-after-close``. On the FakeClock, no sockets."""

from __future__ import annotations

import random

import pytest

from smtpfake.journal import SessionRecord
from smtpfake.serialize import session_from_json, session_to_json

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

IDLE_421 = "421 4.4.2 smtpfake.test Error: timeout exceeded"
AFTER = b" line\r\n..stuffed\r\nmore text\r\n.\r\nQUIT\r\nsl"


def cut_by(timer: str, chunks: list[bytes]) -> SessionRecord:
    """A message begun, the ``timer``'s 421 in the middle of its text, then ``chunks``."""
    settings = {"idle_timeout": 5} if timer == "idle" else {"close_after": 60}
    p = Pipe(Engine(scenario(**settings)))
    p.connect()
    for line in ("EHLO c.test", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>", "DATA"):
        p.feed(line)
    p.feed(b"Subject: x\r\n\r\nfirst")
    assert p.fire(timer).startswith(b"421 ")
    for chunk in chunks:
        assert p.feed(chunk) == b""  # never answered
    p.eof()
    p.finish()
    return p.record


def after_close(record: SessionRecord) -> list[tuple[str, bool, bool]]:
    closed = next(i for i, e in enumerate(record.transcript) if e.text == "(connection closed)")
    return [(e.text, e.note, e.delivered) for e in record.transcript[closed + 1 :]]


@pytest.mark.parametrize("timer", ["idle", "close_after"])
def test_the_text_is_labelled_kept_as_sent_and_only_what_follows_its_dot_is_judged(
    timer: str,
) -> None:
    record = cut_by(timer, [AFTER])
    assert after_close(record) == [
        ("(message text after the close)", True, True),
        (" line", False, True),  # the rest of the line the 421 cut (its start is counted before)
        ("..stuffed", False, True),  # as it crossed the wire: not unstuffed, no message takes it
        ("more text", False, True),
        (".", False, True),
        ("QUIT", False, True),
        ("sl", False, False),
        ("(client closed the connection)", True, True),
    ]
    # the "." is the command the client sends before it reads the unsolicited 421: forgiven
    assert [(v.kind, v.command) for v in record.violations] == [("sent-after-close", "QUIT")]
    assert record.messages == ()
    assert "  C* (message text after the close)\n  C:  line\n" in record.format()


def test_text_without_its_dot_is_never_judged() -> None:
    record = cut_by("idle", [b"more\r\nQUIT\r\n"])
    # the server cannot tell a QUIT from text before the final ".": text it is
    assert record.violations == ()
    assert [t for t, _, _ in after_close(record)][:3] == [
        "(message text after the close)",
        "more",
        "QUIT",
    ]


def test_a_command_after_a_close_outside_a_message_is_not_labelled() -> None:
    p = Pipe(Engine(scenario(idle_timeout=5)))
    p.connect()
    p.feed("EHLO c.test")
    p.fire("idle")
    p.feed("NOOP")
    p.feed("QUIT")
    p.eof()
    p.finish()
    assert "(message text after the close)" not in p.record.format()
    assert [(v.kind, v.command) for v in p.record.violations] == [("sent-after-close", "QUIT")]


def test_the_json_holds_the_same_entries() -> None:
    record = cut_by("idle", [AFTER])
    again = session_from_json(session_to_json(record))
    assert again.transcript == record.transcript
    assert again.format() == record.format()


def test_any_split_gives_the_same_record() -> None:
    whole = cut_by("idle", [AFTER])
    assert cut_by("idle", [AFTER[i : i + 1] for i in range(len(AFTER))]) == whole
    rng = random.Random(7)
    for _ in range(20):
        cuts = sorted(rng.sample(range(1, len(AFTER)), 4))
        chunks = [AFTER[a:b] for a, b in zip([0, *cuts], [*cuts, len(AFTER)], strict=True)]
        assert cut_by("idle", chunks) == whole


@pytest.mark.parametrize("end", ["eof", "grace"])
def test_text_the_grace_period_or_the_close_cuts_is_labelled_and_unfinished(end: str) -> None:
    """What the brief's record showed as a client line ``t: sl (unfinished)``: message text."""
    p = Pipe(Engine(scenario(idle_timeout=5)))
    p.connect()
    for line in ("EHLO c.test", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>", "DATA"):
        p.feed(line)
    p.feed(b"Subject: slow\r\n\r\n")
    p.fire("idle")
    p.feed(b"t: sl")
    if end == "eof":
        p.eof()
    else:
        p.fire("grace")
    p.finish()
    tail = after_close(p.record)
    assert tail[:2] == [("(message text after the close)", True, True), ("t: sl", False, False)]
    assert p.record.violations == ()
    shown = "  C* (message text after the close)\n  C: t: sl   (unfinished: no line ending)"
    assert shown in p.record.format()


# -- a big message's text after the close (fresh14 N6) -------------------------------------------


@pytest.mark.parametrize("end", [b".\r\nQUIT\r\n", b""])
def test_a_big_texts_lines_past_the_first_are_counted_in_one_note(end: bytes) -> None:
    """The first lines as they came, the rest in one note (lines and octets): 5,000 lines after
    the close leave the session's head in its own transcript, and the "." and what follows (or
    the client's close) after the count."""
    lines = b"".join(b"line %05d\r\n" % n for n in range(5000))
    record = cut_by("idle", [b"\r\n", lines, end])
    seen = after_close(record)
    assert seen[0] == ("(message text after the close)", True, True)
    assert [text for text, _, _ in seen[1:22]] == ["", *(f"line {n:05d}" for n in range(20))]
    count = "(message text after the close: 4,980 more lines, 59,760 octets, not shown)"
    rest = [(".", False, True), ("QUIT", False, True)] if end else []
    assert seen[22:] == [(count, True, True), *rest, ("(client closed the connection)", True, True)]
    assert record.transcript[0].text.startswith("220 ")  # the head is kept
    times = [e.time for e in record.transcript]
    assert times == sorted(times)
