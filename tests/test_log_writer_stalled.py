"""A log whose reader stalled (new-user pass F3): what the pipe holds is whole lines, and the
count of lines not written (told on stderr at serve's stop) is exactly those not in the pipe."""

from __future__ import annotations

import fcntl
import os
import termios
import time

from smtpfake.log_writer import LogWriter

from .test_log_writer import pipe

LINE = "y" * 99 + "\n"  # 100 octets: the pipe's content is whole lines iff a multiple of 100
LINES = 3_000  # 300 kB: more than a Linux pipe holds (64 KiB)


def _in_pipe(fd: int) -> int:
    return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), "little")


def test_a_stalled_reader_holds_whole_lines_and_the_rest_is_counted_exactly() -> None:
    with pipe() as (stream, read):
        writer = LogWriter(stream, lambda n: f"{n} dropped\n", lambda exc: None)
        writer.put(LINE * LINES)  # one batch, bigger than the pipe
        deadline = time.monotonic() + 30
        held = -1
        while True:  # until the thread stopped moving: the pipe is full
            assert time.monotonic() < deadline, "the log's thread never filled the pipe"
            time.sleep(0.2)
            now = _in_pipe(read)
            if now == held and now:
                break
            held = now
        assert held % len(LINE) == 0, f"the pipe ends mid-line: {held} octets"
        assert writer.unwritten == LINES - held // len(LINE)
        # the reader catches up: every line, once
        got = b""
        os.set_blocking(read, False)
        while len(got) < LINES * len(LINE):
            assert time.monotonic() < deadline + 30
            try:
                got += os.read(read, 1 << 16)
            except BlockingIOError:
                time.sleep(0.01)
        assert got == (LINE * LINES).encode()
        assert writer.wait(stall=5, limit=10)
        assert writer.unwritten == 0
