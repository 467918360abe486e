"""The new faults on a real socket: exact bytes, read boundaries, timing and what clients see."""

from __future__ import annotations

import asyncio
import itertools
import smtplib
import socket
import time
from collections.abc import Callable

import aiosmtplib
import pytest

from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, wait_until

# -- hang ----------------------------------------------------------------------------------------


def test_hang_makes_a_client_with_a_timeout_give_up(server: Server) -> None:
    server.use(scenario({"on": "mail", "hang": 5}))
    with smtplib.SMTP(server.host, server.port, timeout=0.2) as client:
        client.ehlo("client.test")
        started = time.monotonic()
        with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
            client.mail("a@x.test")
        assert 0.15 < time.monotonic() - started < 2.0
    # The client gave up while waiting for a reply: the session ends with its close, and it is
    # not blamed for a missing QUIT (RFC 5321 §4.5.3.2); the reply it never got is recorded so.
    (session,) = ended_sessions(server, 1)
    assert session.transcript[-1].text == "(client closed the connection)"
    assert session.violations == ()
    # smtplib's spelling varies by version ("mail FROM:", "mail from:")
    assert [c.lower() for c in session.commands] == ["ehlo client.test", "mail from:<a@x.test>"]


def test_hang_at_the_greeting(server: Server) -> None:
    server.use(scenario({"on": "connect", "hang": {}}))  # the default: an hour
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        smtplib.SMTP(server.host, server.port, timeout=0.2)


