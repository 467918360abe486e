"""The idle close with a reply or none, by FIN or by reset (``server.idle_close``; the
``silent-idle-drop`` built-in): engine actions, load-time checks, and real clients on a socket."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable

import pytest

from smtpfake.engine.session import IDLE_TIMER
from smtpfake.scenario import ScenarioError, load_text, resolve
from smtpfake.scenario.plan import Close, Reset, Send
from smtpfake.server import Server

from ..support import scenario
from ..support.engine import Engine
from ..support.looped import LOOPS
from ..support.raw import Raw
from ..support.waits import ended_sessions

IDLE_421 = b"421 4.4.2 smtpfake.test Error: timeout exceeded\r\n"


@pytest.mark.parametrize(
    ("style", "actions", "last"),
    [
        ("reply", (Send(IDLE_421), Close()), "(connection closed)"),
        ("reply-reset", (Send(IDLE_421), Reset()), "(connection reset)"),
        ("close", (Close(),), "(connection closed: idle, no reply)"),
        ("reset", (Reset(),), "(connection reset: idle, no reply)"),
    ],
)
def test_each_style_in_the_engine(style: str, actions: tuple[object, ...], last: str) -> None:
    c = Engine(scenario(idle_timeout=5, idle_close=style)).open()
    c.greet()
    assert c.event(c.session.timer_fired(IDLE_TIMER)) == actions
    c.session.disconnected()
    assert c.kinds() == []  # the server hung up: no no-quit
    assert c.record.transcript[-1].text == last
    assert c.record.transcript[-1].rule == "server.idle"


def test_a_silent_drop_mid_message_records_the_unfinished_data() -> None:
    c = Engine(resolve("silent-idle-drop")).open()
    c.greet()
    c.mail(), c.rcpt()
    assert c.cmd("DATA") == 354
    c.send("partial line")
    assert c.event(c.session.timer_fired(IDLE_TIMER)) == (Close(),)
    texts = [e.text for e in c.record.transcript[-2:]]
    assert texts == ["(message data, 14 bytes, unfinished)", "(connection closed: idle, no reply)"]
    assert c.engine.journal.messages() == ()


def test_the_builtin_takes_its_time_and_style_as_parameters() -> None:
    sc = resolve("silent-idle-drop", params={"seconds": "250ms", "how": "reset"})
    assert (sc.server.idle_timeout, sc.server.idle_close) == (0.25, "reset")
    assert resolve("silent-idle-drop").server.idle_close == "close"


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        (
            "idle_close: close",
            "t.yaml:4:15: server.idle_close: set idle_timeout too (the seconds of silence)",
        ),
        (
            "idle_timeout: 1\n  idle_close: fin",
            "t.yaml:5:15: server.idle_close: unknown value 'fin' (allowed: reply, reply-reset, "
            "close, reset)",
        ),
    ],
)
def test_load_time_problems(server: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_text(f"summary: s\nexpect: e\nserver:\n  {server}\n", source="t.yaml")
    assert [str(p) for p in info.value.problems] == [expected]


# -- on the wire -----------------------------------------------------------------------------------


def test_silent_close_gives_eof_without_a_reply(server: Server, raw: Callable[..., Raw]) -> None:
    server.use("silent-idle-drop", params={"seconds": 0.2})
    conn = raw()
    conn.reply_bytes()
    conn.command_bytes("EHLO client.test")
    start = time.monotonic()
    assert conn.rest() == b""  # EOF, not a 421
    assert time.monotonic() - start >= 0.15
    (session,) = ended_sessions(server, 1)
    assert session.transcript[-1].text == "(connection closed: idle, no reply)"
    assert session.violations == ()


def test_silent_reset_gives_econnreset(server: Server, raw: Callable[..., Raw]) -> None:
    server.use("silent-idle-drop", params={"seconds": 0.2, "how": "reset"})
    conn = raw()
    conn.reply_bytes()
    conn.command_bytes("EHLO client.test")
    with pytest.raises(ConnectionResetError):
        conn.sock.recv(1024)
    (session,) = ended_sessions(server, 1)
    assert session.transcript[-1].text == "(connection reset: idle, no reply)"


def test_reply_then_reset(server: Server, raw: Callable[..., Raw]) -> None:
    server.use(scenario(idle_timeout=0.2, idle_close="reply-reset"))
    conn = raw()
    conn.reply_bytes()
    conn.command_bytes("EHLO client.test")
    assert conn.line() == IDLE_421
    with pytest.raises(ConnectionResetError):
        conn.sock.recv(1024)


def test_a_kept_open_smtplib_connection_breaks_on_the_next_message(server: Server) -> None:
    server.use("silent-idle-drop", params={"seconds": 0.2})
    client = smtplib.SMTP(server.host, server.port, timeout=5)
    try:
        assert client.sendmail("a@x.test", ["b@y.test"], b"Subject: 1\r\n\r\n1\r\n") == {}
        ended_sessions(server, 1)  # dropped while idle
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.sendmail("a@x.test", ["b@y.test"], b"Subject: 2\r\n\r\n2\r\n")
    finally:
        client.close()
    assert len(server.messages) == 1


@pytest.mark.parametrize(
    "settings",
    [{}, {"idle_timeout": 5, "idle_close": "close"}, {"idle_timeout": 5, "idle_close": "reset"}],
    ids=["server-own-timeout", "idle-drop-close", "idle-drop-reset"],
)
def test_the_line_after_a_silent_idle_close_is_forgiven(settings: dict[str, object]) -> None:
    """Every silent idle close forgives the client's next line, as the 421 ones do (RFC 5321
    §3.8: it learns of the close only after its next write); the line after it is the
    violation. The server's own timeout (``serve --idle-timeout``) blamed the first (fresh18 N1)."""
    c = Engine(scenario(**settings) if settings else "default").open()
    c.greet()
    c.event(c.session.timer_fired(IDLE_TIMER))
    c.send("NOOP")
    c.send("QUIT")
    assert [(v.kind, v.command) for v in c.violations] == [("sent-after-close", "QUIT")]


@pytest.mark.parametrize("loop", LOOPS)
def test_the_server_s_own_idle_close_forgives_the_next_line_on_the_wire(loop: str) -> None:
    """serve's ``--idle-timeout`` (Server(idle_timeout=)): EOF with no reply, then the client,
    not having read it, sends NOOP and QUIT: the NOOP is forgiven, the QUIT is the violation."""
    with Server("default", loop=loop, idle_timeout=0.3, grace_period=3) as server:
        conn = Raw(server)
        try:
            conn.reply_bytes()
            conn.command_bytes("EHLO client.test")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # the idle close (the grace period runs on)
                (live,) = server.sessions
                if any(e.text.startswith("(connection closed") for e in live.transcript):
                    break
                time.sleep(0.02)
            conn.sock.sendall(b"NOOP\r\nQUIT\r\n")
            assert conn.rest() == b""  # EOF, no reply
        finally:
            conn.close()
        (session,) = ended_sessions(server, 1)
    assert [(v.kind, v.command) for v in session.violations] == [("sent-after-close", "QUIT")]
