"""``smtpfake serve``'s event log (issue 7): lines written in batches, none lost or repeated, in
order per session, within the documented delay while serving; JSON lines; a client's invalid
UTF-8 escaped; ``--quiet``. Real ``smtpfake serve`` processes, their stdout into a file as a CI
log would be, and real clients on loopback."""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: how long a line may take to reach the file here: the log's delay is 0.05 s (README), this
#: leaves a loaded machine room; no test asserts on less
ARRIVES_WITHIN = 5.0
#: the sessions of the burst test
BURST = 200

LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) session (?P<n>\d+) (?P<rest>.*)$"
)


@dataclass
class Serve:
    """A running ``smtpfake serve --port 0``; ``log`` is the file its stdout goes to."""

    proc: subprocess.Popen[bytes]
    log: Path
    port: int

    def text(self) -> str:
        return self.log.read_bytes().decode("utf-8")  # strict: the log is valid UTF-8

    def wait_for(self, needle: str) -> str:
        """The log once it holds ``needle``, waiting at most ARRIVES_WITHIN seconds, while the
        server keeps running (AssertionError otherwise)."""
        deadline = time.monotonic() + ARRIVES_WITHIN
        while True:
            text = self.text()
            if needle in text:
                return text
            assert self.proc.poll() is None, f"serve exited ({self.proc.returncode}):\n{text}"
            assert time.monotonic() < deadline, f"{needle!r} not in the log:\n{text}"
            time.sleep(0.01)

    def stop(self) -> str:
        """SIGINT, then the whole log; serve must exit 0 within 10 s."""
        self.proc.send_signal(signal.SIGINT)
        assert self.proc.wait(timeout=10) == 0, self.text()
        return self.text()


@contextmanager
def serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Serve]:
    log = tmp_path / "stdout.log"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMTPFAKE_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "smtpfake", "serve", "--port", "0", *args],
            stdout=out,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env={**clean, **(env or {})},
        )
    try:
        deadline = time.monotonic() + 30
        # text: "listening on 127.0.0.1:PORT"; JSON: "smtp": {"host": ..., "port": PORT}
        while not (found := re.search(r"(?:127\.0\.0\.1:|\"port\": )(\d+)", log.read_text())):
            assert proc.poll() is None, proc.communicate(timeout=5)[1]
            assert time.monotonic() < deadline, "serve did not start within 30 s"
            time.sleep(0.01)
        yield Serve(proc, log, int(found.group(1)))
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate(timeout=10)
        assert b"Traceback" not in err, err.decode()


def per_session(text: str) -> dict[int, list[str]]:
    """Session number -> its lines without the time, in the order of the log."""
    out: dict[int, list[str]] = {}
    for line in text.splitlines():
        if found := LINE.match(line):
            out.setdefault(int(found["n"]), []).append(found["rest"])
    return out


def send_one(port: int, number: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=10) as smtp:
        refused = smtp.sendmail(
            f"u{number}@x.test", ["b@y.test"], f"Subject: n{number}\r\n\r\nbody\r\n".encode()
        )
        assert refused == {}


def test_a_burst_of_sessions_is_logged_whole_once_and_in_order_per_session(
    tmp_path: Path,
) -> None:
    with serve(tmp_path) as server:
        with ThreadPoolExecutor(4) as pool:  # sessions overlap, so their lines interleave
            list(pool.map(lambda n: send_one(server.port, n), range(BURST)))
        text = server.stop()
    sessions = per_session(text)
    assert sorted(sessions) == list(range(1, BURST + 1))
    senders = []
    for logged in sessions.values():
        # smtplib's commands in its own case, which changed in Python 3.13: compared lower-case
        lines = ["C: " + line[3:].lower() if line.startswith("C: ") else line for line in logged]
        mail = next(line for line in lines if line.startswith("C: mail from:<"))
        sender = mail.removeprefix("C: mail from:<").partition(">")[0]
        senders.append(sender)
        queued = next(line for line in lines if "queued as" in line).rsplit(" ", 1)[1]
        number = sender.removeprefix("u").removesuffix("@x.test")
        size = len(f"Subject: n{number}\r\n\r\nbody\r\n")
        assert lines[0].startswith("connect from 127.0.0.1:")
        # every event of the session, once each, in the order it happened
        assert lines[1:] == [
            "S: 220 smtpfake.test ESMTP smtpfake",
            "C: ehlo client.test",
            "S: 250-smtpfake.test",
            "S: 250-PIPELINING",
            "S: 250-SIZE 33554432",
            "S: 250-8BITMIME",
            "S: 250-ENHANCEDSTATUSCODES",
            "S: 250-SMTPUTF8",
            "S: 250 HELP",
            mail,
            "S: 250 2.1.0 Ok",
            "C: rcpt to:<b@y.test>",
            "S: 250 2.1.5 Ok",
            "C: data",
            "S: 354 End data with <CR><LF>.<CR><LF>",
            f"C* (message data, {size} bytes)",  # the engine's note: C*, not a line
            "C: .",
            f"accepted message {queued} from <{sender}> to b@y.test ({size} bytes)",
            f"S: 250 2.0.0 Ok: queued as {queued}",
            "C: quit",
            "S: 221 2.0.0 Bye",
            "S* (connection closed)",
            lines[-2],  # the client's close: EOF or, racing smtplib's close, a reset
            "closed",
        ], lines
        assert lines[-2] in (
            "C* (client closed the connection)",
            "C* (client reset the connection)",
        )
    assert sorted(senders) == sorted(f"u{n}@x.test" for n in range(BURST))  # none twice
    tail = text.splitlines()[-2:]
    assert tail == [f"smtpfake: {BURST} sessions, {BURST} messages accepted", "smtpfake: stopped"]


