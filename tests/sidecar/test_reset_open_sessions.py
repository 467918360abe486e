"""``POST /api/reset`` with sessions open: the new record starts at the reset.

What a client sent before the reset went with the record the reset cleared, wherever the server
had got to with it: part of a line not yet ended, whole lines waiting behind a reply still due.
The session the reset ends goes on in the new journal holding only what the reset did to it,
stamped at the reset or later (a reply it stopped, the message it cut short, its 421, the
close), so a test that resets and then reads the record sees nothing of what came before it,
and no violation for it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from smtpfake.http import ApiServer

from ..support.sidecar import own_sidecar
from .conftest import TIMEOUT, call

SHUTDOWN_421 = b"421 4.3.2 smtpfake.test Service not available, closing transmission channel\r\n"

#: what each client sends after its EHLO before the reset, each in one write, and the reply it
#: reads to it: once that reply is in, the server has read the whole write (one read on loopback),
#: and its tail (part of a line, lines behind a reply held back, message text) is in no entry yet
BEFORE_THE_RESET = {
    "a line not yet ended": (b"RSET\r\nNOO", b"250 "),
    "lines behind a reply still due": (b"NOOP\r\nRSET\r\nVRFY x\r\nQUI", None),
    "message text after the 354": (
        b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nSubject: x\r\n\r\nhalf a li",
        b"354 ",
    ),
}


@pytest.fixture
def sidecar() -> Iterator[ApiServer]:
    with own_sidecar() as api:
        api.server.use({"rules": [{"on": "noop", "delay": 30}]})  # NOOP's reply is held back
        yield api


def _noop_read(api: ApiServer) -> bool:
    """Whether the server has read the NOOP (its reply held back: no reply to wait for)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if any("NOOP" in s.commands for s in api.server.sessions):
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize(
    "case",
    list(BEFORE_THE_RESET),
)
def test_the_record_after_a_reset_holds_only_what_came_after_it(
    sidecar: ApiServer, case: str
) -> None:
    sends, reply = BEFORE_THE_RESET[case]
    client = socket.create_connection((sidecar.server.host, sidecar.server.port), timeout=TIMEOUT)
    with client:
        reader = client.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        client.sendall(b"EHLO client.test\r\n")
        while reader.readline()[3:4] == b"-":
            pass
        client.sendall(sends)
        if reply is None:
            assert _noop_read(sidecar)
        else:
            while not (line := reader.readline()).startswith(reply):
                assert line[:1] == b"2", line  # (MAIL's and RCPT's 250 before the 354)
        before = sidecar.server.now()
        assert call(sidecar.url, "POST", "/api/reset").status == 200
        assert reader.readline() == SHUTDOWN_421
        assert reader.readline() == b""  # then the close
    assert sidecar.server.settle(TIMEOUT)
    (session,) = call(sidecar.url, "GET", "/api/sessions").body["sessions"]
    assert session["index"] == 1 and session["started"] >= before
    # nothing of what the client sent before the reset, nor a judgement of it: but the message
    # the reset cut short, noted at the reset (the text's octets so far), a reply it stopped
    transcript = session["transcript"]
    assert all(e["time"] >= session["started"] for e in transcript)
    assert session["violations"] == []
    said = [e["text"] for e in transcript if e["side"] == "client"]
    assert said == (["(message data, 23 bytes, unfinished)"] if "354" in case else [])
    server = [e["text"] for e in transcript if e["side"] == "server" and e.get("delivered", True)]
    assert server == [SHUTDOWN_421.decode().strip(), "(connection closed: server reset)"]
    stopped = [e["text"] for e in transcript if not e.get("delivered", True)]
    assert stopped == (["250 2.0.0 Ok"] if "reply still due" in case else [])


def test_a_session_in_its_grace_period_is_only_closed(sidecar: ApiServer) -> None:
    """After its 221 the server said its last word: the reset closes the connection and the new
    journal holds nothing of it (no session that would start with a line sent before)."""
    with socket.create_connection((sidecar.server.host, sidecar.server.port), timeout=TIMEOUT) as c:
        reader = c.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        c.sendall(b"EHLO client.test\r\nQUIT\r\n")
        while not reader.readline().startswith(b"221 "):
            pass
        assert reader.readline() == b""  # the half-close: the grace period runs
        assert call(sidecar.url, "POST", "/api/reset").status == 200
    assert sidecar.server.settle(TIMEOUT)
    got = call(sidecar.url, "GET", "/api/sessions").body
    assert (got["total"], got["sessions"]) == (0, [])
    assert sidecar.server.counts.sessions_started == 0
