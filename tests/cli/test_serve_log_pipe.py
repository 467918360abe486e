"""``smtpfake serve``'s log to a pipe that is read late, or never (issue 7): the server keeps
answering, a reader that reads late gets every line in order, lines past the log's bound are
dropped, counted and said to be, and a stop never hangs on a full pipe. Real ``smtpfake serve``
processes with stdout a pipe, and real clients on loopback; every wait bounded."""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from smtpfake.log_writer import BOUND

#: a NOOP's argument: each NOOP makes some 580 octets of log (its line and the reply's)
PAD = "x" * 480
#: NOOPs whose log is well past the pipe's 64 KiB, and well within the log's bound
WITHIN = 1_000
#: NOOPs whose log is past the pipe's 64 KiB and the log's bound
PAST = BOUND // 580 + 2_000
DROPPED = re.compile(
    r"^smtpfake: log: (\d+) lines? dropped \(the log's reader is not keeping up\)$", re.M
)
NOOP_LINE = re.compile(r"^\S+ session 1 C: NOOP (\d+) x+$", re.M)


@dataclass
class Piped:
    """A running ``smtpfake serve --port 0`` whose stdout is a pipe nobody reads (yet)."""

    proc: subprocess.Popen[bytes]
    port: int
    out: bytearray = field(default_factory=bytearray)  # what read() has read so far
    _reader: threading.Thread | None = None

    def read(self) -> None:
        """Start reading stdout (in a thread, to its end)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()

        def drain() -> None:
            while chunk := os.read(fd, 1 << 16):
                self.out += chunk

        self._reader = threading.Thread(target=drain, daemon=True)
        self._reader.start()

    def wait_for(self, pattern: re.Pattern[str], within: float = 30.0) -> re.Match[str]:
        deadline = time.monotonic() + within
        while not (found := pattern.search(self.out.decode("utf-8", "replace"))):
            assert self.proc.poll() is None, f"serve exited ({self.proc.returncode})"
            assert time.monotonic() < deadline, f"{pattern.pattern!r} not on stdout"
            time.sleep(0.02)
        return found

    def stop(self, sig: int = signal.SIGTERM, within: float = 15.0) -> int:
        """Send ``sig``; serve's exit status, within ``within`` seconds (else the test fails);
        then what it wrote to stdout, once read() is reading, is all in :attr:`out`."""
        self.proc.send_signal(sig)
        status = self.proc.wait(timeout=within)
        if self._reader is not None:
            self._reader.join(10)
            assert not self._reader.is_alive()
        return status


@contextmanager
def serve_piped(*args: str, stderr: int = subprocess.PIPE) -> Iterator[Piped]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMTPFAKE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpfake", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        env=clean,
    )
    try:
        assert proc.stdout is not None
        # the listening lines, read on their own (nothing else is on stdout yet)
        first = b""
        deadline = time.monotonic() + 30
        while not (first.endswith(b"\n") and (b"API" in first or "--api-port" not in args)):
            assert time.monotonic() < deadline and proc.poll() is None, first
            first += os.read(proc.stdout.fileno(), 1 << 16)
        found = re.search(r"127\.0\.0\.1:(\d+)", first.decode())
        assert found is not None, first
        yield Piped(proc, int(found.group(1)), bytearray(first))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def flood(port: int, count: int) -> None:
    """One session: EHLO, ``count`` NOOPs numbered 0 .. count-1 sent 200 at a time (each lot's
    replies read before the next is sent), QUIT. Each reply within 10 s: a server held up by its
    log fails here."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        replies = client.makefile("rb")
        assert replies.readline().startswith(b"220 ")
        client.sendall(b"EHLO client.test\r\n")
        while not replies.readline().startswith(b"250 "):
            pass
        for start in range(0, count, 200):
            lot = range(start, min(start + 200, count))
            client.sendall(b"".join(f"NOOP {n:06d} {PAD}\r\n".encode() for n in lot))
            for _ in lot:
                assert replies.readline().startswith(b"250 ")
        client.sendall(b"QUIT\r\n")
        assert replies.readline().startswith(b"221 ")


