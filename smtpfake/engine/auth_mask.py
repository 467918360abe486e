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
#: SASL mechanism names a client may name: the common ones of IANA's SASL registry and the
#: unregistered LOGIN and XOAUTH2; the engine runs PLAIN and LOGIN. Any other word where AUTH's
#: mechanism goes is taken as what it may be, a secret (a client that sent its password there)
KNOWN_MECHANISMS = frozenset(
    {
        "ANONYMOUS",
        "CRAM-MD5",
        "DIGEST-MD5",
        "EXTERNAL",
        "GS2-KRB5",
        "GS2-KRB5-PLUS",
        "GSS-SPNEGO",
        "GSSAPI",
        "KERBEROS_V4",
        "KERBEROS_V5",
        "LOGIN",
        "NTLM",
        "OAUTH10A",
        "OAUTHBEARER",
        "OPENID20",
        "OTP",
        "PLAIN",
        "SAML20",
        "SCRAM-SHA-1",
        "SCRAM-SHA-1-PLUS",
        "SCRAM-SHA-256",
        "SCRAM-SHA-256-PLUS",
        "SCRAM-SHA-512",
        "SCRAM-SHA-512-PLUS",
        "SECURID",
        "SKEY",
        "SRP",
        "XOAUTH",
        "XOAUTH2",
    }
)
#: what a malformed line may have around AUTH and its mechanism: white space as str.split()
#: takes it, which a client's own parser may
_BLANK = " \t\x0b\x0c"
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def is_auth_line(text: str) -> bool:
    """``text`` (a command line) is an AUTH line, however malformed (:func:`_auth_at`): from it
    on, a session masks every line that is not a command (:func:`masked`)."""
    return _auth_at(text) >= 0


def _auth_at(text: str) -> int:
    """Where an AUTH verb starts in ``text``, any case; -1 for none. It is in the line's first
    word (up to white space), octets before it too (a CR of a client that ends lines LF CR, a
    NUL, a byte-order mark, one a miscounted BDAT chunk left: no AUTH command then, yet the
    line carries its secrets all the same), and it is AUTH alone, or followed by what is no
    letter nor digit (``AUTH:``, ``AUTH=``, ``AUTH<NUL>``), a known mechanism (``AUTHPLAIN``) or
    ENTICATE (IMAP's AUTHENTICATE, also as the second word, after IMAP's tag). A word that
    merely holds AUTH (``Authentication-Results:``, a header line of a message body the server
    reads as commands) is none."""
    upper = text.translate(_ASCII_UPPER)  # (str.upper() may change the length)
    size = len(upper)
    start = 0
    for word in (0, 1):
        while start < size and upper[start] in _BLANK:
            start += 1
        end = start
        while end < size and upper[end] not in _BLANK:
            end += 1
        if word == 0:
            at = upper.find("AUTH", start, end)
            if at >= 0:
                rest = upper[at + 4 : end]
                if (
                    not rest
                    or not rest[0].isalnum()
                    or rest == "ENTICATE"
                    or rest in KNOWN_MECHANISMS
                ):
                    return at
        elif upper[start:end] == "AUTHENTICATE":
            return start
        start = end
    return -1


def masked(text: str, answers: bool = False) -> str:
    """A command line as the record keeps it.

    An AUTH line, however malformed (:func:`_auth_at`: anything before AUTH in the first word
    or white space; a tab, VT, FF or one ":" or "=" around the mechanism; a run-on
    ``AUTHPLAIN``), is kept up to its mechanism as sent, the
    rest :data:`AUTH_MASK` (an initial response carries the password, RFC 4954 §4); a word
    in the mechanism's place that names no mechanism (:data:`KNOWN_MECHANISMS`) may be the
    password itself, so it is masked too. ``answers``: the line is no command and the session
    has sent an AUTH line before, so it may be a SASL answer the server read as a command (a
    client that pipelines its answers behind a refused AUTH, ends one line twice, or sends
    its password in any other shape): :data:`AUTH_MASK` whole. Any other line: ``text``
    itself (the same object)."""
    if text[:5].upper() == "AUTH ":
        lead = 0
    else:
        lead = _auth_at(text)
        if lead < 0:
            return AUTH_MASK if answers else text
    size = len(text)
    verb_end = lead + 4
    if text[verb_end : verb_end + 8].upper() == "ENTICATE":
        verb_end += 8  # (IMAP's AUTHENTICATE)
    start = verb_end
    while start < size and text[start] in _BLANK:
        start += 1
    if start == verb_end and start < size and text[start] in ":=":
        start += 1  # a run-on AUTH:PLAIN, AUTH=PLAIN (as old servers' EHLO wrote AUTH=)
    end = start
    while end < size and text[end] in _MECHANISM:
        end += 1
    if text[start:end].upper() not in KNOWN_MECHANISMS:
        end = verb_end  # no mechanism named: what follows AUTH may be the password
    if not text[end:].strip(_BLANK + "\r"):
        return text
    return f"{text[:end]} {AUTH_MASK}"


def said(text: str, answers: bool = False) -> tuple[str, str]:
    """A command line as the record keeps it (:func:`masked`) and the command a violation
    names for it: the first word, upper-cased, of what is kept (so never a secret; for a line
    masked whole, :data:`AUTH_MASK`)."""
    shown = masked(text, answers)
    return shown, verb_of(shown)


def verb_of(shown: str) -> str:
    """The command a violation names for a line the record keeps as ``shown``."""
    return AUTH_MASK if shown is AUTH_MASK else shown.partition(" ")[0].upper()


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
