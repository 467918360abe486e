"""``smtpfake explain`` reads a pasted log or bounce line where real lines put their codes: a
reply code where a reply line starts or a program quotes one (``said:``, ``: ``, ``smtp;``, a
quote, smtplib's tuple), an enhanced code right after it or, with none, where one stands alone
(a DSN's ``Status:``, ``dsn=``). It took any number followed by a space for a reply code
(``took 250 ms: 550 ...`` explained 250) and, in a line with no reply code, a version
(``Postfix 2.11.3``) for an enhanced code."""

from __future__ import annotations

import subprocess
import sys

import pytest

from smtpfake.explain import ExplainError, explain

#: (where the line comes from, the line, the codes it names)
REAL_LINES = [
    (
        "Postfix bounce",
        "<bob@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1 <bob@example.com>: "
        "Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO "
        "command)",
        ["550", "5.1.1"],
    ),
    (
        "Postfix maillog, deferred",
        "Nov 30 13:47:02 mx postfix/smtp[2501]: 3F2A4C0D1E: to=<bob@example.com>, "
        "relay=mx.example.com[192.0.2.1]:25, delay=250, delays=0.1/0/0.2/250, dsn=4.7.1, "
        "status=deferred (host mx.example.com[192.0.2.1] said: 451 4.7.1 Greylisted, see "
        "http://postgrey.schweikert.ch/help/example.com.html (in reply to RCPT TO command))",
        ["451", "4.7.1"],
    ),
    (
        "Postfix maillog, no reply (the dsn= field)",
        "Nov 30 13:47:02 mx postfix/smtp[2501]: 3F2A4C0D1E: to=<bob@example.com>, relay=none, "
        "delay=300, delays=0.01/0/300/0, dsn=4.4.1, status=deferred (connect to "
        "mx.example.com[192.0.2.1]:587: Connection timed out)",
        ["4.4.1"],
    ),
    (
        "Postfix smtpd reject",
        "Nov 30 13:47:02 mx postfix/smtpd[250]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: "
        "554 5.7.1 <bob@example.com>: Relay access denied; from=<a@example.org> "
        "to=<bob@example.com> proto=ESMTP helo=<client.example.org>",
        ["554", "5.7.1"],
    ),
    (
        "Exim mainlog",
        "2026-11-30 13:47:02 1kXyZa-000250-Cd ** bob@example.com R=dnslookup T=remote_smtp "
        "H=mx.example.com [192.0.2.1] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes: SMTP error "
        "from remote mail server after RCPT TO:<bob@example.com>: 550 5.1.1 User unknown",
        ["550", "5.1.1"],
    ),
    (
        "Exim bounce, the reply on its own line",
        "    550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown",
        ["550", "5.1.1"],
    ),
    (
        "Gmail bounce",
        "550-5.1.1 The email account that you tried to reach does not exist. Please try "
        "https://support.google.com/mail/?p=NoSuchUser d2si123.250 - gsmtp",
        ["550", "5.1.1"],
    ),
    (
        "Gmail's deferral",
        "421-4.7.0 [192.0.2.1      15] Our system has detected an unusual rate of unsolicited "
        "mail originating from your IP address.",
        ["421", "4.7.0"],
    ),
    (
        "a DSN's Diagnostic-Code",
        "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist",
        ["550", "5.1.1"],
    ),
    ("a DSN's Status", "Status: 5.1.1 (bad destination mailbox address)", ["5.1.1"]),
    (
        "Exchange NDR",
        "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient "
        "bob@contoso.com not found by SMTP address lookup'",
        ["550", "5.1.10"],
    ),
    (
        "Exchange 2003 NDR",
        "<mail.example.com #5.5.0 smtp;554 5.7.1 <bob@example.com>: Relay access denied>",
        ["554", "5.7.1"],
    ),
    ("Exchange, legacy", "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##", ["550", "5.1.1"]),
    (
        "sendmail maillog",
        "Nov 30 13:47:02 mx sendmail[250]: xAUDl2ab012345: to=<bob@example.com>, delay=00:00:01, "
        "xdelay=00:00:01, mailer=esmtp, pri=120250, relay=mx.example.com. [192.0.2.1], "
        "dsn=4.0.0, stat=Deferred: 421 4.3.0 try again later",
        ["421", "4.3.0"],
    ),
    ("sendmail transcript", "<<< 550 5.1.1 <bob@example.com>... User unknown", ["550", "5.1.1"]),
    ("swaks", " <** 550 5.1.1 <bob@example.com>: Recipient address rejected", ["550", "5.1.1"]),
    (
        "smtpfake serve's text log",
        "2026-11-30T13:47:02.250Z session 250 [srv-1] S: 450 4.2.1 Mailbox busy",
        ["450", "4.2.1"],
    ),
    (
        "smtpfake serve's JSON log",
        '{"time": "2026-11-30T13:47:02.250Z", "ts": 1764510422.25, "event": "reply", "text": '
        '"421 4.4.2 smtpfake.test Error: timeout exceeded", "session": 250, "side": "server"}',
        ["421", "4.4.2"],
    ),
    ("Python logging", "ERROR:mailer:550 5.1.1 User unknown", ["550", "5.1.1"]),
    (
        "smtplib",
        "smtplib.SMTPRecipientsRefused: {'bob@example.com': (550, b'5.1.1 User unknown')}",
        ["550", "5.1.1"],
    ),
    (
        "a Java client",
        "com.sun.mail.smtp.SMTPAddressFailedException: 550 5.1.1 <bob@example.com>: User unknown",
        ["550", "5.1.1"],
    ),
]


@pytest.mark.parametrize(
    ("line", "codes"), [r[1:] for r in REAL_LINES], ids=[r[0] for r in REAL_LINES]
)
def test_a_real_line_names_its_codes(line: str, codes: list[str]) -> None:
    assert explain([line]) == explain(codes)


#: (a line, the codes it names): numbers that stand where no reply code stands
FALSE_FRIENDS = [
    ("took 250 ms: 550 5.1.1 user unknown", ["550", "5.1.1"]),
    ("sent 354 bytes, then: 451 4.3.0 try later", ["451", "4.3.0"]),
    ("elapsed: 250 ms: 421 Service not available", ["421"]),
    ("retry in 300 seconds; last reply: 452 4.5.3 Too many recipients", ["452", "4.5.3"]),
    ("220 mx.example.com ESMTP Postfix 2.11.3", ["220"]),
    ("Postfix 2.11.3 (Debian) said: 550 5.7.1 rejected", ["550", "5.7.1"]),
]


@pytest.mark.parametrize(("line", "codes"), FALSE_FRIENDS)
def test_a_number_where_no_code_stands_is_not_taken_for_one(line: str, codes: list[str]) -> None:
    assert explain([line]) == explain(codes)


@pytest.mark.parametrize(
    "line",
    [
        "Postfix 2.11.3 on mx.example.com",  # a version, not 2.11.3 (no such class either)
        "mail server Postfix 4.1.2 restarted",  # a version that has the shape of a code
        "connection timed out after 300 seconds",
        "queue run took 250 ms",
        "Nov 30 13:47:02 mx postfix/smtpd[421]: connect from unknown[192.0.2.1]:587",
    ],
)
def test_a_line_with_only_false_friends_names_no_code(line: str) -> None:
    with pytest.raises(ExplainError, match=r"^no reply code found in "):
        explain([line])


def test_the_command_explains_the_reply_code_of_a_line_with_a_delay_in_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "smtpfake", "explain", "took 250 ms: 550 5.1.1 user unknown"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("Comparing SMTP status codes 550 and 5.1.1\n")
