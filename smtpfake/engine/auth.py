"""The SASL exchange of SMTP AUTH (RFC 4954), as pure functions: PLAIN (RFC 4616) and LOGIN.

The session carries the lines and turns each step into a 334 challenge or the verdict's reply;
nothing here records, replies or changes a session.
"""

from __future__ import annotations

import base64
import re

# re-exported ("as"): what the transcript shows of AUTH lines, in a module of its own
from smtpfake.engine.auth_mask import AUTH_LINE_LIMIT as AUTH_LINE_LIMIT
from smtpfake.engine.auth_mask import AUTH_MASK as AUTH_MASK
from smtpfake.engine.auth_mask import masked as masked
from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.model import AuthSettings

_BASE64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")

# LOGIN's challenges: base64 of "Username:" and "Password:"
USERNAME_PROMPT = base64.b64encode(b"Username:").decode("ascii")
PASSWORD_PROMPT = base64.b64encode(b"Password:").decode("ascii")


@frozen_dataclass
class Exchange:
    """An AUTH exchange under way."""

    mechanism: str
    user: str | None = None  # None until the client has given it


@frozen_dataclass
class Verdict:
    """How an exchange ends: the reply the rules see (stage auth)."""

    code: int
    enhanced: str
    text: str


SUCCESS = Verdict(235, "2.7.0", "Authentication successful")
INVALID = Verdict(535, "5.7.8", "Authentication credentials invalid")
UNDECODABLE = Verdict(501, "5.5.2", "Cannot decode response")
CANCELLED = Verdict(501, "5.0.0", "Authentication cancelled")
TOO_LONG = Verdict(500, "5.5.6", "Authentication Exchange line is too long")


def step(exchange: Exchange, response: str, auth: AuthSettings) -> tuple[Exchange, str | Verdict]:
    """One base64 client response: the exchange as it now stands, and the next challenge or
    the verdict."""
    data = b64decode(response)
    if data is None:
        return exchange, UNDECODABLE
    if exchange.mechanism == "LOGIN" and exchange.user is None:
        return Exchange(exchange.mechanism, data.decode("utf-8", "replace")), PASSWORD_PROMPT
    if exchange.mechanism == "PLAIN":
        # RFC 4616: [authzid] NUL authcid NUL passwd; acting for someone else is not allowed
        parts = [p.decode("utf-8", "replace") for p in data.split(b"\0")]
        authzid, user, password = parts if len(parts) == 3 else ("", None, "")
        ok = user is not None and authzid in ("", user) and auth.valid(user, password)
        exchange = Exchange(exchange.mechanism, user)
    else:
        assert exchange.user is not None
        ok = auth.valid(exchange.user, data.decode("utf-8", "replace"))
    return exchange, SUCCESS if ok else INVALID


def first_challenge(mechanism: str) -> str:
    """The challenge after an AUTH without an initial response: PLAIN's is empty ("334 ",
    RFC 4954 §4), LOGIN's asks for the username."""
    return "" if mechanism == "PLAIN" else USERNAME_PROMPT


def initial_response(initial: str) -> str:
    """The response given on the AUTH line itself: RFC 4954 §4, "=" is one of zero length."""
    return "" if initial == "=" else initial


def b64decode(text: str) -> bytes | None:
    """Strict base64 (RFC 4954 §4: reject characters outside the alphabet and inner padding)."""
    if len(text) % 4 or not _BASE64_RE.fullmatch(text):
        return None
    return base64.b64decode(text)
