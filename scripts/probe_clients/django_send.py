"""A one-shot client for ``smtpfake probe``: Django's SMTP e-mail backend (``send_mail`` as a
Django view would call it; needs ``pip install django``). Django composes the message itself
from the subject and text of SMTP_MESSAGE_FILE. Exit 0 delivered, 75 transient, 1 permanent.

    smtpfake probe -j 4 -- python scripts/probe_clients/django_send.py
"""

from __future__ import annotations

import email
import email.policy
import os
import ssl
import sys

import django
from django.conf import settings

from smtpfake.probe.outcomes import EXIT, classify


def send() -> None:
    env = os.environ
    tls = env.get("SMTP_TLS", "none")
    settings.configure(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST=env["SMTP_HOST"],
        EMAIL_PORT=int(env["SMTP_PORT"]),
        EMAIL_USE_TLS=tls == "starttls",
        EMAIL_USE_SSL=tls == "implicit",
        EMAIL_HOST_USER=env.get("SMTP_USER", ""),
        EMAIL_HOST_PASSWORD=env.get("SMTP_PASSWORD", ""),
        EMAIL_TIMEOUT=60,
    )
    django.setup()
    from django.core.mail import EmailMessage, get_connection

    with open(env["SMTP_MESSAGE_FILE"], "rb") as f:
        parsed = email.message_from_binary_file(f, policy=email.policy.default)
    body = parsed.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    connection = get_connection(fail_silently=False)
    # trust the probe's CA (Django's own context trusts no CA file of ours)
    connection.ssl_context = ssl.create_default_context(cafile=env.get("SMTP_CA_FILE") or None)
    message = EmailMessage(
        str(parsed["Subject"]), text, env["SMTP_FROM"], env["SMTP_TO"].split(","),
        connection=connection,
    )  # fmt: skip
    message.send()


def main() -> int:
    try:
        send()
    except Exception as exc:  # reported through the exit status, as sendmail does
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT[classify(exc)]
    return 0


if __name__ == "__main__":
    sys.exit(main())
