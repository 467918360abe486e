"""The ``proxy:HOST:PORT`` delivery back end: each accepted message relayed to a real server
(Mailpit, Postfix, another smtpfake) with the standard library's smtplib.

aiosmtpd's ``Proxy`` does the same relay but answers "250 OK" whatever happened (a relay that is
down, every recipient refused: logged, then dropped), connects without a timeout (a relay that
accepts and never answers held the process at exit), drops MAIL's BODY= and SMTPUTF8 (an 8-bit
message reached the relay undeclared, an SMTPUTF8 one not at all) and adds an ``X-Peer`` header.
A test double must not lose or change mail silently, so this back end relays the message as the
client sent it, with the MAIL parameters that say what it is, and reports what Proxy drops: a
recipient the relay refused is a non-2xx status; a relay that cannot be reached, breaks off or
does not answer within ``timeout`` seconds raises; either is a server error (``Server.errors``).
aiosmtpd's ``Proxy`` still works as a handler object of your own.
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from typing import Any

#: seconds the relay may take to connect or to answer any one command (smtplib's timeout)
RELAY_TIMEOUT = 10.0


def relayed_options(mail_options: Sequence[str]) -> list[str]:
    """MAIL's parameters that say what the message is, passed on: BODY= (RFC 6152: 8-bit
    content) and SMTPUTF8 (RFC 6531: UTF-8 addresses and header). SIZE is smtplib's own to send;
    DSN's RET/ENVID (RFC 3461) would need the relay to offer DSN, and are not passed on."""
    return [o for o in mail_options if o.upper().startswith("BODY=") or o.upper() == "SMTPUTF8"]


class RelayError(Exception):
    """The relay could not be reached, broke off, or did not answer within the timeout."""


class Relay:
    """An aiosmtpd handler relaying each message to ``host``:``port``. ``handle_DATA`` returns
    "250 OK" when the relay took it for every recipient, else a 5xx/4xx status naming each refused
    recipient and the relay's reply; it raises :class:`RelayError` (the cause chained) when the
    relay could not be reached, broke off or refused the sender or the message, or did not
    answer a step within ``timeout`` seconds (smtplib's timeout, per socket operation)."""

    def __init__(self, host: str, port: int, timeout: float = RELAY_TIMEOUT) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Relay({self.host!r}, {self.port}, timeout={self.timeout:g})"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.content
        data = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
        options = relayed_options(envelope.mail_options)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as relay:
                refused = relay.sendmail(
                    envelope.mail_from, envelope.rcpt_tos, bytes(data), mail_options=options
                )
        except smtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients
        except (OSError, smtplib.SMTPException) as exc:
            raise RelayError(f"relay {self.host}:{self.port}: {exc}") from exc
        if not refused:
            return "250 OK"
        worst = max(code for code, _ in refused.values())
        code = worst if 400 <= worst < 600 else 554
        said = "; ".join(
            f"{rcpt}: {c} {m.decode('utf-8', 'replace') if isinstance(m, bytes) else m}"
            for rcpt, (c, m) in refused.items()
        )
        return f"{code} relay {self.host}:{self.port} refused {said}"
