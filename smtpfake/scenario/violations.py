"""The kinds of protocol violation the engine records, each with the RFC sections it breaks.

The one list of them: the engine records no other kind (``Session.violate`` refuses one that is
not here), a scenario's ``no-violations:`` and ``forbid:`` checks may name only these, and the
HTTP API and the README's Violations table give each its sections (a test holds the table to
this). It lives in the scenario layer, the lowest, so the loader can check names against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

#: violation kind -> the RFC sections it breaks, for people reading a violation
VIOLATION_KINDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "bad-sequence": "RFC 5321 §4.1.4, §3.3",
        "bad-syntax": "RFC 5321 §4.1.1, §4.1.2",
        "path-syntax": "RFC 5321 §4.1.2",
        "unknown-parameter": "RFC 5321 §4.1.1.11, §4.1.2",
        "utf8-address-without-smtputf8": "RFC 6531 §3.2, §3.4, §3.5",
        "no-helo": "RFC 5321 §4.1.4",
        "no-quit": "RFC 5321 §3.8, §4.1.1.10, §4.5.3.2",
        "sent-after-close": "RFC 5321 §3.8",
        "early-talker": "RFC 5321 §4.3.1",
        "pipelining-without-extension": "RFC 5321 §4.3.1, RFC 2920",
        "bad-pipelining": "RFC 2920 §3.1, RFC 3207 §4, RFC 4954 §4",
        "bare-lf": "RFC 5321 §2.3.8, §4.1.1.4",
        "bare-cr": "RFC 5321 §2.3.8",
        "unterminated-line": "RFC 5321 §2.3.8, §4.1.1",
        "8bit-without-8bitmime": "RFC 6152 §3",
        "size-exceeded": "RFC 1870 §5, §6.1",
        "retry-too-soon": "RFC 5321 §4.5.4.1",
        "line-too-long": "RFC 5321 §4.5.3.1.4, §4.5.3.1.6",
        "auth-without-tls": "RFC 4954 §6",
        "sent-before-tls": "RFC 3207 §4",
        "tls-already-active": "RFC 3207 §4.2",
        "bdat-without-chunking": "RFC 3030 §2",
        "bdat-and-data": "RFC 3030 §2",
        "chunk-short": "RFC 3030 §2",
    }
)
