"""Helpers shared by the test packages: a raw socket client (``raw``), bounded waits on the journal
(``waits``) and a sans-I/O engine driver (``engine``). The shared server fixtures are in
``tests/conftest.py``."""

from __future__ import annotations

from typing import Any

# The client timeout for every socket a test opens.
TIMEOUT = 5.0

#: The grace period of the shared servers (tests/conftest.py, tests/sidecar/conftest.py), seconds:
#: what a client still sends after the server's last reply is read for this long. Tests that send
#: after a close do so at once or within 0.2 s; most others keep their socket open after the
#: server's close and wait for the session to end, which the default 1 s would hold up. The
#: default's own tests make servers of their own.
SHARED_GRACE = 0.5


def scenario(*rules: dict[str, Any], **server: Any) -> dict[str, Any]:
    """A scenario as a dict, the way ``server.use({...})`` takes it."""
    out: dict[str, Any] = {"summary": "test scenario", "expect": "whatever the test says"}
    if rules:
        out["rules"] = list(rules)
    if server:
        out["server"] = server
    return out
