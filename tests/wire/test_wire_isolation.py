"""server.reset(): nothing survives it, and connections from before cannot write into the new
journal."""

from __future__ import annotations

import contextlib
import smtplib
from collections.abc import Callable

from smtpfake.server import Server

from ..support import TIMEOUT, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions

MESSAGE = "Subject: iso\r\n\r\nbody\r\n"


def send_one(server: Server) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.sendmail("a@x.test", ["b@x.test"], MESSAGE)


def test_reset_forgets_sessions_and_messages(server: Server) -> None:
    send_one(server)
    send_one(server)
    before = (ended_sessions(server, 2), server.messages)
    assert [len(x) for x in before] == [2, 2]
    server.reset()
    assert (server.sessions, server.messages, server.errors) == ((), (), [])
    send_one(server)
    (session,) = ended_sessions(server, 1)
    assert session.index == 1  # connection numbering restarts
    (message,) = server.messages
    assert message.session == 1
    assert message.queue_id == "SF000001"


def test_reset_restarts_connection_counting(server: Server, raw: Callable[[], Raw]) -> None:
    server.use("421-at-greeting-once")
    assert raw().code() == 421
    assert raw().code() == 220
    server.reset()
    assert raw().code() == 421  # connection 1 again
    assert raw().code() == 220


def test_reset_restarts_times(server: Server, raw: Callable[[], Raw]) -> None:
    server.use(scenario({"on": "noop", "times": 1, "reply": "250 2.0.0 special"}))
    conn = raw()
    conn.reply()
    assert conn.command("NOOP") == [b"250 2.0.0 special\r\n"]
    assert conn.command("NOOP") == [b"250 2.0.0 Ok\r\n"]
    server.reset()
    conn = raw()
    conn.reply()
    assert conn.command("NOOP") == [b"250 2.0.0 special\r\n"]


def test_reset_keeps_the_scenario(server: Server, raw: Callable[[], Raw]) -> None:
    server.use("421-at-greeting")
    server.reset()
    assert raw().code() == 421


def test_use_restarts_counters_but_keeps_the_journal(
    server: Server, raw: Callable[[], Raw]
) -> None:
    server.use("421-at-greeting-once")
    assert raw().code() == 421
    server.use("421-at-greeting-once")
    assert raw().code() == 421  # connection 1 of its scenario: the rule fires again
    # both are kept, numbered apart (numbers are unique until a reset)
    assert [s.index for s in ended_sessions(server, 2)] == [1, 2]


def test_live_connections_are_dropped(server: Server, raw: Callable[[], Raw]) -> None:
    old = raw()
    old.reply()
    old.command("EHLO client.test")
    old.command("MAIL FROM:<old@x.test>")
    old.command("RCPT TO:<b@x.test>")
    old.command("DATA")
    old.send(b"Subject: half\r\n\r\n")
    idle = raw()
    idle.reply()
    assert [s.ended for s in server.sessions] == [None, None]
    server.reset()
    # RFC 5321 §3.8: the server closing on its own says 421 first (then a clean EOF)
    shutdown = b"421 4.3.2 smtpfake.test Service not available, closing transmission channel\r\n"
    assert old.rest() == shutdown
    assert idle.rest() == shutdown
    # the journal forgot all before the reset; each connection it ended is a session of the new
    # one holding just what the reset did to it (numbered from 1 again)
    dropped = ended_sessions(server, 2)
    assert [s.index for s in dropped] == [1, 2]
    ends = [shutdown.decode().strip(), "(connection closed: server reset)"]
    # (the text line may still be on its way when the reset comes: its size is not asserted)
    unfinished, *rest = [e.text for e in dropped[0].transcript]
    assert unfinished.startswith("(message data, ") and unfinished.endswith(" bytes, unfinished)")
    assert rest == ends
    assert [e.text for e in dropped[1].transcript] == ends
    assert [s.violations for s in dropped] == [(), ()]
    new = raw()
    new.reply()
    new.command("NOOP")
    new.command("QUIT")
    assert new.eof()
    session = ended_sessions(server, 3)[-1]
    assert session.index == 3
    assert session.commands == ("NOOP", "QUIT")
    assert server.messages == ()


def test_stale_connection_cannot_write_after_reset(server: Server, raw: Callable[[], Raw]) -> None:
    # The old client keeps sending after the reset; nothing of it reaches the new journal.
    old = raw()
    old.reply()
    old.command("EHLO client.test")
    server.reset()
    with contextlib.suppress(OSError):  # the server may already have dropped it: also fine
        old.send(b"MAIL FROM:<old@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\nx\r\n.\r\n")
    assert old.rest().startswith(b"421 4.3.2 ")  # the reset's last word, then the close
    send_one(server)
    stale, session = ended_sessions(server, 2)
    assert stale.commands == ()  # nothing it sent after the reset was read
    assert session.index == 2
    assert [m.mail_from for m in server.messages] == ["a@x.test"]
