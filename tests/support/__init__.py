"""Helpers shared by the test packages: a raw socket client (``raw``), bounded waits on the journal
(``waits``) and a sans-I/O engine driver (``engine``). The shared server fixtures are in
``tests/conftest.py``."""

from __future__ import annotations

from typing import Any

# The client timeout for every socket a test opens.
TIMEOUT = 5.0


def scenario(*rules: dict[str, Any], **server: Any) -> dict[str, Any]:
    """A scenario as a dict, the way ``server.use({...})`` takes it."""
    out: dict[str, Any] = {"summary": "test scenario", "expect": "whatever the test says"}
    if rules:
        out["rules"] = list(rules)
    if server:
        out["server"] = server
    return out
