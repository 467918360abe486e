"""What a closing connection leaves unfinished, on a real loopback socket (issue 7): the message
text a client's close cut short, a command line without its CRLF (recorded, never answered), an
over-long line without its LF, and a fragment of text when the server ends the message."""

from __future__ import annotations

import socket
from collections.abc import Callable

from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds


def in_data(conn: Raw) -> None:
    conn.reply()
    assert conn.command("EHLO c.test")[-1].startswith(b"250 ")
    assert conn.command("MAIL FROM:<a@b.test>") == [b"250 2.1.0 Ok\r\n"]
    assert conn.command("RCPT TO:<c@d.test>") == [b"250 2.1.5 Ok\r\n"]
    assert conn.command("DATA")[0].startswith(b"354 ")


def test_a_client_closing_mid_message_leaves_its_text_unfinished(
    server: Server, raw: Callable[..., Raw]
) -> None:
    conn = raw()
    in_data(conn)
    conn.send(b"Subject: x\r\n\r\nline one\r\npartial")
    conn.sock.shutdown(socket.SHUT_WR)
    assert conn.rest() == b""  # nothing answered: the message never ended
    conn.close()
    (session,) = ended_sessions(server, 1)
    text, close = session.transcript[-2:]
    assert text.text == "(message data, 31 bytes, unfinished)" and text.side == "client"
    assert close.text == "(client closed the connection)" and text.time <= close.time
    assert server.messages == ()
    assert kinds(session) == ["no-quit"]


def test_a_client_closing_right_after_the_354_leaves_no_message_data(
    server: Server, raw: Callable[..., Raw]
) -> None:
    """Nothing sent after the 354: no text entry (none came), the close says the rest."""
    conn = raw()
    in_data(conn)
    conn.sock.shutdown(socket.SHUT_WR)
    assert conn.rest() == b""
    conn.close()
    (session,) = ended_sessions(server, 1)
    texts = [e.text for e in session.transcript]
    assert texts[-2:] == ["354 End data with <CR><LF>.<CR><LF>", "(client closed the connection)"]
    assert server.messages == ()


def test_the_final_dot_begun_is_not_counted_as_text(
    server: Server, raw: Callable[..., Raw]
) -> None:
    conn = raw()
    in_data(conn)
    conn.send(b"a\r\n.\r")  # the final "." and its CR: the close comes before the LF
    conn.sock.shutdown(socket.SHUT_WR)
    assert conn.rest() == b""
    conn.close()
    (session,) = ended_sessions(server, 1)
    assert session.transcript[-2].text == "(message data, 3 bytes, unfinished)"
    assert server.messages == ()


def test_an_unterminated_command_at_the_close_is_not_answered(
    server: Server, raw: Callable[..., Raw]
) -> None:
    conn = raw()
    conn.reply()
    conn.send(b"QUI")
    conn.sock.shutdown(socket.SHUT_WR)
    assert conn.rest() == b""  # no 500 for "QUI": it was never sent
    conn.close()
    (session,) = ended_sessions(server, 1)
    assert [e.text for e in session.transcript][-2:] == ["QUI", "(client closed the connection)"]
    assert kinds(session) == ["unterminated-line", "no-quit"]


def test_an_over_long_line_cut_by_the_close_is_recorded_and_judged(
    server: Server, raw: Callable[..., Raw]
) -> None:
    conn = raw()
    conn.reply()
    conn.send(b"X" * 300_000)
    conn.sock.shutdown(socket.SHUT_WR)
    assert conn.rest() == b""
    conn.close()
    (session,) = ended_sessions(server, 1)
    line, close = session.transcript[-2:]
    assert line.text == "X" * 512 + "... (over-long line of 300,000 octets, discarded)"
    assert close.text == "(client closed the connection)" and line.time <= close.time
    assert kinds(session) == ["unterminated-line", "line-too-long", "no-quit"]


def test_the_idle_421_mid_message_counts_the_fragment_before_it(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use(scenario(idle_timeout=0.3))
    conn = raw()
    in_data(conn)
    conn.send(b"half a message")
    assert conn.reply()[0].startswith(b"421 4.4.2 ")  # after 0.3 s of silence
    conn.close()
    (session,) = ended_sessions(server, 1)
    texts = [e.text for e in session.transcript]
    assert texts[-4:-1] == [
        "(message data, 14 bytes, unfinished)",
        "421 4.4.2 smtpfake.test Error: timeout exceeded",
        "(connection closed)",
    ]
    assert "half a message" not in texts  # nothing placed after the close
    times = [e.time for e in session.transcript]
    assert times == sorted(times)
