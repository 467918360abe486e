"""The server going away with sessions open (stop(), serve's signals, reset()): each session gets
"421 4.3.2" (RFC 5321 §3.8, §4.2.2; RFC 3463 X.3.2) and the close, recorded as the server's doing,
never as the client's close and a missing QUIT."""

from __future__ import annotations

import smtplib
import threading
import time

from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw
from ..support.waits import wait_until

SHUTDOWN_421 = b"421 4.3.2 smtpfake.test Service not available, closing transmission channel\r\n"


def texts(server: Server, index: int = 0) -> list[str]:
    return [e.text for e in server.sessions[index].transcript]


def test_stop_says_421_then_eof_and_the_record_says_the_server_closed() -> None:
    server = Server("default").start()
    with Raw(server) as conn:
        assert conn.code() == 220
        assert conn.command("EHLO x")[-1].startswith(b"250 ")
        server.stop()
        assert conn.line() == SHUTDOWN_421
        assert conn.sock.recv(100) == b""  # a clean EOF: a reset would raise here
    (session,) = server.sessions
    closed = "(connection closed: server stopping)"
    assert texts(server)[-2:] == [SHUTDOWN_421.decode().strip(), closed]
    assert session.transcript[-1].rule == "server.stop"
    assert [v.kind for v in session.violations] == []
    assert "(client closed the connection)" not in texts(server)
    assert session.ended is not None
    assert "server stopping" in session.format()


def test_smtplib_sees_the_421_at_its_next_command_and_that_command_is_recorded() -> None:
    server = Server("default", grace_period=5.0).start()
    client = smtplib.SMTP(server.host, server.port, timeout=5)
    client.ehlo("client.test")
    wait_until(lambda: len(texts(server)) >= 3, 2.0, "the EHLO reply")
    try:
        server.stop()  # the client never closes: the stop's grace period, not 5 s, bounds it
        code, text = client.noop()
        assert (code, text) == (421, SHUTDOWN_421[4:-2])
    finally:
        client.close()
    (session,) = server.sessions
    assert [v.kind for v in session.violations] == []


def test_stop_mid_data_says_421_and_records_the_unfinished_message() -> None:
    server = Server("default").start()
    with Raw(server) as conn:
        conn.reply()
        conn.command("HELO a.test")
        conn.command("MAIL FROM:<a@x.test>")
        conn.command("RCPT TO:<b@x.test>")
        conn.command("DATA")
        conn.send(b"Subject: half\r\n")
        server.stop()
        assert conn.rest() == SHUTDOWN_421
    assert any(t.startswith("(message data, ") for t in texts(server))
    assert server.messages == ()
    assert [v.kind for v in server.sessions[0].violations] == []


def test_a_reply_partly_written_gets_no_421_after_it() -> None:
    # the 250 leaves one byte a second: a 421 after its first bytes would land mid-line
    server = Server("default").start()
    server.use(scenario({"on": "noop", "drip": 1}))
    with Raw(server) as conn:
        conn.reply()
        conn.send(b"NOOP\r\n")
        assert conn.sock.recv(1) == b"2"
        server.stop()
        assert b"421" not in conn.rest()
    (session,) = server.sessions
    undelivered = [e for e in session.transcript if not e.delivered]
    assert len(undelivered) == 1 and undelivered[0].written is not None
    assert undelivered[0].written >= 1
    assert texts(server)[-1] == "(connection closed: server stopping)"
    assert [v.kind for v in session.violations] == []


def test_reset_says_421_and_closes_at_once() -> None:
    server = Server("default").start()
    try:
        with Raw(server) as conn:
            conn.reply()
            conn.command("EHLO x")
            server.reset()
            assert conn.line() == SHUTDOWN_421
            assert conn.sock.recv(100) == b""  # a clean EOF: a reset would raise here
    finally:
        server.stop()
    assert server.errors == []


def test_use_leaves_an_open_session_on_the_scenario_it_started_with() -> None:
    # documented: a client never sees EHLO keywords or rules change under it mid-session
    server = Server("default").start()
    try:
        with Raw(server) as old:
            old.reply()
            old.command("EHLO x")
            server.use(scenario({"on": "noop", "reply": "550 5.0.0 no"}))
            assert old.command_code("NOOP") == 250
            with Raw(server) as new:
                new.reply()
                assert new.command_code("NOOP") == 550
    finally:
        server.stop()
    assert server.errors == []


def test_the_stop_grace_period_is_a_server_setting() -> None:
    # the client answers the stop's 421 after 0.5 s: past the default stop grace period (0.25 s),
    # within this server's 2 s, so the server still reads it and the record has it
    server = Server("default", stop_grace_period=2.0).start()
    stopping = threading.Thread(target=server.stop)
    with Raw(server) as conn:
        assert conn.code() == 220
        stopping.start()
        assert conn.line() == SHUTDOWN_421
        time.sleep(0.5)
        conn.send(b"QUIT\r\n")
        assert conn.sock.recv(100) == b""  # EOF: the half-close, then the close at our close
    stopping.join(timeout=10)
    assert not stopping.is_alive()
    (session,) = server.sessions
    assert session.commands == ("QUIT",)
    # the one command after an unsolicited 421 is forgiven (RFC 5321 §3.8)
    assert [v.kind for v in session.violations] == []
    assert texts(server)[-1] == "(client closed the connection)"


def test_a_stop_grace_period_of_0_closes_at_once() -> None:
    server = Server("default", grace_period=5.0, stop_grace_period=0).start()
    with Raw(server) as conn:
        assert conn.code() == 220
        server.stop()
        assert conn.rest() == SHUTDOWN_421  # then the close, before stop() returned
    assert texts(server)[-2:] == [
        SHUTDOWN_421.decode().strip(),
        "(connection closed: server stopping)",
    ]
