"""A client that stops reading behind a big pipelined group, the kernel's buffers as they come (a
send queue of megabytes on loopback): the idle timer's first end finds that it took nothing and
ends the session (README, the idle_timeout row: the timer runs from when the socket stopped
taking). The client's kernel takes octets for a moment after the socket filled (in flight, or
sent within its window a few milliseconds on), whether it reads or not. The slow-reader check
compared the kernel's queue at the fill with its reading at the timer's end only: it saw them go
and started the timer over, and a client that read nothing was cut at twice idle_timeout (outq2:
fresh20's repro with a reader that stops, 4.1 s under idle_timeout 2, both loops, plain and TLS).
Now the wire looks while the socket is full (protocol.SAMPLE_EVERY), and the timer runs from the
last look that saw some taken."""

from __future__ import annotations

import socket
import threading

import pytest

from smtpfake.server import Server
from smtpfake.wire import protocol

from ..support import scenario
from ..support.waits import ended_sessions, wait_until
from .queues import SMALL

#: a reply of 41,600 octets, and how many of them the client asks for: some 5 MB, more than the
#: kernel's send queue grows to on loopback (about 2.8 MB), so the transport holds the rest
LINES = [f"L{i:02} " + "x" * 400 for i in range(100)]
COUNT = 120


def test_a_client_that_reads_nothing_is_cut_at_the_timer_s_first_end(
    fresh: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what each end of the idle timer found (Wire._reads_slowly, asked in Wire._ring) while the
    # socket was full; the looks between (Wire._sample) ask it too, and are not counted
    ends: list[bool] = []
    in_ring = threading.local()
    real_ring, real_reads_slowly = protocol.Wire._ring, protocol.Wire._reads_slowly

    def ring(wire: protocol.Wire, name: str) -> None:
        in_ring.on = True
        try:
            real_ring(wire, name)
        finally:
            in_ring.on = False

    def reads_slowly(wire: protocol.Wire) -> bool:
        found = real_reads_slowly(wire)
        if getattr(in_ring, "on", False):
            ends.append(found)
        return found

    monkeypatch.setattr(protocol.Wire, "_ring", ring)
    monkeypatch.setattr(protocol.Wire, "_reads_slowly", reads_slowly)
    fresh.use(scenario({"on": "rset", "reply": {"code": 250, "text": LINES}}, idle_timeout=0.3))
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL)
        sock.settimeout(5)
        sock.connect((fresh.host, fresh.port))
        sock.recv(100)
        sock.sendall(b"RSET\r\n" * COUNT + b"QUIT\r\n")

        def closed() -> bool:
            (live,) = fresh.sessions
            return any(e.text.startswith("(connection closed") for e in live.transcript)

        wait_until(closed, 10.0, "the idle timeout's close while the client reads nothing")
    (session,) = ended_sessions(fresh, 1)
    texts = [e.text for e in session.transcript if e.side == "server"]
    # (the QUIT was answered, its 221 never sent: no 421, the close says why)
    assert texts[-2:] == ["221 2.0.0 Bye", "(connection closed: idle timeout)"]
    assert not session.transcript[-2].delivered
    # before: [True, False] (uvloop 3 runs in 3): the timer started over once, for nothing
    assert ends == [False]
