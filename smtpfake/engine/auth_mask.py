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
#: RFC 4422 §3.1: a mechanism name is at most 20 octets (a longer run is not one)
_MECHANISM_MAX = 20
#: what a malformed line may have around AUTH and its mechanism: white space as str.split()
#: takes it, which a client's own parser may
_BLANK = " \t\x0b\x0c"
#: RFC 4648 §4's base64 alphabet and its padding: what a SASL answer is made of (RFC 4954 §4)
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def masked(text: str, answers: bool = False) -> str:
    """A command line as the record keeps it. What follows an AUTH line's mechanism name
    carries secrets (an initial response, RFC 4954 §4), however the line is malformed: white
    space before AUTH, a tab, VT, FF or ``=`` after it or after the mechanism, a run-on
    ``AUTH:PLAIN``, ``AUTHPLAIN`` (the 500/504 it gets does not unsay the password it
    carries): kept up to the mechanism, the rest :data:`AUTH_MASK`. ``answers``: the session
    has seen an AUTH line and this is no command, so a line that is one word of base64 and
    its padding (RFC 4648 §4; "=" alone is an empty answer) is taken as a SASL answer the
    server read as a command (a client that pipelines its answers behind a refused AUTH, or
    ends one line twice): :data:`AUTH_MASK` whole. Any other line: ``text`` itself (the same
    object)."""
    if text[:5].upper() != "AUTH ":
        lead = len(text) - len(text.lstrip(_BLANK))
        if text[lead : lead + 4].upper() != "AUTH":
            if answers and _answer_like(text):
                return AUTH_MASK
            return text  # every other command (this runs on every line an AUTH might be)
    else:
        lead = 0
    size = len(text)
    verb_end = lead + 4
    word_end = verb_end  # the line's first word, up to white space
    while word_end < size and text[word_end] not in _BLANK:
        word_end += 1
    if word_end == verb_end:  # AUTH, white space, the mechanism (RFC 4954 §4, give or take)
        start = verb_end
        while start < size and text[start] in _BLANK:
            start += 1
        end = start
        while end < size and text[end] in _MECHANISM:
            end += 1
        if end - start > _MECHANISM_MAX:
            end = verb_end
    else:  # a run-on AUTH:PLAIN or AUTHPLAIN: kept when that is the whole first word
        start = verb_end + (text[verb_end] not in _MECHANISM)
        end = start
        while end < word_end and text[end] in _MECHANISM:
            end += 1
        if end != word_end or end - start > _MECHANISM_MAX:
            end = verb_end  # more in the word than a mechanism (AUTH=<secret>)
    if not text[end:].strip(_BLANK + "\r"):
        return text
    return f"{text[:end]} {AUTH_MASK}"


def _answer_like(text: str) -> bool:
    """``text`` is one word of base64 (RFC 4648 §4) and its padding: a SASL answer, or two run
    together (a client that left out the line ending between them); "=" alone is an empty one."""
    word = text.strip(_BLANK + "\r")
    return bool(word) and _BASE64.issuperset(word)


def said(text: str, answers: bool = False) -> tuple[str, str]:
    """A command line as the record keeps it (:func:`masked`) and the command a violation
    names for it: the first word, upper-cased, of what is kept (so never a secret; for a line
    taken as a SASL answer, :data:`AUTH_MASK`)."""
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
