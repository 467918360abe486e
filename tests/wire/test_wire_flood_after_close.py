"""A pipelined flood after the server's close (fresh16 F4), on a real loopback socket and each
event loop: the lines read in the grace period are counted past the first few, exactly, so
the reads take the loop for a moment, not seconds: the client's close is seen and recorded
within the grace period, and another session is answered meanwhile."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from smtpfake.engine.session import TEXT_SHOWN
from smtpfake.server import Server

from ..support.raw import Raw
from ..support.waits import ended_sessions
from .conftest import LOOPS

FLOOD = 400_000  # RSETs: 2.4 MB in one write, fresh16's repro
GRACE = 30.0  # ample: the flood's session must end at its client's close, not at this


@pytest.fixture(params=LOOPS)
def patient(request: pytest.FixtureRequest) -> Iterator[Server]:
    with Server("default", loop=request.param, grace_period=GRACE) as server:
        yield server


def test_a_flood_after_quit_is_counted_and_the_clients_close_recorded(patient: Server) -> None:
    flood = Raw(patient)
    assert flood.code() == 220
    assert flood.command("QUIT")[-1].startswith(b"221 ")
    assert flood.eof()  # the server half-closed: its grace period runs
    other = Raw(patient)
    assert other.code() == 220
    with contextlib.suppress(OSError):  # (without the fix: the grace end cut slow reads off)
        flood.send(b"RSET\r\n" * FLOOD)
    # a session on the same loop is answered while the flood's is still open (fresh16: 5 s
    # stalls, then its own idle timer fired late)
    assert other.command("NOOP")[-1].startswith(b"250 ")
    assert next(s.ended for s in patient.sessions) is None
    flood.sock.shutdown(socket.SHUT_WR)
    assert other.command("QUIT")[-1].startswith(b"221 ")
    other.close()
    first, _ = ended_sessions(patient, 2, timeout=GRACE + 10)
    flood.close()
    texts = [e.text for e in first.transcript]
    after = texts[texts.index("(connection closed)") + 1 :]
    # every line read is recorded or in the count (2.4 MB were sent: all of them are read)
    lines = FLOOD - TEXT_SHOWN
    assert after == ["RSET"] * TEXT_SHOWN + [
        f"(after the close: {lines:,} more lines, {lines * 6:,} octets, not shown)",
        "(client closed the connection)",  # seen within the grace period, recorded
    ]
    assert [(v.kind, v.command) for v in first.violations] == [("sent-after-close", "RSET")]


def test_the_count_has_the_time_its_lines_came_not_the_close_after(patient: Server) -> None:
    # fresh18 N2: the note was stamped when the count ended (here the client's FIN, sent a
    # moment after the lines), not at the read that brought them, as every line is stamped
    client = Raw(patient)
    assert client.code() == 220
    assert client.command("QUIT")[-1].startswith(b"221 ")
    assert client.eof()  # the server half-closed: its grace period runs
    client.send(b"NOOP\r\n" * (TEXT_SHOWN + 80))
    time.sleep(0.3)  # (a pause between the lines and the FIN: the two stamps differ)
    client.sock.shutdown(socket.SHUT_WR)
    (session,) = ended_sessions(patient, 1, timeout=GRACE + 10)
    client.close()
    last_line = max(e.time for e in session.transcript if e.text == "NOOP")
    (note,) = [e for e in session.transcript if e.text.startswith("(after the close: 80 ")]
    (fin,) = [e for e in session.transcript if e.text == "(client closed the connection)"]
    assert last_line <= note.time < fin.time


def test_lines_after_the_close_one_read_each_are_counted_past_the_first_few(
    patient: Server,
) -> None:
    # a client that writes each line on its own (a read each, most often) after the 221: past
    # TEXT_SHOWN lines they went to the record one by one, not into the count (a read holding
    # one whole line took a path of its own)
    client = Raw(patient)
    assert client.code() == 220
    assert client.command("QUIT")[-1].startswith(b"221 ")
    assert client.eof()  # the server half-closed: its grace period runs
    for _ in range(TEXT_SHOWN + 3):
        client.send(b"NOOP\r\n")
        time.sleep(0.005)  # (a read each; reads that join lines are counted as ever)
    client.sock.shutdown(socket.SHUT_WR)
    (session,) = ended_sessions(patient, 1, timeout=GRACE + 10)
    client.close()
    texts = [e.text for e in session.transcript]
    after = texts[texts.index("(connection closed)") + 1 :]
    assert after[:TEXT_SHOWN] == ["NOOP"] * TEXT_SHOWN
    notes = after[TEXT_SHOWN:-1]
    assert notes and all(n.startswith("(after the close: ") for n in notes), after
    counted = sum(int(n.split()[3]) for n in notes)
    assert counted == 3
    assert after[-1] == "(client closed the connection)"
