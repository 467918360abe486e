"""A sidecar of a test's own: a fresh in-process Server with the HTTP API over it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from smtpfake.http import ApiServer
from smtpfake.server import Server


@contextlib.contextmanager
def own_sidecar(scenario: str = "default", **api: Any) -> Iterator[ApiServer]:
    """Server(``scenario``) started, an ApiServer(``**api``) over it, both stopped at the end;
    yields the API (its ``server`` is the SMTP side)."""
    server = Server(scenario).start()
    try:
        with ApiServer(server, **api) as sidecar:
            yield sidecar
    finally:
        server.stop()
