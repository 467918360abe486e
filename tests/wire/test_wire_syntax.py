"""Command syntax on a real socket (smtplib's docmd, raw bytes): 501/555 replies, the session goes
on unchanged, the violation is recorded; session numbers after a scenario switch."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest

from smtpfake.server import Server

from ..support import TIMEOUT
from ..support.raw import Raw
from ..support.waits import ended_sessions

MESSAGE = "Subject: syntax\r\n\r\nbody\r\n"

CASES = [
    # (MAIL/RCPT parameters or command, reply code, enhanced code, violation)
    ("MAIL FROM:<a@x.test> SIZE=abc", 501, b"5.5.4", "bad-syntax"),
    ("MAIL FROM:<a@x.test> BODY=FOO", 501, b"5.5.4", "bad-syntax"),
    ("MAIL FROM:<a@x.test> FOO=BAR", 555, b"5.5.4", "unknown-parameter"),
    ("RCPT TO:<>", 501, b"5.1.3", "bad-syntax"),
    ("RCPT TO:<b@y.test> NOTIFY=NEVER", 555, b"5.5.4", "unknown-parameter"),
    ("RSET arg", 501, b"5.5.4", "bad-syntax"),
    ("QUIT arg", 501, b"5.5.4", "bad-syntax"),
]


@pytest.mark.parametrize(("command", "code", "enhanced", "kind"), CASES)
def test_smtplib_docmd_gets_the_syntax_reply(
    server: Server, command: str, code: int, enhanced: bytes, kind: str
) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.ehlo("client.test")
        if command.startswith("RCPT"):
            assert client.mail("a@x.test")[0] == 250
        got, text = client.docmd(command)
        assert (got, text.split(b" ")[0]) == (code, enhanced)
        # the session goes on as before: a whole message still gets through
        client.rset()
        client.sendmail("a@x.test", ["b@y.test"], MESSAGE)
    (session,) = ended_sessions(server, 1)
    assert [v.kind for v in session.violations] == [kind]
    assert len(server.messages) == 1


def test_a_nul_byte_on_a_raw_socket(server: Server, raw: Callable[[], Raw]) -> None:
    conn = raw()
    assert conn.code() == 220
    assert conn.command_code("EHLO client.test") == 250
    assert conn.command(b"MAIL FROM:<a@x.test>\x00") == [
        b"501 5.5.2 Syntax error: NUL in command\r\n"
    ]
    assert conn.command_code("MAIL FROM:<a@x.test>") == 250  # the refused one opened nothing
    assert conn.command_code("QUIT") == 221
    (session,) = ended_sessions(server, 1)
    assert [v.kind for v in session.violations] == ["bad-syntax"]
    assert "NUL" in session.violations[0].detail


def test_quit_with_an_argument_does_not_close(server: Server, raw: Callable[[], Raw]) -> None:
    conn = raw()
    conn.reply()
    assert conn.command("QUIT now") == [b"501 5.5.4 Syntax: QUIT\r\n"]
    assert conn.command_code("NOOP") == 250
    assert conn.command_code("QUIT") == 221
    assert conn.eof()


def test_numbers_stay_unique_across_a_switch(server: Server) -> None:
    """The user's trial: send, use("default"), send. The journal keeps both sessions, so their
    numbers and queue ids must differ; rule counters still restart (test_wire_isolation)."""

    def send() -> None:
        with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
            client.sendmail("a@x.test", ["b@y.test"], MESSAGE)

    send()
    server.use("default")
    send()
    assert [s.index for s in ended_sessions(server, 2)] == [1, 2]
    assert [(m.session, m.queue_id) for m in server.messages] == [
        (1, "SF000001"),
        (2, "SF000002"),
    ]
    server.reset()  # only a reset starts the numbers again
    send()
    assert [(m.session, m.queue_id) for m in server.messages] == [(1, "SF000001")]


def test_a_space_after_the_colon_is_accepted_and_recorded(server: Server) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.ehlo("c.test")
        assert client.docmd("MAIL FROM: <a@x.test>") == (250, b"2.1.0 Ok")
        assert client.docmd("RCPT TO:<b@y.test>") == (250, b"2.1.5 Ok")
        client.data(MESSAGE)
    (session,) = ended_sessions(server, 1)
    assert [v.kind for v in session.violations] == ["path-syntax"]
    assert [m.mail_from for m in server.messages] == ["a@x.test"]
