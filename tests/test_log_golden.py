"""serve's log, octet for octet: a long, varied replay of many sessions through a logging journal
(text and JSON, with and without a server's tag) compared with files the log wrote before its
hot paths were rewritten (tests/data/log_golden/, gzipped). The replay is seeded, its clock its own:
every run makes the same calls with the same times, so any change of a single octet in a line,
of the order of lines, or of which entries are logged fails here.

The replay covers what the hot paths special-case: entries appended by the session itself, given
through the quick path and through transcript(); notes, rules, replies not delivered, multi-line
replies, a client's control octets, what was not UTF-8, text JSON must escape, over-long entries
the journal cuts, entries and sessions the journal drops past its limits, a clear() with sessions
open; violations and messages held back to their place; AUTH and TLS; times that share a
millisecond, sit on its edges, cross seconds, jump ahead or step back; batches written by
flush() inside a running loop and, with no loop, line by line.

To write the files again (only when the log's format is meant to change):
``python -m tests.test_log_golden --write``.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import random
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from smtpfake.engine.records import Message, SessionInfo, TranscriptEntry, Violation
from smtpfake.logging_observer import EventLog, LogFormat, LoggingJournal

GOLDEN = Path(__file__).parent / "data" / "log_golden"
CASES = [(fmt, tag) for fmt in ("text", "json") for tag in (None, "srv-1")]

_COMMANDS = [
    "EHLO client.example.test",
    "MAIL FROM:<a@example.test> SIZE=1000",
    "RCPT TO:<b@example.test>",
    "DATA",
    ".",
    "NOOP",
    "RSET",
    "QUIT",
    "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
    'MAIL FROM:<"quoted\\"name"@example.test>',
    "RCPT TO:<ünïcödé@exämple.test>",
    "HELO \x1b[2Jcleared",
    "NOOP\x00nul",
    "NOOP\ttab",
    "DEL\x7f and C1\x85",
    "not utf-8: \udcff\udcfe end",
    "x" * 300,
    "",
]
_REPLIES = [
    "220 smtpfake.test ESMTP smtpfake",
    "250-smtpfake.test\n250-PIPELINING\n250-8BITMIME\n250 ENHANCEDSTATUSCODES",
    "250 2.1.0 Ok",
    "354 End data with <CR><LF>.<CR><LF>",
    "250 2.0.0 Ok: queued as SF000001",
    "221 2.0.0 Bye",
    "450 4.2.1 Mailbox busy",
    '550 5.7.1 "quoted" and \\ backslash',
    "421 4.4.2 idle \u2013 closing",
    "235 2.7.0 Authentication succeeded",
]
_NOTES = [
    ("client", "(message data, 1112 bytes)"),
    ("server", "(connection closed)"),
    ("client", "(client closed the connection)"),
]
_RULES = [None, None, None, "greylisted", "r\x1bule", "slow-\u00e9"]


class _Clock:
    """The replay's times: small steps, often within one millisecond, sometimes on its edges,
    across a second, far ahead, or a little back."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.now = 1_764_000_000.0

    def step(self) -> float:
        rng, roll = self.rng, self.rng.random()
        if roll < 0.4:
            self.now += rng.choice([0.0, 0.00001, 0.0001, 0.0003])
        elif roll < 0.8:
            self.now += rng.uniform(0.0005, 0.004)
        elif roll < 0.88:  # within a microsecond of a millisecond's edge
            milli = (int(self.now * 1000) + 1) / 1000
            self.now = milli + rng.choice([-5e-7, -4.9e-7, 0.0, 4.9e-7, 5e-7, 1.1e-6])
        elif roll < 0.94:
            self.now = float(int(self.now) + 1) - rng.choice([1e-7, 5e-7, 0.0]) + 1e-9
        elif roll < 0.97:
            self.now += rng.uniform(60, 4000)
        return self.now - (rng.uniform(0, 0.003) if roll >= 0.97 else 0.0)


def _entry(rng: random.Random, at: float) -> TranscriptEntry:
    side = rng.choice(["client", "server"])
    text = rng.choice(_COMMANDS if side == "client" else _REPLIES)
    roll = rng.random()
    if roll < 0.1:
        side, text = rng.choice(_NOTES)
        return TranscriptEntry(at, side, text, None, note=True)  # type: ignore[arg-type]
    if roll < 0.2:
        return TranscriptEntry(at, side, text, None, False, rng.choice([0, 7]))  # type: ignore[arg-type]
    if roll < 0.23:
        return TranscriptEntry(at, side, text, None, False, None)  # type: ignore[arg-type]
    return TranscriptEntry(at, side, text, rng.choice(_RULES))  # type: ignore[arg-type]


