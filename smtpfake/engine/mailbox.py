"""The syntax of a MAIL/RCPT path's contents: RFC 5321 §4.1.2's Mailbox, with RFC 6531's UTF-8.

``Path = "<" [ A-d-l ":" ] Mailbox ">"``; ``Mailbox = Local-part "@" ( Domain /
address-literal )``; ``Local-part = Dot-string / Quoted-string``. The source route (A-d-l,
``<@a.test,@b.test:user@c.test>``) MUST be accepted and SHOULD be ignored (§4.1.2, Appendix C):
:func:`read` gives the mailbox without it. ``<>`` is MAIL's null reverse-path (§4.1.1.2) and
``<postmaster>`` a forward-path without a domain (§4.1.1.3). RFC 6531 §3.3 adds UTF-8 to atext,
qtextSMTP and sub-domain (U-labels); whether a non-ASCII path was allowed at all (the SMTPUTF8
parameter) is :func:`smtpfake.engine.params.address_problem`'s to say, before this.

The length limits of §4.5.3.1.1-3 (local part 64, domain 255, path 256 octets) are minimums a
server must take, and "implementation techniques that impose no limits ... should be used": no
length is refused here (a command line is still limited to 512 octets, §4.5.3.1.4).

Sans I/O: a string in (the text between the angle brackets), a verdict out.
"""

from __future__ import annotations

from smtpfake.lazy_pattern import compiled_on_first_use

# Character classes written as complements (the same sets, non-ASCII included for RFC 6531),
# which the re compiler builds in microseconds; a range up to U+10FFFF costs it milliseconds.
#: Let-dig, and ALPHA / DIGIT / "-" (Ldh-str), a U-label's characters too
_LET_DIG = r"[^\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]"
_LDH = r"[^\x00-\x2c\x2e\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]"
#: RFC 5322 §3.2.3 atext: any printable but the specials ()<>[]:;@\,." and space
_ATEXT = r"[^\x00-\x20\"(),.:;<>@\[\\\]\x7f]"
#: qtextSMTP (%d32-33 / %d35-91 / %d93-126, UTF-8) / quoted-pairSMTP (%d92 %d32-126)
_QCONTENT = r"(?:[^\x00-\x1f\"\\\x7f]|\\[\x20-\x7e])"
_SUB_DOMAIN = rf"{_LET_DIG}(?:{_LDH}*{_LET_DIG})?"
_DOMAIN = rf"{_SUB_DOMAIN}(?:\.{_SUB_DOMAIN})*"
#: Snum: 1 to 3 digits, 0 to 255
_SNUM = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])"
#: address-literal: IPv4, or a Standardized-tag ":" 1*dcontent (IPv6: is checked in full after)
_LITERAL = rf"\[(?:{_SNUM}(?:\.{_SNUM}){{3}}|[A-Za-z0-9-]*[A-Za-z0-9]:[\x21-\x5a\x5e-\x7e]+)\]"
_LOCAL = rf"(?:{_ATEXT}+(?:\.{_ATEXT}+)*|\"{_QCONTENT}*\")"

#: a path's contents: the source route (group 1, dropped) and the Mailbox (group 2)
_PATH_RE = compiled_on_first_use(
    rf"(@{_DOMAIN}(?:,@{_DOMAIN})*:)?({_LOCAL}@(?:{_DOMAIN}|(?P<literal>{_LITERAL})))"
)
_DOMAIN_RE = compiled_on_first_use(_DOMAIN)
_LABEL_RE = compiled_on_first_use(_SUB_DOMAIN)
_ATEXT_RE = compiled_on_first_use(_ATEXT)

#: RFC 5321 §4.1.2 as the details cite it
_RFC = "RFC 5321 §4.1.2"


def read(path: str, verb: str) -> tuple[str, str | None]:
    """The contents of MAIL's or RCPT's (``verb``) angle brackets, read as RFC 5321 writes them:
    ``(mailbox, None)`` with the source route left out, or ``(path, detail)`` when it is not a
    path, ``detail`` saying what is wrong and where the RFC says so (for a ``bad-syntax``
    violation). The null path ``""`` is good for MAIL; RCPT's is the caller's to refuse."""
    if not path:
        return path, None
    m = _PATH_RE.fullmatch(path)
    if m is not None:
        literal = m.group("literal")
        wrong = (
            None if literal is None or literal[1:6].lower() != "ipv6:" else _ipv6_problem(literal)
        )
        if wrong is None:
            return m.group(2), None
        return path, f"<{path}>: {wrong}"
    if verb == "RCPT" and path.lower() == "postmaster":
        return path, None
    return path, f"<{path}>: {_diagnose(path, verb)}"


