"""The built-in ``forbid-bare-lf`` says what a client meets: the reply text its summary quotes is
the one smtplib gets back, for each policy that refuses (reject: 550, disconnect: 521)."""

from __future__ import annotations

import re
import smtplib

import pytest

from smtpfake.server import Server

from ..support import TIMEOUT

LF_MESSAGE = b"Subject: lf\n\nhello\n"  # smtplib sends bytes as given: bare LFs on the wire


@pytest.mark.parametrize(("policy", "code"), [("reject", 550), ("disconnect", 521)])
def test_the_summary_quotes_the_reply_smtplib_gets(server: Server, policy: str, code: int) -> None:
    played = server.use("forbid-bare-lf", params={"policy": policy})
    quoted = re.findall(r'"([^"]+)"', played.summary)
    assert quoted, played.summary
    with (
        smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client,
        pytest.raises(smtplib.SMTPDataError) as refused,
    ):
        client.sendmail("a@b.test", ["c@d.test"], LF_MESSAGE)
    assert refused.value.smtp_code == code
    assert str(code) in played.summary
    assert refused.value.smtp_error.decode().endswith(quoted[-1])
