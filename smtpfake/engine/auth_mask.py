"""What the transcript shows of AUTH lines (RFC 4954), apart from the SASL exchange (auth.py),
which loads when a client first sends AUTH (issue 11: ``smtpfake serve`` start-up); a session
masks every command line it records."""

from __future__ import annotations

#: RFC 4954 §4: what an AUTH response line may take (the wire's reader may cut sooner)
AUTH_LINE_LIMIT = 12288
#: what the transcript shows instead of a SASL response (it carries the password)
AUTH_MASK = "(auth response)"


#: RFC 4422 §3.1 sasl-mech's octets (any case: a client may write it in lower case)
_MECHANISM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def masked(text: str) -> str:
    """A command line as the transcript keeps it: what follows an AUTH line's mechanism name
    carries secrets (an initial response, RFC 4954 §4), however the line is malformed: white
    space before AUTH, a tab or ``=`` after the mechanism (the 500/504 it gets does not
    unsay the password it carries)."""
    if text[:5].upper() != "AUTH ":
        lead = len(text) - len(text.lstrip(" \t"))
        if text[lead : lead + 4].upper() != "AUTH" or text[lead + 4 : lead + 5] not in (" ", "\t"):
            return text  # every other command (this runs on every line an AUTH might be)
    else:
        lead = 0
    verb = text[: lead + 4]
    rest = text[lead + 4 :].lstrip(" \t")
    size = 0
    for char in rest:
        if char not in _MECHANISM:
            break
        size += 1
    mechanism, after = rest[:size], rest[size:]
    if not after.strip(" \t\r"):
        return text
    return f"{verb} {mechanism} {AUTH_MASK}"


def answers_due(arg: str, mechanisms: tuple[str, ...]) -> int:
    """How many lines after ``AUTH <arg>`` would be the client's SASL answers, were the exchange
    to open: PLAIN's credentials unless given on the line, LOGIN's user name and password (the
    password alone when the name is). 0 for a mechanism the server does not offer (its 504
    opens no exchange). For an AUTH sent after the server's close, where no exchange opens yet
    the lines behind it carry the secrets all the same."""
    mechanism, _, initial = arg.strip().partition(" ")
    mechanism = mechanism.upper()
    if mechanism not in mechanisms:
        return 0
    given = 1 if initial.strip() else 0
    return (2 if mechanism == "LOGIN" else 1) - given
