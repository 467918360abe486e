"""One real server for the TLS tests, isolated per test; its generated CA is shared."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator

import pytest

from smtpfake.server import Server


@pytest.fixture(scope="session")
def tls_server() -> Iterator[Server]:
    server = Server("default").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(tls_server: Server, caplog: pytest.LogCaptureFixture) -> Iterator[Server]:
    """The shared server, back to ``default`` with an empty journal. Afterwards neither
    server.errors nor the loop thread's asyncio log may hold anything."""
    caplog.set_level(logging.WARNING, logger="asyncio")
    tls_server.use("default")
    tls_server.reset()
    yield tls_server
    errors = list(tls_server.errors)
    tls_server.use("default")
    tls_server.reset()
    assert not errors, "\n".join(str(e) for e in errors)
    noisy = [r.getMessage() for r in caplog.records if r.name.startswith("asyncio")]
    assert not noisy, noisy


@pytest.fixture
def trusted(tls_server: Server) -> ssl.SSLContext:
    """A client context that trusts the server's throwaway CA (hostname checks on)."""
    context = tls_server.tls_client_context()
    assert context.check_hostname and context.verify_mode is ssl.CERT_REQUIRED
    return context