def test_after_the_hang_the_server_closes_without_a_reply(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use(scenario({"on": "mail", "hang": 0.3}))
    conn = raw()
    assert conn.reply_bytes().startswith(b"220 ")
    assert conn.command_bytes("EHLO c.test").startswith(b"250-")
    started = time.monotonic()
    conn.send(b"MAIL FROM:<a@x.test>\r\n")
    # Pipelined while the server hangs: never answered.
    conn.send(b"RCPT TO:<b@x.test>\r\nNOOP\r\n")
    assert conn.rest() == b""
    assert 0.25 < time.monotonic() - started < 2.0
    (session,) = ended_sessions(server, 1)
    # read once the hang is over (recorded, never answered; sent ahead, so no violation)
    assert session.commands == ("EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "NOOP")
    assert session.replies[-1] == "(connection closed)"
    assert session.violations == ()


def test_a_hang_does_not_hold_up_other_sessions(server: Server, raw: Callable[..., Raw]) -> None:
    server.use(scenario({"on": "connect", "connection": 1, "hang": {}}))
    hung = raw()
    wait_until(lambda: len(server.sessions) == 1, what="the first session")
    started = time.monotonic()
    with smtplib.SMTP(server.host, server.port, timeout=2) as client:
        client.sendmail("a@x.test", ["b@x.test"], b"Subject: t\r\n\r\nhi\r\n")
    assert time.monotonic() - started < 1.0
    assert len(server.messages) == 1
    hung.sock.settimeout(0.05)
    with pytest.raises(socket.timeout):
        hung.sock.recv(10)


# -- abort (stop reading after the reply, then fail: smtp-sink -A) -------------------------------


def open_data(conn: Raw) -> None:
    assert conn.reply_bytes().startswith(b"220 ")
    for command in ("EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>"):
        assert conn.command_bytes(command).startswith(b"250")


def test_abort_after_354_resets_without_reading_the_data(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use(scenario({"on": "data", "abort": 0.2}))
    conn = raw()
    open_data(conn)
    assert conn.command_bytes("DATA").startswith(b"354 ")
    started = time.monotonic()
    conn.send(b"Subject: t\r\n\r\nbody\r\n.\r\n")
    with pytest.raises(ConnectionResetError):
        for _ in range(10):
            if not conn.sock.recv(100):
                break
    assert 0.15 < time.monotonic() - started < 2.0
    (session,) = ended_sessions(server, 1)
    # the text sent in the silence, before the reset, is the message's, unfinished: the silent
    # server never reads its "." as the end, so from the "." on it is after the close (F8)
    assert session.commands[-4:] == (
        "DATA",
        "(message data, 20 bytes, unfinished)",
        "(message text after the close)",
        ".",
    )
    assert session.transcript[-1].text == "(connection reset)"
    assert server.messages == ()


def test_abort_with_close_sends_fin(server: Server, raw: Callable[..., Raw]) -> None:
    server.use(scenario({"on": "mail", "abort": {"how": "close"}}))
    conn = raw()
    assert conn.reply_bytes().startswith(b"220 ")
    conn.command_bytes("EHLO c.test")
    assert conn.command_bytes("MAIL FROM:<a@x.test>") == b"250 2.1.0 Ok\r\n"
    assert conn.sock.recv(100) == b""  # EOF, not ECONNRESET


def test_smtplib_sees_the_abort_during_data(server: Server) -> None:
    server.use(scenario({"on": "data", "abort": 0.05}))
    with (
        smtplib.SMTP(server.host, server.port, timeout=2) as client,
        pytest.raises(smtplib.SMTPServerDisconnected),
    ):
        client.sendmail("a@x.test", ["b@x.test"], b"Subject: t\r\n\r\nhi\r\n")
    assert server.messages == ()


# -- drip and fragment ---------------------------------------------------------------------------


def test_drip_sends_a_few_bytes_per_interval(server: Server, raw: Callable[..., Raw]) -> None:
    server.use(scenario({"on": "connect", "drip": {"bytes": 4, "interval": 0.03}}))
    conn = raw()
    started = time.monotonic()
    data, pieces = conn.until(b"\r\n")
    elapsed = time.monotonic() - started
    assert data == b"220 smtpfake.test ESMTP smtpfake\r\n"
    # where reads end, not how much one read got: a loaded host can read two pieces at once
    ends = list(itertools.accumulate(len(p) for p in pieces))
    assert all(end % 4 == 0 or end == len(data) for end in ends), pieces
    chunks = -(-len(data) // 4)
    assert len(pieces) > 1, pieces
    assert elapsed > (chunks - 1) * 0.03 * 0.8


def test_drip_passes_per_read_timeouts_and_fails_whole_reply_timeouts(server: Server) -> None:
    """smtplib times each read (RFC 5321 §4.5.3.2); aiosmtplib times the whole reply."""
    server.use(scenario({"on": "connect", "drip": {"bytes": 2, "interval": 0.03}}))
    started = time.monotonic()
    with smtplib.SMTP(server.host, server.port, timeout=0.25) as client:
        assert time.monotonic() - started > 0.25  # the greeting took longer than the timeout
        assert client.noop()[0] == 250

    async def whole_reply() -> None:
        client = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=0.25)
        await client.connect()

    with pytest.raises(aiosmtplib.SMTPTimeoutError):
        asyncio.run(whole_reply())


def test_fragment_splits_the_reply_into_segments(server: Server, raw: Callable[..., Raw]) -> None:
    plain = raw()
    assert plain.reply_bytes().startswith(b"220 ")
    expected = plain.command_bytes("EHLO c.test")
    server.use(scenario({"on": "ehlo", "fragment": {"bytes": 10, "interval": 0.01}}))
    conn = raw()
    assert conn.reply_bytes().startswith(b"220 ")
    conn.send(b"EHLO c.test\r\n")
    data, pieces = conn.until(b"250 HELP\r\n")
    assert data == expected
    # Each read ends where a 10-octet fragment ends (a busy machine may hand two fragments to one
    # read, but never part of one): the reply went out in pieces, not in one write.
    ends = [sum(len(p) for p in pieces[: i + 1]) for i in range(len(pieces))]
    assert all(end % 10 == 0 for end in ends[:-1]), pieces
    assert len(pieces) >= 2


def test_fragmented_replies_byte_by_byte_still_deliver(server: Server) -> None:
    server.use(scenario({"on": "any", "fragment": 1}))
    with smtplib.SMTP(server.host, server.port, timeout=2) as client:
        refused = client.sendmail("a@x.test", ["b@x.test"], b"Subject: f\r\n\r\nhi\r\n")
        assert refused == {}
        assert client.esmtp_features["size"] == "33554432"
    (message,) = server.messages
    assert message.subject == "f"


# -- truncate and malformed ----------------------------------------------------------------------


def test_truncate_cuts_the_reply_mid_line_then_closes(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use(scenario({"on": "mail", "truncate": 6}))
    conn = raw()
    assert conn.reply_bytes().startswith(b"220 ")
    conn.command_bytes("EHLO c.test")
    conn.send(b"MAIL FROM:<a@x.test>\r\n")
    assert conn.rest() == b"250 2."
    (session,) = ended_sessions(server, 1)
    assert session.replies[-2:] == ("250 2.", "(connection closed)")


def test_a_truncated_250_after_the_data_has_accepted_the_message(
    server: Server, raw: Callable[..., Raw]
) -> None:
    """The duplicate-delivery trap: the server took the message; the client never saw the 250."""
    server.use(scenario({"on": "end_of_data", "truncate": 2}))
    conn = raw()
    open_data(conn)
    assert conn.command_bytes("DATA").startswith(b"354 ")
    conn.send(b"Subject: t\r\n\r\nhi\r\n.\r\n")
    assert conn.rest() == b"25"
    (session,) = ended_sessions(server, 1)
    assert session.replies[-2:] == ("25", "(connection closed)")
    assert len(server.messages) == 1


MALFORMED = {
    "bad-code": b"2x0 2.0.0 Ok\r\n",
    "mixed-codes": b"250-2.0.0 Ok\r\n451 2.0.0 Ok\r\n",
    "bare-lf": b"250 2.0.0 Ok\n",
    "no-space": b"250\r\n",
    "long-line": b"250 2.0.0 Ok " + b"x" * (1024 - 15) + b"\r\n",
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_replies_are_these_exact_bytes(
    server: Server, raw: Callable[..., Raw], kind: str
) -> None:
    server.use(scenario({"on": "noop", "malformed": kind}))
    conn = raw()
    assert conn.reply_bytes().startswith(b"220 ")
    conn.send(b"NOOP\r\n")
    data, _ = conn.until(MALFORMED[kind][-6:])
    assert data == MALFORMED[kind]
    if kind == "long-line":
        assert len(data) == 1024  # the default length, over RFC 5321's 512
    # the session goes on normally after it
    assert conn.command_bytes("RSET") == b"250 2.0.0 Ok\r\n"


def test_smtplib_accepts_a_bare_code_and_misreads_a_bad_one(server: Server) -> None:
    server.use(
        scenario({"on": "noop", "malformed": "no-space"}, {"on": "vrfy", "malformed": "bad-code"})
    )
    with smtplib.SMTP(server.host, server.port, timeout=2) as client:
        assert client.noop() == (250, b"")  # RFC 5321 §4.2.1: clients MUST accept it
        code, _ = client.verify("b")
        assert code == -1  # smtplib's "could not parse the code"
