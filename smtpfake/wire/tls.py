"""TLS helpers for the wire: a handshake cut short on purpose, and short failure reasons.

The real handshakes (after STARTTLS, or the one implicit TLS starts with) are asyncio's own
``loop.start_tls()``; only the ``tls_fail: {how: cut}`` fault needs a handshake driven by hand.
"""

from __future__ import annotations

import ssl

#: RFC 8446 §5.1: a TLS record is at most 2^14 bytes plus its header and expansion; a ClientHello
#: fits in a few of them
CLIENT_HELLO_LIMIT = 65536


class CutHandshake:
    """The server side of a handshake that stops short (sans I/O, on ssl.MemoryBIO): feed it what
    the client sends; once the server's answer is ready, only its first ``limit`` bytes go out
    and the reason for the transcript is known (the caller then closes the connection)."""

    def __init__(self, context: ssl.SSLContext, limit: int) -> None:
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._limit = limit
        self._received = 0

    def feed(self, data: bytes) -> tuple[bytes, str | None]:
        """Bytes from the client -> (bytes to send, the reason once the cut is done; else None)."""
        self._received += len(data)
        self._incoming.write(data)
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            pass  # the ClientHello is not complete yet, or the answer is ready
        except ssl.SSLError as error:
            return b"", f"the client sent no valid ClientHello ({describe(error)})"
        answer = self._outgoing.read()
        if not answer:
            if self._received >= CLIENT_HELLO_LIMIT:
                return b"", "the client sent no valid ClientHello (too long)"
            return b"", None
        sent = answer[: self._limit]
        why = f"cut by the scenario after {len(sent)} of {len(answer)} bytes of the server's "
        why += "handshake"
        return sent, why


def describe(error: BaseException) -> str:
    """A short reason for the transcript: OpenSSL's reason code when there is one."""
    reason = getattr(error, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
