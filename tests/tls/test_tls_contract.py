"""The asyncio internals the TLS upgrade relies on (smtpfake/wire/tls.py, the adapter's
_start_tls). If a Python release changes them, these fail with a message saying what moved,
instead of handshakes hanging or sessions ending with an internal error."""

from __future__ import annotations

import asyncio
import inspect
import ssl
import sys
from asyncio import sslproto


def test_ssl_protocol_takes_what_upgrade_passes() -> None:
    params = inspect.signature(sslproto.SSLProtocol).parameters
    wanted = ["loop", "app_protocol", "sslcontext", "waiter", "server_side"]
    wanted += ["call_connection_made", "ssl_handshake_timeout"]
    if sys.version_info >= (3, 11):
        wanted.append("ssl_shutdown_timeout")
    missing = [name for name in wanted if name not in params]
    assert not missing, f"asyncio.sslproto.SSLProtocol lost parameters: {missing}"


def test_ssl_protocol_has_its_app_transport_from_the_start() -> None:
    async def check() -> None:
        loop = asyncio.get_running_loop()
        layer = sslproto.SSLProtocol(
            loop,
            asyncio.Protocol(),
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH),
            loop.create_future(),
            server_side=True,
            call_connection_made=False,
        )
        transport = getattr(layer, "_app_transport", None)
        assert isinstance(transport, asyncio.Transport), "SSLProtocol._app_transport moved"
        # the stream plumbing can be fed and re-pointed as the adapter does
        assert isinstance(layer, asyncio.BufferedProtocol | asyncio.Protocol)

    asyncio.run(check())


def test_streams_keep_their_transport_and_buffer_where_the_adapter_looks() -> None:
    async def check() -> None:
        reader = asyncio.StreamReader()
        assert isinstance(getattr(reader, "_buffer", None), bytearray)
        assert hasattr(reader, "_transport")
        protocol = asyncio.StreamReaderProtocol(reader)
        writer = asyncio.StreamWriter(_Closed(), protocol, reader, asyncio.get_running_loop())
        assert hasattr(writer, "_transport"), "StreamWriter._transport moved"

    asyncio.run(check())


class _Closed(asyncio.Transport):
    def is_closing(self) -> bool:
        return True  # StreamWriter.__del__ asks (3.12+)
