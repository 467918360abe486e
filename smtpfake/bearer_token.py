"""The control API's bearer token as a person gives it: on serve's command line or in its
environment, to the plugin, to ``show --remote``, to ``RemoteSmtpFake``."""

from __future__ import annotations


def clean(token: str) -> str:
    """``token`` without surrounding whitespace (a secret file's or an env file's last newline,
    which no HTTP header can carry); every side cleans it the same way, so they still match.

    Raises ValueError for a token left empty, or holding a space, a control character or a
    non-ASCII one: an ``Authorization: Bearer`` header cannot carry it (RFC 6750 §2.1: a
    b64token is visible ASCII), so no client could ever be let in."""
    kept = token.strip()
    if not kept:
        raise ValueError("the token is empty (only whitespace)")
    for ch in kept:
        if not "!" <= ch <= "~":
            shown = f"U+{ord(ch):04X}" + (f" {ch!r}" if ch.isprintable() else "")
            raise ValueError(
                f"the token holds {shown}: a bearer token is visible ASCII without spaces "
                "(RFC 6750 §2.1), which an HTTP header can carry"
            )
    return kept
