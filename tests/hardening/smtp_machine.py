"""The harness that found issue 9's failures, kept: a hypothesis state machine over SMTP command
sequences against a real server on loopback, and a garbage-stream check.

It drives :class:`smtpfake.server.Server` only through a socket (and reads the journal through its
public API), so it holds whatever the engine and wire look like inside. ``test_harness.py`` runs
it at a small budget in ``pytest``; ``bench/hardening.py`` runs it long and prints the figures.

Invariants, checked on every reply:

- every reply line is well-formed (RFC 5321 §4.2): ``[2-5][0-5][0-9]`` then SP or "-" and text
  of printable ASCII, at most 512 octets with its CRLF (§4.5.3.1.5); one code per reply;
- a 503 changes no state: the model moves only on positive replies, and every later reply must
  agree with it (RCPT 250 only inside a transaction, DATA 354 only with a recipient, ...);
- a 421 is followed by a close (§3.8);
- every message acknowledged with 250 after its data is in the journal exactly once, and no
  other message is;
- the server reports no error of its own (``Server.errors``).
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections import Counter
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from smtpfake.server import Server

TIMEOUT = 10.0  # any one read; generous, as the machine may be loaded
#: RFC 5321 §4.2 reply line: code (first digit 2-5, second 0-5), SP or "-", textstring, CRLF
REPLY_LINE_RE = re.compile(rb"[2-5][0-5][0-9]([ -][\t\x20-\x7e]*)?\r\n")
MAX_LINE = 512

#: the scenario the machine plays against: the default server, plus a 421 on request and a
#: 550 for one recipient, so closes and refusals are part of every run
SCENARIO: dict[str, Any] = {
    "summary": "hardening harness",
    "expect": "whatever the invariants say",
    "rules": [
        {"on": "noop", "match": "bye", "reply": "421 4.3.2 closing on request"},
        {"on": "rcpt", "match": "nobody@*", "reply": "550 5.1.1 no such user"},
    ],
}


def check_reply_lines(lines: list[bytes]) -> int:
    """The code of one complete reply, after checking every line's form (AssertionError)."""
    assert lines, "no reply"
    for i, line in enumerate(lines):
        assert len(line) <= MAX_LINE, f"reply line of {len(line)} octets: {line[:80]!r}..."
        assert REPLY_LINE_RE.fullmatch(line), f"malformed reply line: {line!r}"
        assert line[:3] == lines[0][:3], f"code changed inside a reply: {lines!r}"
        last = i == len(lines) - 1
        assert (line[3:4] != b"-") == last, f"continuation marks wrong: {lines!r}"
    return int(lines[0][:3])


class Client:
    """One raw connection: exact bytes out, replies read line by line with a timeout."""

    def __init__(self, server: Server) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _line(self) -> bytes:
        for _ in range(1000):
            end = self.buffer.find(b"\n")
            if end >= 0:
                line, self.buffer = self.buffer[: end + 1], self.buffer[end + 1 :]
                return line
            assert len(self.buffer) <= 4 * MAX_LINE, f"no line end in {self.buffer[:80]!r}..."
            try:
                piece = self.sock.recv(65536)
            except ConnectionResetError:
                piece = b""
            if not piece:
                line, self.buffer = self.buffer, b""
                return line
            self.buffer += piece
        raise AssertionError("reply not complete after 1,000 reads")

    def reply(self) -> int:
        lines: list[bytes] = []
        for _ in range(200):
            line = self._line()
            assert line, f"the server closed inside or before a reply (after {lines!r})"
            lines.append(line)
            if line[3:4] != b"-":
                return check_reply_lines(lines)
        raise AssertionError(f"reply of more than 200 lines: {lines[:3]!r}")

    def command(self, text: bytes) -> int:
        self.send(text + b"\r\n")
        return self.reply()

    def closed(self) -> bool:
        """Whether the server closes the connection (EOF or reset) with nothing more sent."""
        try:
            rest = self.buffer + self.sock.recv(65536)
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
        assert rest == b"", f"data after a 421: {rest!r}"
        return True

    def close(self) -> None:
        self.sock.close()


_ADDRESSES = st.sampled_from(
    [b"a@x.test", b"b@y.test", b"nobody@x.test", b"", b"postmaster", b"<bad", b"\xc3\xa9@x.test"]
)
_WORDS = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
#: commands the model follows itself; a garbage line that happens to be one is left out
_MODELLED = (b"DATA", b"MAIL", b"RCPT", b"QUIT", b"RSET", b"EHLO", b"HELO", b"BDAT", b"NOOP")
_GARBAGE_LINES = _WORDS.filter(lambda w: not w.lstrip().upper().startswith(_MODELLED))


