"""A bare CR that ends a line (``server.bare_cr: clean``, Cisco Secure Email's default) on a real
loopback socket: a client that lets a bare CR through gets its one message split in two, the
second sent by commands hidden in the first one's text (the inbound side of SMTP smuggling)."""

from __future__ import annotations

import shutil
import smtplib
import subprocess
from pathlib import Path

import pytest

from smtpfake.server import Server

from ..support import TIMEOUT, scenario
from ..support.waits import ended_sessions, kinds

#: a message with the smuggling shape in its text: <CR>.<CR>, then a whole transaction
SMUGGLING = (
    b"Subject: hello\r\n\r\nhi\r.\r"
    b"MAIL FROM:<evil@x.test>\r\nRCPT TO:<v@d.test>\r\nDATA\r\n"
    b"Subject: smuggled\r\n\r\nboo\r\n"
)


def test_smtplib_passes_a_bare_cr_through_and_the_server_sees_two_messages(
    server: Server,
) -> None:
    """smtplib dot-stuffs only after an LF, so <CR>.<CR> reaches the wire as it was given; it
    reads the first 250 as its message's, and is out of step from then on."""
    server.use("smuggling-lenient")
    client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
    try:
        client.sendmail("a@b.test", ["c@d.test"], SMUGGLING)  # one message, it believes
        assert client.docmd("QUIT") == (250, b"2.1.0 Ok")  # the smuggled MAIL's reply
    finally:
        client.close()
    first, smuggled = server.messages
    assert (first.mail_from, first.data) == ("a@b.test", b"Subject: hello\r\n\r\nhi\r")
    assert (smuggled.mail_from, smuggled.rcpt_tos) == ("evil@x.test", ("v@d.test",))
    assert smuggled.data == b"Subject: smuggled\r\n\r\nboo\r\n"
    (session,) = ended_sessions(server, 1)
    assert kinds(session)[0] == "bare-cr"
    lines = [e.text for e in session.transcript if e.side == "client" and not e.note]
    assert lines[lines.index(".") + 1] == "MAIL FROM:<evil@x.test>"  # a command, on the record


def test_accept_keeps_the_same_message_whole(server: Server) -> None:
    server.use(scenario(bare_cr="accept"))
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.sendmail("a@b.test", ["c@d.test"], SMUGGLING)
    (message,) = server.messages
    assert message.data == SMUGGLING  # the "smuggled" commands are text, kept as sent
    (session,) = ended_sessions(server, 1)
    assert kinds(session) == ["bare-cr"]


@pytest.mark.skipif(
    shutil.which("swaks") is None, reason="swaks is not installed (.ci/sidecar-deps)"
)
def test_swaks_without_data_fixup_sends_cr_dot_cr_and_is_split(
    server: Server, tmp_path: Path
) -> None:
    """swaks --no-data-fixup sends DATA's text byte for byte (its own final "." included)."""
    server.use("smuggling-lenient")
    data = tmp_path / "data"
    data.write_bytes(SMUGGLING + b".\r\n")
    done = subprocess.run(
        [
            "swaks",
            "--server",
            f"{server.host}:{server.port}",
            "--timeout",
            "5",
            "--from",
            "a@b.test",
            "--to",
            "c@d.test",
            "--no-data-fixup",
            "--data",
            str(data),
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (session,) = ended_sessions(server, 1)
    assert [m.mail_from for m in server.messages] == ["a@b.test", "evil@x.test"]
    assert "bare-cr" in kinds(session)


#: smtplib sends it as is: a bare CR, then a line ".<LF>b" (it stuffs only a "." after an LF)
CR_DOT_LF = b"a\r.\nb\r\n"


@pytest.mark.parametrize(
    ("bare_lf", "refusal"),
    [("reject", (550, b"5.5.2 smtpfake.test Error: bare <LF> received")), ("normalize", None)],
)
def test_smtplib_a_bare_cr_then_a_dot_lf_line_is_judged_where_it_is_under_clean(
    server: Server, bare_lf: str, refusal: tuple[int, bytes] | None
) -> None:
    """``bare_cr: clean`` with a strict ``bare_lf``: the CR ends line "a", the "." line after it
    ends in a bare LF (no end: only <CRLF>.<CRLF> may): both are told, reject refuses the message
    with 550 (as with ``bare_cr: accept``), and normalize keeps the text as sent, its "." too
    (unstuffed it would join the CR and the LF into a CRLF the wire never carried)."""
    server.use(scenario(bare_lf=bare_lf, bare_cr="clean", hostname="smtpfake.test"))
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        if refusal is None:
            assert client.sendmail("a@b.test", ["c@d.test"], CR_DOT_LF) == {}
        else:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("a@b.test", ["c@d.test"], CR_DOT_LF)
            assert (refused.value.smtp_code, refused.value.smtp_error) == refusal
    (session,) = ended_sessions(server, 1)
    assert sorted(kinds(session)) == ["bare-cr", "bare-lf"]
    if refusal is None:
        (message,) = server.messages
        assert message.data == CR_DOT_LF
    else:
        assert server.messages == ()