def test_a_line_reaches_the_log_while_the_server_runs(tmp_path: Path) -> None:
    with serve(tmp_path) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            assert client.makefile("rb").readline().startswith(b"220 ")
            server.wait_for("session 1 S: 220 ")  # the session is still open, serve runs on
            client.sendall(b"NOOP\r\n")
            server.wait_for("session 1 S: 250 2.0.0 Ok")
        server.wait_for("session 1 closed")
        server.stop()


def test_json_lines_carry_each_events_fields(tmp_path: Path) -> None:
    with serve(tmp_path, "--log-format", "json") as server:
        send_one(server.port, 7)
        text = server.stop()
    events = [json.loads(line) for line in text.splitlines()]
    assert events[0]["event"] == "listening"
    assert events[-1] == {**events[-1], "event": "stopped", "sessions": 1, "messages": 1}
    session = [e for e in events if e.get("session") == 1]
    kinds = [e["event"] for e in session]
    assert kinds[0] == "connect" and kinds[-1] == "close"
    # ehlo, mail, rcpt, data, the message data, ".", QUIT, the client's close
    assert kinds.count("command") == 8 and kinds.count("message") == 1
    for event in session:
        assert event["time"].endswith("Z") and isinstance(event["ts"], float), event
    ehlo_reply = session[3]
    assert ehlo_reply["event"] == "reply" and ehlo_reply["side"] == "server"
    assert ehlo_reply["text"].split("\n")[-1] == "250 HELP"  # one event, its lines inside
    message = next(e for e in session if e["event"] == "message")
    assert message["mail_from"] == "u7@x.test" and message["rcpt_tos"] == ["b@y.test"]
    assert message["subject"] == "n7" and message["size"] == len("Subject: n7\r\n\r\nbody\r\n")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_clients_invalid_utf8_and_control_bytes_are_logged_escaped(
    tmp_path: Path, fmt: str
) -> None:
    with serve(tmp_path, "--log-format", fmt) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            reader = client.makefile("rb")
            reader.readline()
            client.sendall(b"NOOP caf\xc3\xa9 \xff\xfe \x1b[2J\r\n")  # ESC [2J clears a terminal
            assert reader.readline().startswith(b"250 ")
        text = server.stop()  # read as strict UTF-8: the log stays valid
    if fmt == "text":
        # as the fixture's transcript() shows them: the log is valid UTF-8 and never plays an ESC
        assert "session 1 C: NOOP café \\xff\\xfe \\x1b[2J" in text.splitlines()[3], text
        assert "\x1b" not in text
    else:
        events = [strict_json(line) for line in text.splitlines()]
        commands = [e for e in events if e["event"] == "command"]
        # as the HTTP API shows them (serialize.json_text): each octet that was not UTF-8 as
        # \xNN, never a lone surrogate; the ESC is JSON's own \u001b escape, read back as ESC
        assert commands[0]["text"] == "NOOP café \\xff\\xfe \x1b[2J"
        (line,) = [x for x in text.splitlines() if '"event": "command"' in x]
        assert "\\u001b[2J" in line and "\\udc" not in text, text


def strict_json(line: str) -> Any:
    """``line`` decoded as a strict JSON parser would (serde_json, Go's encoding/json): Python's
    json.loads takes an escaped lone surrogate ("\\udcff"), RFC 8259 §8.2 strings may not hold
    one, so every string read back must encode as UTF-8."""
    value = json.loads(line)
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError on a surrogate
    return value


def test_quiet_keeps_only_the_listening_line_errors_and_the_stop(tmp_path: Path) -> None:
    for args, env in ((["--quiet"], None), ([], {"SMTPFAKE_QUIET": "yes"})):
        with serve(tmp_path, *args, env=env) as server:
            send_one(server.port, 1)
            send_one(server.port, 2)
            text = server.stop()
        lines = text.splitlines()
        assert len(lines) == 3 and "listening on" in lines[0], text
        assert lines[1:] == ["smtpfake: 2 sessions, 2 messages accepted", "smtpfake: stopped"]


