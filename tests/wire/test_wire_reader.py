"""A test thread reading the record while the server paces replies (issue 7), on a real loopback
socket: every snapshot it takes of a session's transcript is the start of the final one, which is
in time order. So a reply the client already has is never missing while a later entry is shown,
and an entry held back until the lines before it were read never shows up out of order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions

Said = tuple[tuple[float, str], ...]


def test_a_reader_sees_the_record_grow_in_time_order_while_replies_are_paced(
    server: Server, raw: Callable[..., Raw]
) -> None:
    """Each NOOP's 250 waits 0.2 s. The client pipelines two NOOPs and the start of RSET, and
    ends the RSET only once it has the first 250: that RSET comes after the first 250 in the
    record (it arrived after it went out), before the second 250 (it arrived before)."""
    server.use(scenario({"on": "noop", "delay": 0.2}))
    seen: list[Said] = []
    stop = threading.Event()

    def read() -> None:
        deadline = time.monotonic() + 10
        while not stop.is_set() and time.monotonic() < deadline and len(seen) < 100_000:
            sessions = server.sessions
            if sessions:
                seen.append(tuple((e.time, e.text) for e in sessions[0].transcript))
            time.sleep(0.001)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        conn = raw()
        conn.reply()
        assert conn.command("EHLO c.test")[-1].startswith(b"250 ")
        conn.send(b"NOOP\r\nNOOP\r\nRS")
        assert conn.line() == b"250 2.0.0 Ok\r\n"  # the first NOOP's, 0.2 s on
        conn.send(b"ET\r\n")
        assert conn.line() == b"250 2.0.0 Ok\r\n"  # the second NOOP's
        assert conn.line() == b"250 2.0.0 Ok\r\n"  # the RSET's
        conn.command("QUIT")
        conn.close()
        (record,) = ended_sessions(server, 1)
    finally:
        stop.set()
        reader.join(timeout=15)
    final = tuple((e.time, e.text) for e in record.transcript)
    texts = [text for _, text in final]
    start = texts.index("NOOP")
    assert texts[start : start + 6] == [
        "NOOP",
        "NOOP",
        "250 2.0.0 Ok",
        "RSET",
        "250 2.0.0 Ok",
        "250 2.0.0 Ok",
    ]
    times = [t for t, _ in final]
    assert times == sorted(times)
    # the second NOOP's rule outcome: at its arrival, before the first 250 (not when judged)
    assert [o.time for o in record.outcomes if o.stage == "noop"] == [
        final[start][0],
        final[start + 1][0],
    ]
    assert final[start + 1][0] < final[start + 2][0]
    assert len(seen) >= 3  # it read while the replies were paced (some 0.4 s)
    for snapshot in seen:  # what any reader saw: where the record was at that moment
        assert final[: len(snapshot)] == snapshot
