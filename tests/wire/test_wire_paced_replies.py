"""``replies`` with ``drip`` (fresh14 N4) on a real loopback socket and each event loop: every
reply of the out-of-step answer goes out in pieces, not only the first. Where the client's reads
end is what is checked (a loaded host may hand two pieces to one read, never part of one)."""

from __future__ import annotations

import itertools

from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw

REPLIES = ["250 2.0.0 first", "250 2.0.0 second", "250 2.0.0 third"]


def test_drip_paces_every_reply_of_replies(fresh: Server) -> None:
    rule = {"on": "noop", "replies": REPLIES, "drip": {"bytes": 6, "interval": 0.1}}
    fresh.use(scenario(rule))
    conn = Raw(fresh)
    assert conn.code() == 220
    conn.send(b"NOOP\r\n")
    data, pieces = conn.until(b"third\r\n")
    conn.close()
    assert data == b"".join(text.encode() + b"\r\n" for text in REPLIES)
    # each reply in pieces of 6 from its start: 17, 18 and 17 octets
    bounds = {0, 6, 12, 17, 23, 29, 35, 41, 47, 52}
    ends = list(itertools.accumulate(len(p) for p in pieces))
    assert set(ends) <= bounds, pieces
    # a read ending inside the second or third reply: they were dripped too (unpaced, each
    # went in one write, so reads ended at 17, 35 or 52 only)
    assert {23, 29, 41, 47} & set(ends), pieces