def test_no_quiet_wins_over_the_environment(tmp_path: Path) -> None:
    with serve(tmp_path, "--no-quiet", env={"SMTPFAKE_QUIET": "1"}) as server:
        send_one(server.port, 1)
        text = server.stop()
    assert len(per_session(text)[1]) == 25


def test_a_quiet_setting_that_is_not_on_or_off_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "smtpfake", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "SMTPFAKE_QUIET": "maybe"},
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        "SMTPFAKE_QUIET='maybe' (the environment's --quiet): "
        "expected 1, true, yes or on; or 0, false, no or off" in done.stderr
    )


def test_a_log_that_cannot_be_written_stops_serve_quietly() -> None:
    # the reader of serve's stdout goes away (a CI step killed, `| head`): serve stops, exit 1
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpfake", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        port = int(re.findall(rb":(\d+),", proc.stdout.readline())[0])
        proc.stdout.close()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.makefile("rb").readline()
        assert proc.wait(timeout=10) == 1
        err = proc.stderr.read().decode()
        assert "Traceback" not in err and "BrokenPipeError" not in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_sigterm_writes_every_line_first_with_the_api_and_a_session_still_open(
    tmp_path: Path,
) -> None:
    with serve(tmp_path, "--api-port", "0") as server:
        api = re.findall(r"control API on (http://\S+)/api/", server.wait_for("control API on"))
        request = urllib.request.Request(f"{api[0]}/api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
        client = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        with client:
            reader = client.makefile("rb")
            reader.readline()
            client.sendall(b"NOOP\r\n")
            assert reader.readline().startswith(b"250 ")
            server.proc.send_signal(signal.SIGTERM)  # at once: the lines may still be waiting
            assert server.proc.wait(timeout=10) == 0
        lines = server.text().splitlines()
    assert lines[-2:] == ["smtpfake: 1 session, 0 messages accepted", "smtpfake: stopped"]
    assert any(line.endswith(" api POST /api/reset -> 200") for line in lines)
    session = per_session("\n".join(lines))[1]
    assert session[1:4] == ["S: 220 smtpfake.test ESMTP smtpfake", "C: NOOP", "S: 250 2.0.0 Ok"]
    assert session[-1] == "closed"  # serve closed it on the way out, and said so


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_reply_the_client_left_is_logged_as_not_delivered(tmp_path: Path, fmt: str) -> None:
    # the greeting goes out 4 octets at a time, 20 ms apart: the client leaves after the first
    greeting = "220 smtpfake.test ESMTP smtpfake"
    with serve(tmp_path, "--scenario", "dripping-greeting", "--log-format", fmt) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            got = client.recv(4)
            assert got == b"220 "
        text = server.wait_for("closed" if fmt == "text" else '"event": "close"')
        server.stop()
    if fmt == "text":
        (line,) = [x for x in per_session(text)[1] if x.startswith("S: 220")]
        found = re.fullmatch(
            rf"S: {greeting}   \[rule 1 \(on connect\)\]   \(not delivered: (\d+) octets written\)",
            line,
        )
        assert found is not None, text
        written = int(found[1])
    else:
        (reply,) = [e for e in map(json.loads, text.splitlines()) if e["event"] == "reply"]
        assert reply["text"] == greeting and reply["delivered"] is False, reply
        written = reply["written"]
    # as the journal records it (the API's "written"): at least what the client read, not all
    assert len(got) <= written < len(greeting) + 2, text


def test_after_the_clock_moves_api_lines_keep_the_servers_clock(tmp_path: Path) -> None:
    """api lines were stamped by the wall clock, session lines by the server's: after
    POST /api/clock {"advance": "1h"} the log went back an hour between neighbours."""
    with serve(tmp_path, "--api-port", "0", "--log-format", "json") as server:
        api = [json.loads(server.wait_for('"listening"').splitlines()[0])["api"]]
        advance = urllib.request.Request(
            f"{api[0]}/api/clock",
            data=b'{"advance": "1h"}',
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(advance, timeout=10) as answer:
            assert answer.status == 200
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            client.makefile("rb").readline()
            client.sendall(b"QUIT\r\n")
            client.makefile("rb").readline()
        reset = urllib.request.Request(f"{api[0]}/api/reset", method="POST")
        with urllib.request.urlopen(reset, timeout=10) as answer:
            assert answer.status == 200
        server.wait_for("/api/reset")
        events = [json.loads(line) for line in server.text().splitlines() if line.startswith("{")]
    timed = [(e["event"], e["ts"]) for e in events if e["event"] != "listening"]
    assert [kind for kind, _ in timed if kind in ("api", "connect")] == ["api", "connect", "api"]
    assert [ts for _, ts in timed] == sorted(ts for _, ts in timed), timed
    reset_ts = [ts for kind, ts in timed if kind == "api"][-1]
    assert time.time() + 3000 < reset_ts, timed  # the reset's line, an hour ahead as well
