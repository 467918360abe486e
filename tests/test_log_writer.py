"""The log's own thread (smtpfake.log_writer), on a real pipe in this process: the thread that
makes lines never waits on the reader; a reader that reads late gets every line in order; past
the bound whole batches are dropped, counted and told of once the reader caught up; a reader
that goes away is a failure of the log; a wait for a reader that reads nothing gives up.
``tests/cli/test_serve_log_pipe.py`` runs the same in real ``smtpfake serve`` processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TextIO

import pytest

from smtpfake import log_writer
from smtpfake.log_writer import LogWriter
from smtpfake.logging_observer import EventLog

#: more than a Linux pipe holds (64 KiB), so a writer that waited on the reader would wait here
LINES = 5_000
TEXT = "x" * 40


@contextmanager
def pipe() -> Iterator[tuple[TextIO, int]]:
    """(the write end as a text stream, the read end's descriptor)."""
    read, write = os.pipe()
    stream = os.fdopen(write, "w", encoding="utf-8")
    try:
        yield stream, read
    finally:
        # the read end first: a write blocked on the full pipe fails then, rather than hold
        # the stream's close up for ever (as the log did in the thread that made the lines)
        for close in (lambda: os.close(read), stream.close):
            with suppress(OSError):  # closed by the test already; or the pipe broke
                close()


def read_all(fd: int, until: Callable[[bytes], bool], within: float = 30.0) -> bytes:
    """Read ``fd`` until ``until(what was read)``, within ``within`` seconds."""
    out = b""
    deadline = time.monotonic() + within
    os.set_blocking(fd, False)
    while not until(out):
        assert time.monotonic() < deadline, out[-300:]
        try:
            out += os.read(fd, 1 << 16)
        except BlockingIOError:
            time.sleep(0.005)
    return out


def in_a_thread(work: Callable[[], object], within: float = 30.0) -> None:
    """Run ``work`` in a thread that must end within ``within`` s (a writer that waits on a
    pipe nobody reads would not)."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the test, which raises it
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(within)
    assert not thread.is_alive(), "the thread that makes lines waited on the pipe's reader"
    if failed:
        raise failed[0]


def test_a_reader_that_reads_late_gets_every_line_in_order() -> None:
    with pipe() as (stream, fd):
        log = EventLog(stream, delay=0.001)

        async def serve() -> None:  # lines made in a loop, written by its timer's batches
            for i in range(LINES):
                log.event("command", 1.0, f"C: NOOP {i} {TEXT}", session=1)
                if i % 100 == 0:
                    await asyncio.sleep(0.002)

        in_a_thread(lambda: asyncio.run(serve()))  # nobody reads meanwhile
        log.flush()
        assert log.unwritten > 0  # the pipe is full: the rest waits in the log's thread
        out = read_all(fd, lambda out: out.count(b"\n") == LINES).decode()
        assert log.flush(wait=True) and log.unwritten == 0 and log.dropped == 0
    stamp = "1970-01-01T00:00:01.000Z"
    assert out.splitlines() == [f"{stamp} session 1 C: NOOP {i} {TEXT}" for i in range(LINES)]


def test_past_the_bound_whole_batches_are_dropped_until_the_reader_catches_up() -> None:
    told: list[int] = []
    failures: list[OSError] = []

    def notice(lines: int) -> str:
        told.append(lines)
        return f"dropped {lines}\n"

    batch = "".join(f"line {TEXT}\n" for _ in range(100))  # 100 lines, 4,600 characters
    with pipe() as (stream, fd):
        writer = LogWriter(stream, notice, failures.append, bound=50_000)

        def fill() -> None:
            for n in range(60):  # 276,000 characters: the pipe's 64 KiB, the bound, and more
                writer.put(f"batch {n}\n" + batch)
                time.sleep(0.001)  # the thread takes the first batches meanwhile

        in_a_thread(fill)
        assert not writer.wait(stall=0.2)  # nobody reads: it gives up
        dropped = writer.dropped
        assert dropped > 0 and told == []  # not told before the reader caught up
        writer.put("refused\n")  # still dropped: the reader has not caught up
        assert writer.dropped == dropped + 1
        out = read_all(fd, lambda out: out.endswith(b"dropped %d\n" % (dropped + 1)))
        writer.put("after\n")  # caught up: written again, after the notice
        out += read_all(fd, lambda out: out.endswith(b"after\n"))
        assert writer.wait(stall=5.0)
    assert failures == [] and told == [dropped + 1]
    lines = out.decode().splitlines()
    assert lines[-2:] == [f"dropped {dropped + 1}", "after"]
    numbers = [int(line.split()[1]) for line in lines if line.startswith("batch ")]
    # the first batches whole and in order, then one gap to the end: the rest were dropped
    assert numbers == list(range(len(numbers))) and 0 < len(numbers) < 60
    assert len(lines) - 2 == 101 * len(numbers)
    assert dropped == 101 * (60 - len(numbers))


def test_a_json_log_tells_of_dropped_lines_in_a_json_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_writer, "BOUND", 20_000)
    with pipe() as (stream, fd):
        log = EventLog(stream, "json")

        def make() -> None:
            for n in range(40):  # no loop runs: each line is handed over at once
                log.event("command", 1.0, f"C: NOOP {n} {'x' * 3000}", session=1)

        in_a_thread(make)  # nobody reads meanwhile
        assert log.dropped > 0

        def accounted(out: bytes) -> int:
            """Lines written or told of as dropped, in the whole lines read so far."""
            whole = out[: out.rfind(b"\n") + 1].decode().splitlines()
            return sum(
                item["lines"] if item["event"] == "dropped" else 1
                for item in map(json.loads, whole)
            )

        # (a loaded machine can leave the log's thread behind before the pipe is full: then a
        # gap is told of at once and a later one when the reader reads; every gap is told)
        out = read_all(fd, lambda out: accounted(out) == 40)
    lines = [json.loads(line) for line in out.decode().splitlines()]
    told = [line for line in lines if line["event"] == "dropped"]
    kept = [int(line["text"].split()[2]) for line in lines if line["event"] == "command"]
    assert told and sum(line["lines"] for line in told) == log.dropped == 40 - len(kept)
    assert kept == sorted(kept)  # in order, each gap where lines are missing
    for line in told:
        n = line["lines"]  # (one gap of a single line is "1 line": seen on a loaded machine)
        plural = "s" * (n != 1)
        assert line["text"] == (
            f"smtpfake: log: {n} line{plural} dropped (the log's reader is not keeping up)"
        )
        assert set(line) == {"time", "ts", "event", "text", "lines"}


def test_a_reader_that_went_away_is_a_failure_given_to_on_failure() -> None:
    failures: list[tuple[OSError, str]] = []
    with pipe() as (stream, fd):

        def failed(exc: OSError) -> None:
            failures.append((exc, threading.current_thread().name))

        log = EventLog(stream, on_failure=failed)
        os.close(fd)
        log.event("connect", 0.0, "one")
        assert log.flush(wait=True)  # nothing waits: the thread tried, and failed
        log.event("connect", 0.0, "two")  # dropped, uncounted: nobody reads any more
        assert log.flush(wait=True) and log.dropped == 0
    ((exc, thread),) = failures
    assert isinstance(exc, BrokenPipeError) and log.failure is exc
    assert thread == "smtpfake-log"


def test_with_no_one_to_tell_a_failure_is_raised_by_the_next_flush() -> None:
    with pipe() as (stream, fd):
        log = EventLog(stream)
        os.close(fd)
        log.event("connect", 0.0, "one")
        with pytest.raises(BrokenPipeError):
            log.flush(wait=True)  # once the log's thread has written, and failed
        assert log.flush(wait=True)  # told once


def test_a_wait_for_a_reader_that_reads_nothing_gives_up_and_the_next_at_once() -> None:
    with pipe() as (stream, fd):
        writer = LogWriter(stream, str, lambda exc: None)
        in_a_thread(lambda: [writer.put(TEXT + "\n") for _ in range(LINES)])
        started = time.monotonic()
        assert not writer.wait(stall=0.2, limit=30.0)
        gave_up = time.monotonic() - started
        started = time.monotonic()
        assert not writer.wait(stall=10.0)  # nothing written since: at once
        assert time.monotonic() - started < gave_up + 5.0  # (10 s of stall would fail)
        assert writer.unwritten > 0
        read_all(fd, lambda out: out.count(b"\n") == LINES)
        assert writer.wait(stall=5.0) and writer.unwritten == 0


def test_an_exit_with_a_full_pipe_nobody_reads_does_not_hang() -> None:
    # more than the pipe holds, then the interpreter's exit: it waits a while, then exits
    script = (
        "import sys\n"
        "from smtpfake.logging_observer import EventLog\n"
        "log = EventLog(sys.stdout)\n"
        f"for i in range({LINES}):\n"
        "    log.event('command', 0.0, f'C: NOOP {i} ' + 'x' * 40, session=1)\n"
        "print('made', file=sys.stderr, flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        status = proc.wait(timeout=30)
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            assert stream is not None
            stream.close()
    assert status == 0 and err == "made\n", err
