"""A one-shot client for ``smtpfake probe``: Python's smtplib, as an application would use it.

Reads the probe's environment (SMTP_HOST, SMTP_PORT, SMTP_TLS, SMTP_CA_FILE, SMTP_USER,
SMTP_PASSWORD, SMTP_FROM, SMTP_TO, SMTP_MESSAGE_FILE), sends the message once with
``SMTP.sendmail`` and exits as sendmail does: 0 delivered, 75 (EX_TEMPFAIL) for a transient
failure (a 4yz reply, a lost connection, a timeout), 1 for a permanent one (a 5yz reply).

    smtpfake probe -j 4 -- python scripts/probe_clients/smtplib_send.py
"""

from __future__ import annotations

import os
import smtplib
import ssl
import sys
from pathlib import Path

from smtpfake.probe.outcomes import EXIT, classify


def send() -> int:
    env = os.environ
    host, port = env["SMTP_HOST"], int(env["SMTP_PORT"])
    tls = env.get("SMTP_TLS", "none")
    context = ssl.create_default_context(cafile=env.get("SMTP_CA_FILE") or None)
    message = Path(env["SMTP_MESSAGE_FILE"]).read_bytes()
    recipients = env["SMTP_TO"].split(",")
    if tls == "implicit":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=60, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=60)
    with smtp:
        if tls == "starttls":
            smtp.starttls(context=context)  # raises SMTPNotSupportedError when not offered
        if env.get("SMTP_USER"):
            smtp.login(env["SMTP_USER"], env["SMTP_PASSWORD"])
        refused = smtp.sendmail(env["SMTP_FROM"], recipients, message)
    for rcpt, (code, text) in refused.items():
        print(f"refused {rcpt}: {code} {text!r}", file=sys.stderr)
    return 0


def main() -> int:
    try:
        return send()
    except Exception as exc:  # reported through the exit status, as sendmail does
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT[classify(exc)]


if __name__ == "__main__":
    sys.exit(main())
