"""The built-in ``smuggling-strict`` says what a client meets: the reply texts its summary quotes
are those smtplib gets back for a bare LF and a bare CR, for each policy that refuses."""

from __future__ import annotations

import re
import smtplib

import pytest

from smtpfake.server import Server

from ..support import TIMEOUT
from ..support.waits import ended_sessions, kinds


@pytest.mark.parametrize(("policy", "code"), [("reject", 550), ("disconnect", 521)])
@pytest.mark.parametrize(
    ("message", "kind"),
    [(b"Subject: lf\n\nhello\n", "bare-lf"), (b"Subject: cr\r\n\r\nx\r.\rhello\r\n", "bare-cr")],
)
def test_the_summary_quotes_the_reply_smtplib_gets(
    server: Server, policy: str, code: int, message: bytes, kind: str
) -> None:
    played = server.use("smuggling-strict", params={"policy": policy})
    quoted = re.findall(r'"([^"]+)"', played.summary.replace("\n", " "))
    assert len(quoted) == 2, played.summary
    with (
        smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client,
        pytest.raises(smtplib.SMTPDataError) as refused,
    ):
        client.sendmail("a@b.test", ["c@d.test"], message)
    assert refused.value.smtp_code == code
    assert str(code) in played.summary
    assert refused.value.smtp_error.decode().endswith(quoted[0 if kind == "bare-lf" else 1])
    assert server.messages == ()
    (session,) = ended_sessions(server, 1)
    assert kinds(session)[0] == kind
