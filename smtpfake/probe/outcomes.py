"""How a one-shot client's report becomes an outcome class: delivered, transient, permanent.

A command reports by its exit status; the default map is sendmail's (sysexits.h): 0 delivered,
75 (EX_TEMPFAIL) transient, anything else permanent. A Python send function reports by returning
(delivered) or raising (:func:`classify`).
"""

from __future__ import annotations

import smtplib
import socket
from dataclasses import dataclass

EX_TEMPFAIL = 75  # sysexits.h: "temporary failure, the user is invited to retry"


class Transient(Exception):
    """Raise from a send function to report a transient failure (keep the message, retry)."""


class Permanent(Exception):
    """Raise from a send function to report a permanent failure (bounce, do not retry)."""


@dataclass(frozen=True)
class ExitMap:
    """Exit statuses -> outcomes; a status in neither list is permanent (killed by a signal
    too)."""

    delivered: tuple[int, ...] = (0,)
    transient: tuple[int, ...] = (EX_TEMPFAIL,)

    def outcome(self, status: int) -> str:
        if status in self.delivered:
            return "delivered"
        if status in self.transient:
            return "transient"
        return "permanent"

    @classmethod
    def parse(cls, text: str) -> ExitMap:
        """``delivered=0,transient=75:69`` (each class's statuses, ``:``-separated).

        Raises ValueError with a message for the command line."""
        kw: dict[str, tuple[int, ...]] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, eq, codes = part.partition("=")
            if not eq or name not in ("delivered", "transient"):
                raise ValueError(f"expected delivered=N or transient=N[:N...], got {part!r}")
            try:
                kw[name] = tuple(int(c) for c in codes.split(":"))
            except ValueError:
                raise ValueError(f"{name}: expected numbers, got {codes!r}") from None
        return cls(**kw)


def reply_code_class(code: int) -> str:
    """RFC 5321 §4.2.1: 4yz transient negative, 5yz permanent negative."""
    return "transient" if 400 <= code < 500 else "permanent"


def classify(exc: BaseException) -> str:
    """The outcome a send function's exception reports: Transient/Permanent as raised; an
    SMTP error by its reply code (for refused recipients: permanent only when every one was
    refused with 5yz); a lost or refused connection or a timeout (smtplib, aiosmtplib, OSError)
    is transient, since the server never took the message."""
    if isinstance(exc, Transient):
        return "transient"
    if isinstance(exc, Permanent):
        return "permanent"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return "permanent" if codes and all(c >= 500 for c in codes) else "transient"
    refused = getattr(exc, "recipients", None)  # aiosmtplib: a list of SMTPRecipientRefused
    if isinstance(refused, list) and refused:
        codes = [getattr(r, "code", 0) for r in refused]
        return "permanent" if all(c >= 500 for c in codes) else "transient"
    code = getattr(exc, "smtp_code", None) or getattr(exc, "code", None)
    if isinstance(code, int) and 400 <= code < 600:
        return reply_code_class(code)
    if isinstance(exc, OSError | socket.timeout | smtplib.SMTPServerDisconnected | TimeoutError):
        return "transient"
    if type(exc).__module__.startswith("aiosmtplib") and "Connect" in type(exc).__name__:
        return "transient"
    if "Disconnect" in type(exc).__name__ or "Timeout" in type(exc).__name__:
        return "transient"
    return "permanent"


#: the default exit status for each outcome, for client scripts that report like sendmail
EXIT: dict[str, int] = {"delivered": 0, "transient": EX_TEMPFAIL, "permanent": 1}
