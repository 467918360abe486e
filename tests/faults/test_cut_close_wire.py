"""``cut_body`` how close on a real socket (fresh8 F3, F4): a client streaming a message reads
nothing before its ".", so however its text crossed the wire (with the cut, or after the
server's FIN) the record holds every octet, the rest after the cut under ``(message text after
the close)``, and none of it is judged; a command after the "." is judged as after any close."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest

from smtpfake.journal import SessionRecord
from smtpfake.server import Server

from ..support import scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions

#: the fresh8 repro's message: 1,288 octets, cut after 1024
TEXT = (b"Subject: x\r\n\r\n" + b"y" * 76 + b"\r\n") * 14
CUT = scenario({"on": "data", "cut_body": {"after_bytes": 1024, "how": "close"}})


def after_data(session: SessionRecord) -> list[str]:
    commands = list(session.commands)
    return commands[[c.upper() for c in commands].index("DATA") + 1 :]  # (smtplib: "data")


def octets(entries: list[str]) -> int:
    """What the entries account for: the count before the cut, each line with its CRLF."""
    total = 0
    for text in entries:
        if text.startswith("(message data, "):
            total += int(text.split()[2])
        elif text != "(message text after the close)":
            total += len(text) + 2
    return total


@pytest.mark.parametrize("later", [b"", b".\r\n", b"tail\r\n.\r\n"], ids=["one write", "dot", "2"])
def test_the_text_after_the_cut_is_recorded_and_not_judged_whenever_it_came(
    server: Server, raw: Callable[..., Raw], later: bytes
) -> None:
    """``later``: sent only once the client has read the server's EOF (after its FIN for sure)."""
    server.use(CUT)
    conn = raw()
    assert conn.reply_bytes().startswith(b"220 ")
    for command in ("EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "DATA"):
        assert conn.command_code(command) in (250, 354)
    conn.send(TEXT + (b"" if later else b".\r\n"))
    assert conn.rest() == b""  # no reply: the FIN
    if later:
        conn.send(later)
    conn.close()
    (session,) = ended_sessions(server, 1)
    seen = after_data(session)
    assert seen[:2] == ["(message data, 1024 bytes so far)", "(message text after the close)"]
    assert seen[-1] == "."
    assert octets(seen) == len(TEXT) + (len(later) if later else 3)
    assert session.violations == ()
    assert session.messages == ()


def test_smtplib_s_message_is_recorded_whole(server: Server) -> None:
    """smtplib writes the text and "." at once and reads the EOF (it closes then: no QUIT)."""
    server.use(CUT)
    client = smtplib.SMTP(server.host, server.port, timeout=5)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.sendmail("a@x.test", ["b@x.test"], TEXT)
    client.close()
    (session,) = ended_sessions(server, 1)
    seen = after_data(session)
    assert seen[1] == "(message text after the close)"
    assert octets(seen[: seen.index(".") + 1]) == len(TEXT) + 3
    assert session.violations == ()
