"""Per-recipient outcomes within one transaction: one RCPT 250, the next 550 5.1.1, the next 452."""

from __future__ import annotations

import smtplib

from smtpfake.server import Server

RULES = {
    "rules": [
        {"on": "rcpt", "nth": 2, "reply": "550 5.1.1 No such user here"},
        {"on": "rcpt", "nth": 3, "reply": "452 4.2.2 Mailbox full, try later"},
    ]
}


def test_mixed_outcomes_deliver_to_the_accepted_recipients_only(server: Server) -> None:
    server.use(RULES)
    with smtplib.SMTP(server.host, server.port, timeout=5) as smtp:
        refused = smtp.sendmail(
            "a@x.test", ["ok@y.test", "gone@y.test", "full@y.test"], b"Subject: t\r\n\r\nx\r\n"
        )
    # smtplib reports the refused ones; a correct client bounces 550 and retries 452 later
    assert refused == {
        "gone@y.test": (550, b"5.1.1 No such user here"),
        "full@y.test": (452, b"4.2.2 Mailbox full, try later"),
    }
    assert server.journal.wait(lambda j: len(j.messages()) == 1, 5)
    (message,) = server.messages
    assert message.rcpt_tos == ("ok@y.test",)
    assert server.sessions[0].reply_codes[3:6] == (250, 550, 452)


def test_a_transaction_whose_every_recipient_is_refused_gets_no_data(server: Server) -> None:
    server.use({"rules": [{"on": "rcpt", "reply": "550 5.1.1 No such user here"}]})
    with smtplib.SMTP(server.host, server.port, timeout=5) as smtp:
        try:
            smtp.sendmail("a@x.test", ["a@y.test", "b@y.test"], b"x\r\n")
        except smtplib.SMTPRecipientsRefused as exc:
            assert set(exc.recipients) == {"a@y.test", "b@y.test"}
        else:
            raise AssertionError("all recipients were refused: sendmail must raise")
    assert server.messages == ()
