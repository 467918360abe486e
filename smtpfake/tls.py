"""Certificates and server-side SSL contexts for scenarios with ``server.tls``.

A scenario either names its certificate and key files, or gets a certificate generated at start
for the server's hostname, ``localhost``, ``127.0.0.1`` and ``::1``, issued by a throwaway
certificate authority. A test trusts that CA (``Server.tls_ca_file``, ``tls_client_context()``)
and so verifies the server with hostname checking on, as a production client would.

Generating certificates needs the optional ``trustme`` package (``pip install 'smtpfake[tls]'``),
which builds them with ``cryptography``; without it, only scenarios that name their own files
can use TLS, and the others fail to load with a message that says so.
"""

from __future__ import annotations

import ssl
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from smtpfake.scenario.errors import Problem, ScenarioError
from smtpfake.scenario.model import Location, ServerSettings, TlsSettings

#: the names every generated certificate is valid for, besides the scenario's hostname
LOCAL_NAMES: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")

TRUSTME_MISSING = (
    "server.tls: no certificate is given, so smtpfake generates one, which needs the 'trustme' "
    "package: pip install 'smtpfake[tls]' (or give certificate: and key: PEM files)"
)


class TlsUnavailable(RuntimeError):
    """TLS cannot be set up here (the optional ``trustme`` package is missing)."""


class Authority:
    """A throwaway certificate authority that issues the server's certificates (via trustme).

    Its certificate is what a test trusts: ``ca_pem``, ``ca_file`` or ``client_context()``. The
    file lives in a temporary folder removed when the authority is garbage-collected or at exit.
    """

    def __init__(self) -> None:
        import shutil  # here, not at the top: a server without TLS starts without them
        import tempfile
        from pathlib import Path

        try:
            import trustme
        except ImportError as missing:
            raise TlsUnavailable(TRUSTME_MISSING) from missing
        self._ca = trustme.CA(organization_name="smtpfake", organization_unit_name="test CA")
        self.ca_pem: str = self._ca.cert_pem.bytes().decode("ascii")
        folder = tempfile.mkdtemp(prefix="smtpfake-ca-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, folder, True)
        self.ca_file: str = str(Path(folder) / "ca.pem")
        Path(self.ca_file).write_text(self.ca_pem, encoding="ascii")

    def server_context(self, names: Sequence[str]) -> ssl.SSLContext:
        """A server context with a fresh certificate for these names (DNS names or IPs)."""
        context = server_context()
        self._ca.issue_cert(*names).configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA only, with hostname checking on."""
        return ssl.create_default_context(cafile=self.ca_file)


def server_context() -> ssl.SSLContext:
    """Python's defaults for a server (TLS 1.2 or later, no client certificate asked for)."""
    return ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)


def certificate_names(hostname: str, host: str) -> tuple[str, ...]:
    """What a generated certificate covers: the scenario's hostname, the local names, and the
    address the server listens on (unless it is a wildcard)."""
    names = [hostname, *LOCAL_NAMES]
    if host and host not in names and not _is_wildcard(host):
        names.append(host)
    return tuple(dict.fromkeys(n for n in names if n))


def _is_wildcard(host: str) -> bool:
    import ipaddress  # only for a generated certificate: a server without TLS starts without it

    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


class TlsContexts:
    """The server-side contexts a server's scenarios need, built once each; thread-safe.

    Built when a scenario comes into force (``Server()``, ``use()``), so a missing file or
    package is a load error in the caller's thread, not a failed handshake later.
    """

    def __init__(self, host: str) -> None:
        self.host = host
        self._lock = threading.Lock()
        self._authority: Authority | None = None
        self._contexts: dict[Any, ssl.SSLContext] = {}

    @property
    def authority(self) -> Authority:
        """The throwaway CA, created on first use."""
        with self._lock:
            if self._authority is None:
                self._authority = Authority()
            return self._authority

    def context(self, settings: ServerSettings) -> ssl.SSLContext | None:
        """The context for these settings, or None when they have no TLS. Raises ScenarioError
        (at ``server.tls`` in the scenario) when it cannot be built."""
        tls = settings.tls
        if not tls.enabled:
            return None
        key: Any = (
            (tls.certificate, tls.key) if tls.certificate else ("generated", settings.hostname)
        )
        with self._lock:
            found = self._contexts.get(key)
        if found is not None:
            return found
        made = self._build(tls, settings.hostname)
        with self._lock:
            return self._contexts.setdefault(key, made)

    def _build(self, tls: TlsSettings, hostname: str) -> ssl.SSLContext:
        if tls.certificate is None:
            try:
                authority = self.authority
            except TlsUnavailable as error:
                raise _problem(tls, str(error)) from None
            return authority.server_context(certificate_names(hostname, self.host))
        context = server_context()
        try:
            context.load_cert_chain(tls.certificate, tls.key)
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            files = tls.certificate if tls.key is None else f"{tls.certificate} and {tls.key}"
            detail = getattr(error, "reason", None) or error
            raise _problem(tls, f"server.tls: cannot use {files}: {detail}") from None
        return context


def _problem(tls: TlsSettings, message: str) -> ScenarioError:
    """``message`` (which names ``server.tls``) at the scenario's ``tls:`` key; settings made in
    Python (no location) have no file to point into: the message alone."""
    where = tls.location or Location("", 0, 0)
    return ScenarioError([Problem(where, message)])
