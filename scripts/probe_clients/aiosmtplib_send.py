"""A one-shot client for ``smtpfake probe``: aiosmtplib's ``send()``, as an asyncio application
would call it. Exit 0 delivered, 75 transient, 1 permanent (smtpfake.probe.outcomes.classify).

    smtpfake probe -j 4 -- python scripts/probe_clients/aiosmtplib_send.py
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys

import aiosmtplib

from smtpfake.probe.outcomes import EXIT, classify


async def send() -> None:
    env = os.environ
    tls = env.get("SMTP_TLS", "none")
    context = ssl.create_default_context(cafile=env.get("SMTP_CA_FILE") or None)
    with open(env["SMTP_MESSAGE_FILE"], "rb") as f:
        message = f.read()
    errors, _ = await aiosmtplib.send(
        message,
        sender=env["SMTP_FROM"],
        recipients=env["SMTP_TO"].split(","),
        hostname=env["SMTP_HOST"],
        port=int(env["SMTP_PORT"]),
        use_tls=tls == "implicit",
        start_tls=True if tls == "starttls" else None if tls == "none" else False,
        tls_context=context,
        username=env.get("SMTP_USER") or None,
        password=env.get("SMTP_PASSWORD") or None,
        timeout=60,
    )
    for rcpt, response in errors.items():
        print(f"refused {rcpt}: {response}", file=sys.stderr)


def main() -> int:
    try:
        asyncio.run(send())
    except Exception as exc:  # reported through the exit status, as sendmail does
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT[classify(exc)]
    return 0


if __name__ == "__main__":
    sys.exit(main())
