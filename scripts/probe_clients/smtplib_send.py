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

EX_TEMPFAIL = 75


def send() -> int:
    env = os.environ
    host, port = env["SMTP_HOST"], int(env["SMTP_PORT"])
    tls = env.get("SMTP_TLS", "none")
    context = ssl.create_default_context(cafile=env.get("SMTP_CA_FILE") or None)
    message = open(env["SMTP_MESSAGE_FILE"], "rb").read()
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
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        print(f"recipients refused: {exc.recipients}", file=sys.stderr)
        return 1 if all(c >= 500 for c in codes) else EX_TEMPFAIL
    except smtplib.SMTPResponseException as exc:
        print(f"{exc.smtp_code} {exc.smtp_error!r}", file=sys.stderr)
        return EX_TEMPFAIL if 400 <= exc.smtp_code < 500 else 1
    except smtplib.SMTPNotSupportedError as exc:
        print(f"not supported: {exc}", file=sys.stderr)
        return 1
    except (OSError, smtplib.SMTPException) as exc:  # lost, refused, timed out, TLS failed
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EX_TEMPFAIL


if __name__ == "__main__":
    sys.exit(main())
