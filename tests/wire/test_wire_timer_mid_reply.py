"""``close_after`` running out while a dripped reply is half written, on a real loopback socket and
each loop (fresh10 F5): the client gets the reply's octets that went, then the close; no 421 glued
into the middle of that line (README, The server going away: "a reply already partly written gets
no 421 after it"). The record's delivered octets are what the client read."""

from __future__ import annotations

from smtpfake.server import Server

from ..support import SHARED_GRACE, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions

#: a 36-octet reply dripped 3 octets every 0.5 s: 6 s in all, close_after (1.5 s) cuts it
DRIP = {
    "on": "mail",
    "reply": "250 2.1.0 Sender looks fine to me",
    "drip": {"bytes": 3, "interval": 0.5},
}


def test_close_after_mid_drip_sends_no_421_into_the_line(fresh: Server) -> None:
    fresh.use(scenario(DRIP, close_after=1.5))
    conn = Raw(fresh)
    greeting = conn.reply()[0]
    ehlo = b"".join(conn.command("EHLO client.test"))
    conn.send(b"MAIL FROM:<a@x.test>\r\n")
    received = conn.rest()  # until the server's close
    conn.close()
    assert b"421" not in received
    assert received and b"250 2.1.0 Sender looks fine to me\r\n".startswith(received)
    (session,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2)
    server = [e for e in session.transcript if e.side == "server"]
    cut, close = server[-2:]
    assert (cut.text, cut.delivered, cut.written) == (
        "250 2.1.0 Sender looks fine to me",
        False,
        len(received),
    )
    assert (close.text, close.rule) == ("(connection closed)", "server.close_after")
    assert greeting.startswith(b"220 ") and ehlo.endswith(b"250 HELP\r\n")
