"""The server's close over TLS, on a real loopback socket and on each event loop (issue 7, fresh14
F5): TLS has no half-close, so after its last reply (a 221, an unsolicited 421) the server reads on
for the grace period and only then closes (close_notify). The record's ``(connection closed)`` is
that close, after the lines the client sent meanwhile; and the session ends then, not after
asyncio's wait for the client's own close_notify (up to 5 s) while the client keeps its socket."""

from __future__ import annotations

import pytest

from smtpfake.server import Server

from ..support import SHARED_GRACE, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds

TLS = {"tls": True}


def secured(conn: Raw, server: Server) -> None:
    """Greeting, EHLO, STARTTLS and the handshake, then EHLO again."""
    assert conn.code() == 220
    conn.command("EHLO client.test")
    assert conn.command_code("STARTTLS") == 220
    conn.tls(server.tls_client_context())
    assert conn.command("EHLO client.test")[-1].startswith(b"250 ")


@pytest.mark.parametrize("ending", ["quit", "close_after"])
def test_over_tls_the_close_is_recorded_when_the_server_closes(fresh: Server, ending: str) -> None:
    if ending == "quit":
        fresh.use(scenario(**TLS))
    else:  # an unsolicited 421, once the session is secured (the handshake is quick on loopback)
        fresh.use(scenario(tls=True, close_after=1.0))
    with Raw(fresh) as conn:
        secured(conn, fresh)
        if ending == "quit":
            assert conn.command_code("QUIT") == 221
        else:
            assert conn.code() == 421
        conn.send(b"NOOP\r\n")  # in the grace period: read and recorded, never answered
        assert conn.eof()  # the close_notify, at the grace period's end
        # the client keeps its socket and never answers the close_notify: the session still
        # ends with the server's close (well before asyncio's 5 s wait for the client's)
        (record,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2.0)
    texts = [e.text for e in record.transcript]
    assert texts[-2:] == ["NOOP", "(connection closed)"], texts
    assert record.transcript[-1].time >= record.transcript[-2].time
    # after a 221 the NOOP is judged; after an unsolicited 421 it is the one command the client
    # may send before reading it (RFC 5321 §3.8)
    assert ("sent-after-close" in kinds(record)) is (ending == "quit")


def test_over_tls_the_clients_close_in_the_grace_period_ends_it(fresh: Server) -> None:
    fresh.use(scenario(**TLS))
    with Raw(fresh) as conn:
        secured(conn, fresh)
        assert conn.command_code("QUIT") == 221
        conn.sock.unwrap()  # the client's close_notify, then the server's: the connection ends
    (record,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2.0)
    texts = [e.text for e in record.transcript]
    assert texts[-2:] == ["(client closed the connection)", "(connection closed)"], texts
