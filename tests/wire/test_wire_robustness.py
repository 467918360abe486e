"""Clients that misbehave: each gets a correct reply where one is due, its session is recorded,
a concurrent session is untouched, and server.errors stays empty (checked by the fixture)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from smtpfake.journal import SessionRecord
from smtpfake.server import Server

from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds, wait_until


@pytest.fixture
def bystander(server: Server, raw: Callable[[], Raw]) -> Iterator[Raw]:
    """A well-behaved session open across the bad one; it must finish its transaction after."""
    conn = raw()
    assert conn.code() == 220
    assert conn.command("EHLO bystander.test")[-1].startswith(b"250 ")
    assert conn.command("MAIL FROM:<by@x.test>") == [b"250 2.1.0 Ok\r\n"]
    yield conn
    assert conn.command("RCPT TO:<stander@x.test>") == [b"250 2.1.5 Ok\r\n"]
    assert conn.command("DATA")[0].startswith(b"354 ")
    assert conn.command(b"Subject: fine\r\n\r\nstill here\r\n.")[0].startswith(b"250 ")
    assert conn.command("QUIT") == [b"221 2.0.0 Bye\r\n"]
    assert conn.eof()
    mine = [m for m in server.messages if m.mail_from == "by@x.test"]
    assert [m.data for m in mine] == [b"Subject: fine\r\n\r\nstill here\r\n"]
    by = [s for s in server.sessions if s.commands[:1] == ("EHLO bystander.test",)]
    assert len(by) == 1 and by[0].violations == ()


def open_data(conn: Raw) -> None:
    assert conn.code() == 220
    conn.command("EHLO client.test")
    conn.command("MAIL FROM:<a@x.test>")
    conn.command("RCPT TO:<b@x.test>")
    assert conn.command("DATA")[0].startswith(b"354 ")


def bad_session(server: Server) -> SessionRecord:
    """The session that is not the bystander's (waits until it has ended)."""

    def find() -> SessionRecord | None:
        for s in server.sessions:
            if s.commands[:1] != ("EHLO bystander.test",) and s.ended is not None:
                return s
        return None

    found: SessionRecord = wait_until(find, 2.0, "the misbehaving session to end")
    return found


def test_disconnect_mid_data(server: Server, raw: Callable[[], Raw], bystander: Raw) -> None:
    conn = raw()
    open_data(conn)
    conn.send(b"Subject: cut\r\n\r\nhalf a mess")
    conn.close()
    session = bad_session(server)
    assert kinds(session) == ["no-quit"]
    assert server.messages == ()


def test_half_close_mid_data(server: Server, raw: Callable[[], Raw], bystander: Raw) -> None:
    # The client shuts down its side: no message, no reply due, and the server closes too.
    conn = raw()
    open_data(conn)
    conn.send(b"Subject: cut\r\n\r\nline\r\n")
    conn.sock.shutdown(socket.SHUT_WR)
    assert conn.eof()
    bad_session(server)
    assert server.messages == ()


def test_long_command_line(server: Server, raw: Callable[[], Raw], bystander: Raw) -> None:
    conn = raw()
    conn.reply()
    assert conn.command(b"NOOP " + b"x" * 2000) == [b"500 5.5.6 Line too long\r\n"]
    # the rest of the long line was discarded, not parsed as commands
    assert conn.command("NOOP") == [b"250 2.0.0 Ok\r\n"]
    assert conn.command(b"HELO " + b"y" * 600) == [b"500 5.5.6 Line too long\r\n"]
    assert conn.command("QUIT") == [b"221 2.0.0 Bye\r\n"]
    assert conn.eof()
    assert bad_session(server) is not None


def test_long_command_line_in_pieces(server: Server, raw: Callable[[], Raw]) -> None:
    conn = raw()
    conn.reply()
    for _ in range(4):
        conn.send(b"z" * 700)
        time.sleep(0.02)  # let the server see each piece on its own
    assert conn.command("") == [b"500 5.5.6 Line too long\r\n"]
    assert conn.command("NOOP") == [b"250 2.0.0 Ok\r\n"]


def test_bare_lf_lines(server: Server, raw: Callable[[], Raw], bystander: Raw) -> None:
    conn = raw()
    conn.reply()
    conn.send(b"NOOP\n")
    assert conn.reply() == [b"250 2.0.0 Ok\r\n"]
    conn.send(b"\n")
    assert conn.reply() == [b"500 5.5.2 Error: bad syntax\r\n"]
    conn.send(b"HELO client.test\nMAIL FROM:<a@x.test>\nRCPT TO:<b@x.test>\nDATA\n")
    assert [conn.reply()[0][:3] for _ in range(4)] == [b"250", b"250", b"250", b"354"]
    conn.send(b"Subject: lf\n\nbody\n.\n")
    assert conn.reply()[0].startswith(b"250 2.0.0 Ok: queued")
    conn.send(b"QUIT\n")
    assert conn.reply() == [b"221 2.0.0 Bye\r\n"]
    assert conn.eof()
    (message,) = [m for m in server.messages if m.mail_from == "a@x.test"]
    assert message.data == b"Subject: lf\n\nbody\n"


def test_binary_garbage(server: Server, raw: Callable[[], Raw], bystander: Raw) -> None:
    conn = raw()
    conn.reply()
    reply = conn.command(b"\x00\xff\xfe\x80garbage \xc3(")
    assert len(reply) == 1 and reply[0].startswith(b"500 5.5.2 ")
    reply = conn.command(b"\xff\xfe\xfd\xfc")
    assert len(reply) == 1 and reply[0].startswith(b"500 5.5.2 ")
    assert conn.command(b"HELO \xff\xfe")[0].startswith(b"250 ")
    assert conn.command("NOOP") == [b"250 2.0.0 Ok\r\n"]
    conn.command("QUIT")
    assert conn.eof()
    session = bad_session(server)
    assert len(session.commands) == 5


