"""A message's MAIL and RCPT parameters on a real socket: smtplib and aiosmtplib send BODY=8BITMIME
(RFC 6152), SMTPUTF8 (RFC 6531) and DSN's RET, ENVID, NOTIFY and ORCPT (RFC 3461) to a server that
advertises DSN; the record has them as sent, RCPT's per recipient."""

from __future__ import annotations

import asyncio
import smtplib

import aiosmtplib

from smtpfake.server import Server

from ..support import TIMEOUT, scenario
from ..support.waits import ended_sessions, kinds

#: the default scenario advertises 8BITMIME and SMTPUTF8, not DSN
DSN = scenario(extensions_add=["DSN"])
MESSAGE = b"Subject: dsn\r\n\r\nbody\r\n"


def test_smtplib_parameters_are_in_the_record_per_recipient(fresh: Server) -> None:
    fresh.use(DSN)
    with smtplib.SMTP(fresh.host, fresh.port, timeout=TIMEOUT) as client:
        client.ehlo("client.test")
        assert client.has_extn("dsn")
        mail = ["BODY=8BITMIME", "SMTPUTF8", "RET=HDRS", "ENVID=QQ314159"]
        assert client.mail("jürgen@x.test", mail)[0] == 250
        assert (
            client.rcpt("b@x.test", ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;B@x.test"])[0] == 250
        )
        assert client.rcpt("c@x.test")[0] == 250
        assert client.rcpt("d@x.test", ["NOTIFY=NEVER"])[0] == 250
        assert client.data(MESSAGE)[0] == 250
    (session,) = ended_sessions(fresh, 1)
    assert kinds(session) == []
    (message,) = fresh.messages
    assert message.mail_options == ("BODY=8BITMIME", "SMTPUTF8", "RET=HDRS", "ENVID=QQ314159")
    assert message.rcpt_tos == ("b@x.test", "c@x.test", "d@x.test")
    assert message.rcpt_options == (
        ("NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;B@x.test"),
        (),
        ("NOTIFY=NEVER",),
    )


def test_smtplib_sendmail_declares_the_size_and_the_default_scenario_takes_8bitmime(
    fresh: Server,
) -> None:
    # sendmail adds size= (lower case, as smtplib writes it) when SIZE is advertised
    with smtplib.SMTP(fresh.host, fresh.port, timeout=TIMEOUT) as client:
        client.sendmail("a@x.test", ["b@x.test"], MESSAGE, mail_options=["BODY=8BITMIME"])
    (message,) = fresh.messages
    assert message.mail_options == (f"size={len(MESSAGE)}", "BODY=8BITMIME")
    assert message.rcpt_options == ((),)


def test_aiosmtplib_parameters_are_in_the_record(fresh: Server) -> None:
    fresh.use(DSN)

    async def send() -> None:
        client = aiosmtplib.SMTP(hostname=fresh.host, port=fresh.port, timeout=TIMEOUT)
        async with client:
            await client.sendmail(
                "a@x.test",
                ["b@x.test", "c@x.test"],
                MESSAGE,
                mail_options=["BODY=8BITMIME", "ENVID=e-1"],
                rcpt_options=["NOTIFY=DELAY"],
            )

    asyncio.run(send())
    (message,) = fresh.messages
    assert message.mail_options[-2:] == ("BODY=8BITMIME", "ENVID=e-1")
    assert message.mail_options[0].upper() == f"SIZE={len(MESSAGE)}"
    # aiosmtplib gives every recipient the same parameters
    assert message.rcpt_options == (("NOTIFY=DELAY",), ("NOTIFY=DELAY",))
