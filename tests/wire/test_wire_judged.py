"""The record's judgement on a real loopback socket, on each event loop: an over-long command line
is judged as a command (the next one is not an early talker), lines sent before a reply that
closes are judged as pipelined, and only whole lines hold off the idle timeout."""

from __future__ import annotations

import importlib.util
import socket
import time
from collections.abc import Iterator

import pytest

from smtpfake.server import Server

from ..support import SHARED_GRACE, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds

LOOPS = ["asyncio"] + (["uvloop"] if importlib.util.find_spec("uvloop") is not None else [])


@pytest.fixture(scope="module", params=LOOPS)
def looped(request: pytest.FixtureRequest) -> Iterator[Server]:
    with Server("default", loop=request.param, grace_period=SHARED_GRACE) as server:
        yield server


@pytest.fixture
def fresh(looped: Server) -> Iterator[Server]:
    looped.use("default")
    looped.reset()
    yield looped
    assert looped.errors == []


def test_an_over_long_command_line_does_not_make_the_next_an_early_talker(fresh: Server) -> None:
    with Raw(fresh) as conn:
        assert conn.code() == 220
        time.sleep(0.1)  # the greeting is well out: nothing after it is early
        conn.send(b"EHLO " + b"x" * 1000 + b"\r\nNOOP\r\nQUIT\r\n")
        replies = conn.rest()
    assert replies.startswith(b"500 5.5.6 Line too long\r\n250 2.0.0 Ok\r\n221 ")
    (session,) = ended_sessions(fresh, 1)
    assert kinds(session) == ["line-too-long", "pipelining-without-extension"]
    assert "NOOP was sent before the reply to EHLO" in session.violations[1].detail


@pytest.mark.parametrize(
    ("scen", "data", "expected"),
    [
        pytest.param(
            scenario({"on": "ehlo", "reply": "421 4.3.2 go away"}),
            b"EHLO x\r\nNOOP\r\n",
            ["pipelining-without-extension"],
            id="a rule's 421",
        ),
        pytest.param(
            scenario(bare_lf="disconnect"),
            b"EHLO x\nNOOP\r\n",
            ["bare-lf", "pipelining-without-extension"],
            id="bare_lf disconnect",
        ),
    ],
)
def test_lines_pipelined_behind_a_closing_reply_are_judged(
    fresh: Server, scen: dict[str, object], data: bytes, expected: list[str]
) -> None:
    fresh.use(scen)
    with Raw(fresh) as conn:
        assert conn.code() == 220
        conn.send(data)
        assert conn.code() in (421, 521)
        assert conn.rest() == b""  # the server's close (EOF), no reply to NOOP
        conn.send(b"RSET\r\n")  # after the close was read: sent after it
        conn.sock.shutdown(socket.SHUT_WR)
    (session,) = ended_sessions(fresh, 1)
    assert kinds(session) == [*expected, "sent-after-close"]
    assert [e.text for e in session.transcript][1:3] == [
        data.split(b"\n")[0].decode().strip(),
        "NOOP",
    ]


def test_octets_without_a_line_end_do_not_hold_off_the_idle_timeout(fresh: Server) -> None:
    fresh.use(scenario(idle_timeout=0.5))
    with Raw(fresh, timeout=0.1) as conn:
        assert conn.code() == 220
        got = b""
        for _ in range(40):  # a slowloris: an octet every 0.1 s for up to 4 s, never a LF
            conn.send(b"z")
            try:
                got = conn.sock.recv(100)
            except TimeoutError:
                continue
            break
    assert got.startswith(b"421 4.4.2 smtpfake.test Error: timeout exceeded")
    (session,) = ended_sessions(fresh, 1)
    assert [e.text for e in session.transcript][1].startswith("421 4.4.2 ")


def test_a_line_sent_during_a_delayed_greeting_is_early_talk_though_close_after_ends_it(
    fresh: Server,
) -> None:
    fresh.use(scenario({"on": "connect", "delay": 5}, close_after=0.3))
    with Raw(fresh) as conn:
        conn.send(b"EHLO early.test\r\n")  # no greeting yet: early
        assert conn.code() == 421
        assert conn.rest() == b""
    (session,) = ended_sessions(fresh, 1)
    assert kinds(session) == ["early-talker"]
    assert not session.transcript[1].delivered  # the 220 never reached the wire
