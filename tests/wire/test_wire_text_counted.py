"""A big message's text after a ``cut_body`` close (fresh14 N6), on a real loopback socket and
each event loop: past its first lines the text is counted in one note, so the session keeps its
start (EHLO, the cut, the close) within its own transcript."""

from __future__ import annotations

import socket

from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions

LINES = 3000  # more than a session's 1,000 entries


def test_text_after_a_cut_is_counted_past_its_first_lines(fresh: Server) -> None:
    fresh.use(scenario({"on": "data", "cut_body": {"after_bytes": 100, "how": "close"}}))
    conn = Raw(fresh)
    assert conn.code() == 220
    for command in ("EHLO c.test", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>"):
        assert conn.command(command)[-1].startswith(b"250 ")
    assert conn.command("DATA")[0].startswith(b"354 ")
    text = b"".join(b"line %05d of the text\r\n" % n for n in range(LINES))
    try:  # a client streams its text before it reads (RFC 5321 §4.1.1.4)
        conn.send(text + b".\r\n")
        conn.sock.shutdown(socket.SHUT_WR)
        conn.rest()
    except OSError:  # the server's close may come back as a reset while it still sends
        pass
    conn.close()
    (session,) = ended_sessions(fresh, 1)
    texts = [e.text for e in session.transcript]
    assert texts[:2] == ["220 smtpfake.test ESMTP smtpfake", "EHLO c.test"]  # the head is kept
    assert "(message data, 100 bytes so far)" in texts
    counts = [t for t in texts if t.startswith("(message text after the close: ")]
    # one count, or two when the server's "(connection closed)" fell amid the text
    assert 1 <= len(counts) <= 2, counts
    assert all(t.endswith(" octets, not shown)") for t in counts)
    assert len(texts) < 100
