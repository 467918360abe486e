"""``abort: {seconds: S}`` after the 354 (fresh10 F8): the text the client sends in the silence,
before the close, is recorded as the message's (unfinished), not as text after the close; from
its final "." (which the silent server never reads as the end) on, it is after the close."""

from __future__ import annotations

import pytest

from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions


@pytest.mark.parametrize("how", ["close", "reset"])
def test_text_sent_in_abort_s_silence_is_the_unfinished_message(fresh: Server, how: str) -> None:
    fresh.use(scenario({"on": "data", "abort": {"seconds": 0.3, "how": how}}))
    conn = Raw(fresh)
    assert conn.reply()[0].startswith(b"220")
    for command in (b"EHLO c.test", b"MAIL FROM:<a@x.test>", b"RCPT TO:<b@x.test>", b"DATA"):
        conn.send(command + b"\r\n")
        conn.reply()
    conn.send(b"Subject: x\r\n\r\nhello\r\n.\r\n")
    assert conn.recv() == b""  # no reply: the close (or the reset) after the silence
    conn.sock.close()
    (record,) = ended_sessions(fresh, 1)
    client = [e.text for e in record.transcript if e.side == "client" and not e.event]
    assert client[client.index("DATA") + 1 :] == [
        "(message data, 21 bytes, unfinished)",
        "(message text after the close)",
        ".",
    ]
    assert record.messages == ()
    assert record.violations == ()
