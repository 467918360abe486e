"""Message text after the idle timeout's 421, on a real loopback socket: the client reads the 421
only once its message is out (as a client streaming its text does), and the record has that text
under its label, as it crossed the wire, the "." forgiven and the QUIT after it not."""

from __future__ import annotations

from collections.abc import Callable

from smtpfake.serialize import session_from_json, session_to_json
from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions


def test_text_sent_after_the_idle_421_is_labelled_and_judged_once_whole(
    server: Server, raw: Callable[..., Raw]
) -> None:
    server.use(scenario(idle_timeout=0.3))
    conn = raw()
    conn.reply()
    for command in ("EHLO c.test", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>", "DATA"):
        conn.command(command)
    conn.send(b"Subject: slow\r\n\r\nt: sl")
    assert conn.reply()[0].startswith(b"421 4.4.2 ")  # out before the rest of the text
    conn.send(b"ow\r\n.\r\nQUIT\r\n")  # in the grace period
    assert conn.rest() == b""  # never answered: the server half-closed at its 421
    conn.close()
    (session,) = ended_sessions(server, 1)
    texts = [(e.text, e.note) for e in session.transcript]
    closed = texts.index(("(connection closed)", True))
    assert texts[closed - 2 : closed + 5] == [
        ("(message data, 22 bytes, unfinished)", True),  # what came before the 421
        ("421 4.4.2 smtpfake.test Error: timeout exceeded", False),
        ("(connection closed)", True),
        ("(message text after the close)", True),
        ("ow", False),
        (".", False),
        ("QUIT", False),
    ]
    assert [(v.kind, v.command) for v in session.violations] == [("sent-after-close", "QUIT")]
    assert server.messages == ()
    again = session_from_json(session_to_json(session))  # the API's JSON: the same record
    assert again.format() == session.format()
