"""Server-side TLS on a connection that is already open: the upgrade after STARTTLS, the
handshake implicit TLS starts with, and a handshake cut short on purpose.

``upgrade`` does what ``loop.start_tls()`` does (the same on Python 3.10 to 3.13), with one
difference: bytes the stream reader already holds are handed to the TLS layer first. With
implicit TLS the client's ClientHello can arrive before the server starts its handshake, and
``loop.start_tls()`` would leave it in the reader, stalling the handshake.
tests/tls/test_tls_contract.py fails loudly if the asyncio internals used here change.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from asyncio import sslproto
from typing import Any

#: RFC 8446 §5.1: a TLS record is at most 2^14 bytes plus its header and expansion; a ClientHello
#: fits in a few of them
_CLIENT_HELLO_LIMIT = 65536


async def upgrade(
    transport: asyncio.BaseTransport,
    protocol: asyncio.BaseProtocol,
    context: ssl.SSLContext,
    *,
    early: bytes = b"",
    timeout: float = 60.0,
) -> asyncio.Transport:
    """Run the server side of a TLS handshake on ``transport``; ``protocol`` then receives the
    plain text. Returns the TLS transport; raises OSError (ssl.SSLError, ConnectionError) when
    the handshake fails, is cut or takes longer than ``timeout``. On failure the connection is
    closed; asyncio does not call ``protocol.connection_lost()`` for it."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    options: dict[str, Any] = {"ssl_handshake_timeout": timeout}
    if sys.version_info >= (3, 11):
        # Closing waits this long for the client's close_notify (30 s by default).
        options["ssl_shutdown_timeout"] = 5.0
    layer: Any = sslproto.SSLProtocol(
        loop,
        protocol,
        context,
        waiter,
        server_side=True,
        call_connection_made=False,
        **options,
    )
    raw: Any = transport
    raw.set_protocol(layer)
    # At once, not with call_soon as loop.start_tls() does: nothing can be read in between, so
    # the early bytes and whatever arrives later reach the TLS layer in order.
    layer.connection_made(raw)
    if early:
        feed(layer, early)
    try:
        await waiter
    except BaseException:
        raw.close()
        raise
    tls_transport: asyncio.Transport | None = layer._app_transport
    if tls_transport is None:
        # Python 3.11+ ends the handshake without an error when the connection is aborted
        # under it (the server stopping, say): the TLS transport is gone already.
        raw.close()
        raise ConnectionAbortedError("the connection was closed during the TLS handshake")
    return tls_transport


def feed(protocol: asyncio.BaseProtocol, data: bytes) -> None:
    """Hand received bytes to a protocol, as a transport would (buffered or not)."""
    if isinstance(protocol, asyncio.BufferedProtocol):
        view = memoryview(data)
        while view:
            target = memoryview(protocol.get_buffer(len(view)))
            size = min(len(target), len(view))
            target[:size] = view[:size]
            protocol.buffer_updated(size)
            view = view[size:]
    elif isinstance(protocol, asyncio.Protocol):
        protocol.data_received(data)
    else:
        raise TypeError(f"cannot feed data to {protocol!r}")


async def cut_handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    context: ssl.SSLContext,
    limit: int,
    early: bytes = b"",
    timeout: float = 60.0,
) -> str:
    """Start a handshake and stop it short: read the ClientHello, send the first ``limit`` bytes
    of the server's answer, and return what happened (the caller closes the connection).
    ``early``: bytes of the ClientHello already taken from the reader."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_side=True)
    deadline = asyncio.get_running_loop().time() + timeout
    received = 0
    answer = b""
    pending = early  # what the reader held before the handshake began (implicit TLS)
    while not answer and received < _CLIENT_HELLO_LIMIT:
        left = deadline - asyncio.get_running_loop().time()
        data = pending or await asyncio.wait_for(reader.read(_CLIENT_HELLO_LIMIT), max(left, 0.001))
        pending = b""
        if not data:
            return "the client closed before its ClientHello"
        received += len(data)
        incoming.write(data)
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            pass  # the ClientHello is not complete yet, or the answer is ready
        except ssl.SSLError as error:
            return f"the client sent no valid ClientHello ({describe(error)})"
        answer = outgoing.read()
    sent = answer[:limit]
    writer.write(sent)
    await writer.drain()
    return f"cut by the scenario after {len(sent)} of {len(answer)} bytes of the server's handshake"


def describe(error: BaseException) -> str:
    """A short reason for the transcript: OpenSSL's reason code when there is one."""
    reason = getattr(error, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