def answered(port: int) -> None:
    """A new session is greeted and its NOOP answered, within 10 s each."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=10) as smtp:
        assert smtp.noop()[0] == 250


def noops_logged(text: str) -> list[int]:
    return [int(n) for n in NOOP_LINE.findall(text)]


def test_a_reader_that_reads_late_gets_every_line_in_order() -> None:
    with serve_piped() as server:
        flood(server.port, WITHIN)  # some 580 KB of log: the pipe holds 64 KiB
        answered(server.port)
        server.read()
        server.wait_for(re.compile(r"^\S+ session 2 closed$", re.M))
        assert server.stop() == 0
        assert server.proc.stderr is not None
        err = server.proc.stderr.read().decode()
    text = server.out.decode()  # strict: whole lines of UTF-8
    assert noops_logged(text) == list(range(WITHIN))
    assert DROPPED.search(text) is None and "dropped" not in err, err
    assert text.endswith("smtpfake: 2 sessions, 0 messages accepted\nsmtpfake: stopped\n")


def test_past_the_bound_lines_are_dropped_counted_and_said_once_the_reader_catches_up() -> None:
    with serve_piped("--api-port", "0") as server:
        flood(server.port, PAST)  # past the pipe and the log's bound: the server keeps on
        answered(server.port)
        server.read()
        told = server.wait_for(DROPPED)  # once what was kept is written
        (api,) = re.findall(r"control API on (http://\S+)/api/", server.out.decode())
        with urllib.request.urlopen(f"{api}/api/health", timeout=10) as answer:
            health = json.load(answer)
        assert health["log_dropped"] == int(told.group(1))  # where a user looks, too
        answered(server.port)  # logged whole after the notice: the reader keeps up again
        server.wait_for(re.compile(r"^\S+ session 3 closed$", re.M))
        assert server.stop() == 0
        assert server.proc.stderr is not None
        err = server.proc.stderr.read().decode()
    text = server.out.decode()
    assert len(DROPPED.findall(text)) == 1
    dropped = int(told.group(1))
    # what was kept is whole lines, in order: whole batches went missing
    logged = noops_logged(text)
    assert logged == sorted(logged) and len(set(logged)) == len(logged)
    replies = text.count(" session 1 S: 250 2.0.0 Ok\n")
    missing = 2 * PAST - len(logged) - replies  # NOOP lines and their replies not logged
    assert missing > 0
    # the rest of the dropped lines: session 1's end, session 2's (made while the pipe was full)
    assert missing <= dropped <= missing + 30
    after = text[told.end() :]
    assert re.search(r"session 3 C: noop\n.*session 3 S: 250 2\.0\.0 Ok\n", after)
    assert after.endswith("smtpfake: 3 sessions, 0 messages accepted\nsmtpfake: stopped\n")
    # and at exit, on stderr: the same count (all that was kept reached the pipe)
    assert DROPPED.findall(err) == [str(dropped)], err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("stderr", ["apart", "2>&1"])
def test_a_stop_does_not_hang_on_a_pipe_nobody_reads(sig: int, stderr: str) -> None:
    to = subprocess.STDOUT if stderr == "2>&1" else subprocess.PIPE
    with serve_piped(stderr=to) as server:
        flood(server.port, WITHIN)
        answered(server.port)
        # within a few seconds (the log waits at most a second for a reader that reads nothing)
        assert server.stop(sig) == 0
        if stderr == "apart":
            assert server.proc.stderr is not None
            err = server.proc.stderr.read().decode()
            lost = [int(n) for n in DROPPED.findall(err)]
            assert len(lost) == 1 and lost[0] > 0, err
            assert "Traceback" not in err and "Fatal" not in err, err
        server.read()  # what the pipe holds: whole lines, as far as they go
        assert server._reader is not None
        server._reader.join(10)
    text = server.out.decode("utf-8", "replace")
    assert noops_logged(text)[:50] == list(range(50))
    assert "Traceback" not in text and "Fatal" not in text
