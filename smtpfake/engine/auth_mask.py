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
