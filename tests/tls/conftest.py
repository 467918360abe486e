"""The TLS tests use the shared server (tests/conftest.py); its generated CA is shared too. Tests
that must run on each event loop take ``fresh`` (tests/support/looped.py) instead."""

from __future__ import annotations

import ssl

import pytest

from smtpfake.server import Server

from ..support.looped import fresh, looped

__all__ = ["fresh", "looped"]


@pytest.fixture
def trusted(shared_server: Server) -> ssl.SSLContext:
    """A client context that trusts the server's throwaway CA (hostname checks on)."""
    context = shared_server.tls_client_context()
    assert context.check_hostname and context.verify_mode is ssl.CERT_REQUIRED
    return context
