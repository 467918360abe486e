"""What the transcript shows of AUTH lines (RFC 4954), apart from the SASL exchange (auth.py),
which loads when a client first sends AUTH (issue 11: ``smtpfake serve`` start-up); a session
masks every command line it records."""

from __future__ import annotations

#: RFC 4954 §4: what an AUTH response line may take (the wire's reader may cut sooner)
AUTH_LINE_LIMIT = 12288
#: what the transcript shows instead of a SASL response (it carries the password)
AUTH_MASK = "(auth response)"


def masked(text: str) -> str:
    """A command line as the transcript keeps it: an AUTH initial response carries secrets."""
    if text[:5].upper() != "AUTH ":
        return text  # every other command, at the cost of one slice (this runs on every line)
    verb, _, rest = text.partition(" ")
    mechanism, _, initial = rest.strip().partition(" ")
    if verb.upper() != "AUTH" or not initial.strip():
        return text
    return f"{verb} {mechanism} {AUTH_MASK}"
