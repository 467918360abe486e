"""The TLS tests use the shared server (tests/conftest.py); its generated CA is shared too."""

from __future__ import annotations

import ssl

import pytest

from smtpfake.server import Server


@pytest.fixture
def trusted(shared_server: Server) -> ssl.SSLContext:
    """A client context that trusts the server's throwaway CA (hostname checks on)."""
    context = shared_server.tls_client_context()
    assert context.check_hostname and context.verify_mode is ssl.CERT_REQUIRED
    return context
