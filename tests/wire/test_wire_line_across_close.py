"""A command line begun before the server's closing reply, its last octets sent after it and its
line ending never (README, The record: "What the server's close finds unfinished"), on a real
loopback socket: recorded once, at its last octet, after the reply, unfinished; no violation."""

from __future__ import annotations

from collections.abc import Callable

from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions


def test_a_line_begun_before_the_idle_421_and_cut_after_it_is_recorded_after_it(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use(scenario(idle_timeout=0.3))
    conn = raw()
    conn.reply()
    assert conn.command("EHLO c.test")[-1].startswith(b"250 ")
    conn.send(b"NO")
    assert conn.reply()[0].startswith(b"421 4.4.2 ")  # the 421 is out before the rest is sent
    conn.send(b"OP")  # in the grace period, no line ending ever
    assert conn.rest() == b""  # never answered: the server half-closed at its 421
    conn.close()
    (session,) = ended_sessions(server, 1)
    tail = [(e.side, e.text, e.delivered) for e in session.transcript[-4:]]
    assert tail == [
        ("server", "421 4.4.2 smtpfake.test Error: timeout exceeded", True),
        ("server", "(connection closed)", True),
        ("client", "NOOP", False),  # one line, at its last octet: after the 421
        ("client", "(client closed the connection)", True),
    ]
    times = [e.time for e in session.transcript]
    assert times == sorted(times)
    assert session.violations == ()  # begun before the 421: the server cut the client off
    assert "C: NOOP   (unfinished: no line ending)" in session.format()
