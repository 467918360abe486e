"""A client that closes its socket over TLS without a close_notify (a FIN alone: smtplib's
``quit()``, ``close()``) in the grace period after the server's last reply, on a real loopback
socket, each event loop, STARTTLS and implicit TLS (fresh16 N1). The record ends with the
client's close, then the server's own ``(connection closed)``: the server closes the socket at
once after it. uvloop's TLS layer closes the socket itself at the FIN and tells the server only
that the connection is lost (no eof_received): the record had the client's close alone."""

from __future__ import annotations

import smtplib

import pytest

from smtpfake.server import Server

from ..support import SHARED_GRACE, TIMEOUT, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions

MODES = ["starttls", "implicit"]


def _tls(mode: str) -> object:
    return True if mode == "starttls" else {"implicit": True}


def _closes_after(fresh: Server, last_reply: str) -> None:
    """The session ended; its record ends with ``last_reply``, the client's close, then the
    server's, in time order, and nothing is judged."""
    (record,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 3.0)
    tail = record.transcript[-3:]
    assert [(e.side, e.text) for e in tail] == [
        ("server", last_reply),
        ("client", "(client closed the connection)"),
        ("server", "(connection closed)"),
    ], record.format()
    assert tail[0].time <= tail[1].time <= tail[2].time
    assert record.violations == ()


@pytest.mark.parametrize("mode", MODES)
def test_smtplib_quit_over_tls_records_the_clients_close_then_the_servers(
    fresh: Server, mode: str
) -> None:
    fresh.use(scenario(tls=_tls(mode)))
    context = fresh.tls_client_context()
    if mode == "implicit":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            "localhost", fresh.port, timeout=TIMEOUT, context=context
        )
    else:
        client = smtplib.SMTP("localhost", fresh.port, timeout=TIMEOUT)
        client.starttls(context=context)
    try:
        client.ehlo("client.test")
        # reads the 221, then closes its socket: a FIN, no close_notify
        assert client.quit()[0] == 221
    finally:
        client.close()
    _closes_after(fresh, "221 2.0.0 Bye")


@pytest.mark.parametrize("mode", MODES)
def test_a_clients_close_after_a_421_over_tls_is_followed_by_the_servers(
    fresh: Server, mode: str
) -> None:
    fresh.use(scenario({"on": "mail", "reply": "421 4.3.2 Going down"}, tls=_tls(mode)))
    context = fresh.tls_client_context()
    with Raw(fresh, implicit=context if mode == "implicit" else None) as conn:
        assert conn.code() == 220
        if mode == "starttls":
            conn.command("EHLO client.test")
            assert conn.command_code("STARTTLS") == 220
            conn.tls(context)
        conn.command("EHLO client.test")
        assert conn.command("MAIL FROM:<a@x.test>") == [b"421 4.3.2 Going down\r\n"]
        # (leaving the block closes the socket: a FIN, no close_notify)
    _closes_after(fresh, "421 4.3.2 Going down")
