"""AUTH scenario builders and encodings (the driver and raw client are in tests/support/)."""

from __future__ import annotations

import base64
from typing import Any

USERS = {"alice": "secret", "bob": "hunter2"}


def auth_scenario(*rules: dict[str, Any], **auth: Any) -> dict[str, Any]:
    """A scenario dict with ``server.auth`` (users alice/secret and bob/hunter2 by default)."""
    out: dict[str, Any] = {
        "summary": "auth test",
        "expect": "whatever the test says",
        "server": {"auth": {"users": USERS, **auth}},
    }
    if rules:
        out["rules"] = list(rules)
    return out


def b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def plain(user: str, password: str, authzid: str = "") -> str:
    """An RFC 4616 PLAIN response, base64-encoded."""
    return b64(f"{authzid}\0{user}\0{password}")