def test_garbage_without_newline_then_close(
    server: Server, raw: Callable[[], Raw], bystander: Raw
) -> None:
    conn = raw()
    conn.reply()
    conn.send(b"\x01\x02\x03 no newline")
    conn.sock.shutdown(socket.SHUT_WR)
    # a last line without its newline was never sent (RFC 5321 §2.3.8): recorded, not answered
    assert conn.rest() == b""
    session = bad_session(server)
    assert session.reply_codes == (220,)
    assert [v.kind for v in session.violations] == ["unterminated-line", "no-quit"]
    assert session.transcript[-2].text == "\x01\x02\x03 no newline"


def test_sends_after_the_421(server: Server, raw: Callable[[], Raw]) -> None:
    server.use("421-mid-session")
    by = raw()
    assert by.code() == 220
    conn = raw()
    conn.reply()
    conn.command("EHLO client.test")
    conn.command("MAIL FROM:<a@x.test>")
    assert conn.command("RCPT TO:<b@x.test>")[0].startswith(b"421 ")
    try:
        for _ in range(3):
            conn.send(b"NOOP\r\nQUIT\r\n")
            time.sleep(0.01)
    except OSError:
        pass  # the server is gone; the kernel may say so
    assert conn.eof()
    # the other session is untouched (its own first RCPT would get the 421 too)
    assert by.command("NOOP") == [b"250 2.0.0 Ok\r\n"]
    by.command("QUIT")
    assert by.eof()
    sessions = ended_sessions(server, 2)
    assert sessions[1].reply_codes == (220, 250, 250, 421)
    assert sessions[0].reply_codes == (220, 250, 221)


def test_pipelined_input_after_quit_is_ignored(server: Server, raw: Callable[[], Raw]) -> None:
    conn = raw()
    conn.reply()
    conn.send(b"QUIT\r\nNOOP\r\nNOOP\r\n")
    assert conn.rest() == b"221 2.0.0 Bye\r\n"
    (session,) = ended_sessions(server, 1)
    assert session.reply_codes == (220, 221)


def test_long_data_lines_kept_exactly(server: Server, raw: Callable[[], Raw]) -> None:
    conn = raw()
    open_data(conn)
    long_line = b"x" * 5000
    stuffed = b"." + b"y" * 3000  # a line that starts with a dot, dot-stuffed by the client
    conn.send(b"Subject: long\r\n\r\n" + long_line + b"\r\n." + stuffed + b"\r\nend\r\n.\r\n")
    assert conn.reply()[0].startswith(b"250 ")
    (message,) = server.messages
    assert message.data == b"Subject: long\r\n\r\n" + long_line + b"\r\n" + stuffed + b"\r\nend\r\n"


def test_long_data_line_split_before_a_dot(server: Server, raw: Callable[[], Raw]) -> None:
    # The server reads the start of an over-long line on its own; the rest of that line is ".":
    # it is the end of a line, not a line, so it must not end the message.
    conn = raw()
    open_data(conn)
    conn.send(b"Subject: split\r\n\r\n" + b"x" * 1500)
    time.sleep(0.05)
    conn.send(b".\r\nmore\r\n.\r\n")
    assert conn.reply()[0].startswith(b"250 ")
    assert conn.command("NOOP") == [b"250 2.0.0 Ok\r\n"]
    (message,) = server.messages
    assert message.data == b"Subject: split\r\n\r\n" + b"x" * 1500 + b".\r\nmore\r\n"


def test_many_concurrent_sessions(server: Server, raw: Callable[[], Raw]) -> None:
    conns = [raw() for _ in range(20)]
    for i, conn in enumerate(conns):
        assert conn.code() == 220
        conn.send(
            f"HELO c{i}.test\r\nMAIL FROM:<s{i}@x.test>\r\nRCPT TO:<r@x.test>\r\nDATA\r\n".encode()
        )
    for conn in conns:
        assert [conn.reply()[0][:3] for _ in range(4)] == [b"250", b"250", b"250", b"354"]
    for i, conn in enumerate(conns):
        conn.send(f"Subject: {i}\r\n\r\nbody\r\n.\r\nQUIT\r\n".encode())
    for conn in conns:
        assert conn.reply()[0][:3] == b"250"
        assert conn.reply()[0][:3] == b"221"
        assert conn.eof()
    assert sorted(m.mail_from for m in server.messages) == sorted(f"s{i}@x.test" for i in range(20))
    # HELO offers no PIPELINING, so sending all four commands at once is the client's mistake
    kinds = [{v.kind for v in s.violations} for s in ended_sessions(server, 20)]
    assert kinds == [{"pipelining-without-extension"}] * 20


def test_a_flooding_client_does_not_starve_others(server: Server, raw: Callable[[], Raw]) -> None:
    flood = raw()
    flood.reply()
    flood.sock.settimeout(0.2)
    with contextlib.suppress(OSError):  # its send buffer fills up: that is the point
        for _ in range(500):
            flood.sock.sendall(b"NOOP\r\n" * 200)
    other = raw()
    start = time.monotonic()
    assert other.code() == 220
    assert other.command("NOOP") == [b"250 2.0.0 Ok\r\n"]
    assert time.monotonic() - start < 0.5