class SmtpMachine(RuleBasedStateMachine):
    """Command sequences over one connection at a time (a 421 or QUIT starts another)."""

    server: Server  # set by the runner (one server for all examples: see test_harness.py)

    def __init__(self) -> None:
        super().__init__()
        self.server.reset()
        self.client: Client | None = None
        self.connections = 0
        self.acked: Counter[bytes] = Counter()  # message tokens acknowledged with 250
        self.serial = 0
        self._fresh()

    # -- the model: moves on positive replies only ---------------------------------------------

    def _fresh(self) -> None:
        self.in_mail = False
        self.recipients = 0

    @initialize()
    def connect(self) -> None:
        self._connect()

    def _connect(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = Client(self.server)
        self.connections += 1
        self._fresh()
        assert self.client.reply() == 220

    def _send(self, text: bytes) -> int:
        assert self.client is not None
        code = self.client.command(text)
        if code == 421:
            assert self.client.closed(), "a 421 was not followed by a close (RFC 5321 §3.8)"
            self._connect()
        return code

    @rule(greeting=st.sampled_from([b"EHLO", b"HELO", b"ehlo"]), name=_WORDS)
    def hello(self, greeting: bytes, name: bytes) -> None:
        code = self._send(greeting + b" " + (name or b"client.test"))
        if code == 250:
            self._fresh()  # §4.1.4: a HELO/EHLO resets like RSET

    @rule(address=_ADDRESSES)
    def mail(self, address: bytes) -> None:
        was_in_mail = self.in_mail
        code = self._send(b"MAIL FROM:<" + address + b">")
        if code == 250:
            assert not was_in_mail, "MAIL accepted inside an open transaction (§4.1.4)"
            self.in_mail = True
        elif code == 503:
            assert self.in_mail == was_in_mail

    @rule(address=_ADDRESSES)
    def rcpt(self, address: bytes) -> None:
        code = self._send(b"RCPT TO:<" + address + b">")
        if code == 250:
            assert self.in_mail, "RCPT accepted with no MAIL (§3.3)"
            self.recipients += 1

    @rule(body=st.lists(_WORDS, max_size=5))
    def data(self, body: list[bytes]) -> None:
        code = self._send(b"DATA")
        if code != 354:
            assert code != 250
            return
        assert self.in_mail and self.recipients, "DATA got 354 with no recipient (§3.3)"
        self.serial += 1
        token = b"X-Harness: %d" % self.serial
        lines = [token, b"Subject: harness", b"", *(b"." + w if w[:1] == b"." else w for w in body)]
        assert self.client is not None
        self.client.send(b"\r\n".join(lines) + b"\r\n.\r\n")
        code = self.client.reply()
        if code == 250:
            self.acked[token] += 1
        if code == 421:
            assert self.client.closed()
            self._connect()
            return
        self._fresh()

    @rule(body=st.lists(_WORDS, max_size=3))
    def transaction(self, body: list[bytes]) -> None:
        """A whole transaction, so acknowledged messages are common in every run."""
        self.mail(b"a@x.test")
        self.rcpt(b"b@y.test")
        self.data(body)

    @rule(command=st.sampled_from([b"RSET", b"NOOP", b"VRFY a", b"HELP", b"EXPN x", b"NOOP bye"]))
    def other(self, command: bytes) -> None:
        code = self._send(command)
        if command == b"RSET" and code == 250:
            self._fresh()

    @rule(line=_GARBAGE_LINES)
    def garbage(self, line: bytes) -> None:
        in_mail, recipients = self.in_mail, self.recipients
        code = self._send(line)
        assert code != 354, "only DATA starts a message"
        if code != 421:
            assert (self.in_mail, self.recipients) == (in_mail, recipients)

    @precondition(lambda self: self.client is not None)
    @rule()
    def quit(self) -> None:
        assert self.client is not None
        assert self.client.command(b"QUIT") == 221
        assert self.client.closed()
        self._connect()

    @invariant()
    def no_server_error(self) -> None:
        assert not self.server.errors, self.server.errors[0]

    def teardown(self) -> None:
        if self.client is not None:
            # a broken connection is judged by the checks below; a bad reply to QUIT fails here
            with contextlib.suppress(OSError):
                assert self.client.command(b"QUIT") == 221
            self.client.close()
        journal = self.server.journal
        assert journal.wait_for_sessions(self.connections, timeout=TIMEOUT), "sessions not ended"
        recorded: Counter[bytes] = Counter()
        for message in journal.messages():
            first = message.data.split(b"\r\n", 1)[0]
            recorded[first] += 1
        assert recorded == self.acked, (recorded, self.acked)
        assert not self.server.errors, self.server.errors[0]


def garbage_stream(server: Server, data: bytes) -> int:
    """Send ``data`` on a fresh connection, half-close, read everything back; check every reply
    line and that the session is recorded. Returns the number of reply lines."""
    before = server.journal.counts().sessions_started
    sock = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
    try:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close first (a 421, a reset): what it sent is still judged
        out = b""
        for _ in range(10_000):
            try:
                piece = sock.recv(65536)
            except ConnectionResetError:
                break
            if not piece:
                break
            out += piece
    finally:
        sock.close()
    lines = out.split(b"\r\n")
    assert lines[-1] == b"", f"output does not end with CRLF: {out[-80:]!r}"
    replies = [line + b"\r\n" for line in lines[:-1]]
    for line in replies:
        assert len(line) <= MAX_LINE and REPLY_LINE_RE.fullmatch(line), f"malformed: {line!r}"
    assert replies and replies[0].startswith(b"220"), f"no greeting: {out[:80]!r}"
    for i, line in enumerate(replies):
        if line.startswith(b"421 "):  # the last line of a 421: the server closes after it
            assert i == len(replies) - 1, f"replies after a 421: {replies[i + 1 : i + 3]!r}"
    assert server.journal.wait(lambda j: j.counts().sessions_ended > before, timeout=TIMEOUT), (
        "the session was not recorded as ended"
    )
    assert not server.errors, server.errors[0]
    return len(replies)


#: what garbage is made of: random bytes, and pieces of SMTP to get past the first checks
GARBAGE = st.lists(
    st.one_of(
        st.binary(max_size=200),
        st.sampled_from(
            [b"\r\n", b"\n", b"\r", b"EHLO x\r\n", b"MAIL FROM:<a@x.test>\r\n", b"DATA\r\n"]
        ),
        st.sampled_from(
            [b"RCPT TO:<b@x.test>\r\n", b".\r\n", b"\x00", b"\xff" * 600, b"NOOP bye\r\n"]
        ),
    ),
    max_size=30,
).map(b"".join)
