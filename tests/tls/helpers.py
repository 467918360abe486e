"""TLS-specific helpers; the raw client (with ``tls()`` and ``implicit=``) and the waits are in
tests/support/."""

from __future__ import annotations

from smtpfake.journal import SessionRecord

BODY = "Subject: hello\r\n\r\nhi there\r\n"


def keywords(ehlo_reply: list[bytes]) -> list[str]:
    """The EHLO keywords of a 250 reply (the first line is the hostname)."""
    return [line[4:].decode().strip().split(" ", 1)[0].upper() for line in ehlo_reply[1:]]


def server_notes(record: SessionRecord) -> list[str]:
    """The server's parenthesised notes in a transcript: "(TLS established: ...)" and such."""
    return [e.text for e in record.transcript if e.side == "server" and e.text.startswith("(")]