def _ipv6_problem(literal: str) -> str | None:
    """What is wrong with an ``[IPv6:...]`` literal (``literal`` with its brackets), or None.
    The grammar's IPv6-addr (§4.1.3) is the text form :mod:`ipaddress` reads, less a zone."""
    import ipaddress  # only for an IPv6 literal: serve's start imports nothing it may not need

    value = literal[6:-1]
    try:
        if "%" in value:  # a zone index is no part of RFC 5321's IPv6-addr
            raise ValueError(value)
        ipaddress.IPv6Address(value)
    except ValueError:
        return f"the address literal {literal} is not an IPv6 address ({_RFC}, §4.1.3)"
    return None


def _scan(text: str) -> tuple[list[int], list[int], list[int], bool]:
    """Positions of the ``@``, ``,`` and white space outside a quoted string, and whether a
    quoted string was left open."""
    ats: list[int] = []
    commas: list[int] = []
    spaces: list[int] = []
    quoted = escaped = False
    for i, c in enumerate(text):
        if escaped:
            escaped = False
        elif quoted:
            if c == "\\":
                escaped = True
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "@":
            ats.append(i)
        elif c == ",":
            commas.append(i)
        elif c.isspace():
            spaces.append(i)
    return ats, commas, spaces, quoted


def _diagnose(path: str, verb: str) -> str:
    """Why ``path`` (not empty) is not a path: the first problem found, with its RFC section.
    Only for a path that failed the grammar (the slow way, once per argument)."""
    route, colon, rest = path.partition(":") if path.startswith("@") else ("", "", path)
    if colon:
        bad = [d for d in route.split(",") if not (d[:1] == "@" and _DOMAIN_RE.fullmatch(d[1:]))]
        if bad:
            return f"the source route {route!r} is not @domain,@domain (A-d-l, {_RFC})"
        path = rest
    ats, commas, spaces, open_quote = _scan(path)
    if open_quote:
        return f"a quoted local part with no closing '\"' ({_RFC})"
    if commas and len(ats) > 1:
        return f"two addresses joined by ',' (one address per command, {_RFC}, §4.1.1.3)"
    if not ats:
        if verb == "RCPT":
            why = "only RCPT TO:<postmaster> may leave it out, §4.1.1.3"
        else:
            why = "the null reverse-path is <>, §4.1.1.2"
        return f"no '@' and domain (a Mailbox is Local-part \"@\" Domain, {_RFC}; {why})"
    at = ats[-1]
    local, domain = path[:at], path[at + 1 :]
    if len(ats) > 1:
        return f"more than one '@' (an '@' in the local part must be quoted, {_RFC})"
    if spaces:
        where = "local part" if spaces[0] < at else "domain"
        return f"white space in the {where}, unquoted ({_RFC})"
    return _local_problem(local) or _domain_problem(domain)


def _local_problem(local: str) -> str | None:
    if not local:
        return f"nothing before the '@' (an empty local part, {_RFC})"
    if local.startswith('"'):
        if not local.endswith('"') or len(local) < 2:
            return f"text after the quoted local part {local!r} ({_RFC})"
        return f"a '\"', '\\\\' or control character in the quoted local part {local} ({_RFC})"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return f"a '.' at an end of the local part or two in a row (Dot-string, {_RFC})"
    for c in local:
        if c != "." and not _ATEXT_RE.fullmatch(c):
            shown = repr(c)[1:-1] if c.isprintable() else f"\\x{ord(c):02x}"
            return f"'{shown}' in the local part, unquoted (atext, {_RFC})"
    return None


def _domain_problem(domain: str) -> str:
    if not domain:
        return f"nothing after the '@' (no domain, {_RFC})"
    if domain.startswith("["):
        return f"the address literal {domain} is not [IPv4] or [IPv6:...] ({_RFC})"
    for label in domain.split("."):
        if not label:
            return f"an empty label in the domain {domain!r} ('..' or a '.' at an end, {_RFC})"
        if not _LABEL_RE.fullmatch(label):
            if label.startswith("-") or label.endswith("-"):
                return f"the domain label {label!r} starts or ends with '-' ({_RFC})"
            return f"the domain label {label!r} is not letters, digits and '-' ({_RFC})"
    return f"not a Mailbox as {_RFC} writes it"