def replay(fmt: LogFormat, tag: str | None, seed: int = 5) -> str:
    """The log of a seeded replay of 150 sessions, up to 8 open at once."""
    rng = random.Random(seed)
    clock = _Clock(rng)
    stream = io.StringIO()
    log = EventLog(stream, fmt, delay=3600.0)  # written by flush() (or past FLUSH_SIZE) only
    journal = LoggingJournal(
        log, tag, max_entries=12, max_entry_chars=200, max_sessions=6, max_messages=5
    )
    state: dict[int, list[Any]] = {}  # index -> [info, room or None]
    started = 0
    cleared = False

    def start() -> None:
        nonlocal started
        started += 1
        info = SessionInfo(started, f"127.0.0.1:{40000 + started}", clock.step())
        journal.started(info)
        state[started] = [info, None]

    def act() -> None:
        index = rng.choice(sorted(state))
        info, room = state[index]
        roll = rng.random()
        at = clock.step()
        if roll < 0.45:  # the session appends what it can itself, as the engine does
            if room is None or len(room[0]) >= room[1]:
                ask = journal.direct_transcript
                room = state[index][1] = ask(info) if ask is not None else None
            entry = _entry(rng, at)
            plain = entry.delivered and entry.written is None and len(entry.text) <= 200
            if room is not None and plain and len(room[0]) < room[1]:
                kept = (entry.time, entry.side, entry.text, entry.rule)
                room[0].append(kept + ((True, None, False, True) if entry.note else ()))
            else:
                journal.transcript(info, entry)
        elif roll < 0.6:
            quick = journal.quick_transcript
            assert quick is not None
            side = rng.choice(["client", "server"])
            quick(info, at, side, rng.choice(_COMMANDS if side == "client" else _REPLIES), None)
        elif roll < 0.75:
            journal.transcript(info, _entry(rng, at))
        elif roll < 0.82:
            kind = rng.choice(["bad-sequence", "early-talk", "sent-after-close", "no-helo"])
            detail = rng.choice(["RCPT before MAIL", "sent \x1b[31m early", "ü \udcff"])
            journal.violation(info, Violation(kind, detail, rng.choice(_COMMANDS), at))
        elif roll < 0.9:
            subject = rng.choice([b"hi", b"=?utf-8?q?caf=C3=A9?=", b"\xff\xfe raw", b""])
            data = b"Subject: " + subject + b"\r\nX: y\r\n\r\n" + b"body " * rng.randint(0, 40)
            rcpts = tuple(f"r{n}@example.test" for n in range(rng.randint(1, 3)))
            queue_id = f"SF{rng.randint(0, 999999):06d}"
            journal.message(info, Message("a@example.test", rcpts, data, index, at, queue_id))
        elif roll < 0.93:
            with mock.patch.object(time, "time", lambda: at):
                if rng.random() < 0.5:
                    journal.authenticated(info, rng.choice(["alice", 'bo"b', "c\x1bd"]))
                else:
                    journal.secured(info, "TLSv1.3", "TLS_AES_256_GCM_SHA384")
        else:
            journal.ended(info, at)
            del state[index]

    async def in_a_loop() -> None:
        nonlocal cleared
        while started < 120 or state:
            if started < 120 and ((len(state) < 8 and rng.random() < 0.15) or not state):
                start()
            else:
                act()
            if rng.random() < 0.05:
                log.flush()
            if started == 20 and not cleared:  # with sessions open: they go on in the new one
                cleared = True
                journal.clear()

    asyncio.run(in_a_loop())
    log.flush()
    while started < 150 or state:  # no loop runs: each line is written as it is made
        if started < 150 and ((len(state) < 3 and rng.random() < 0.2) or not state):
            start()
        else:
            act()
    log.flush()
    return stream.getvalue()


def _golden(fmt: str, tag: str | None) -> Path:
    return GOLDEN / f"{fmt}{'-' + tag if tag else ''}.log.gz"


@pytest.mark.parametrize(("fmt", "tag"), CASES)
def test_the_log_is_octet_for_octet_what_it_was(fmt: LogFormat, tag: str | None) -> None:
    made = replay(fmt, tag)
    expected = gzip.decompress(_golden(fmt, tag).read_bytes()).decode("utf-8")
    assert made.count("\n") > 1500  # the replay is long
    if made != expected:  # the first line that differs, not a diff of the whole log
        lines = zip(made.splitlines(), expected.splitlines(), strict=False)
        number, got, want = next(
            ((n, a, b) for n, (a, b) in enumerate(lines, 1) if a != b), (0, "", "")
        )
        pytest.fail(f"line {number}: {got!r}, was {want!r} ({len(made)}, was {len(expected)})")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for fmt, tag in CASES:
        made = replay(fmt, tag).encode("utf-8")  # type: ignore[arg-type]
        _golden(fmt, tag).write_bytes(gzip.compress(made, mtime=0))
