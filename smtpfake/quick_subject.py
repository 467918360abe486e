"""A message's Subject without the email package, where that is sure to give the same text.

``Message.subject`` parses the header block with the email package (RFC 5322 and 2047: folding,
encoded words): some 100 us a message, which serve's JSON log would pay for every message.
Nearly every header block is plain: ASCII fields of one line each. There the Subject is the
first ``Subject:`` field's value without its leading blanks, as the email package gives it;
anything else (a folded Subject, an encoded word, an octet that is not printable ASCII, a line
that is not a field) is left to the email package (:func:`quick_subject` returns None).
tests/test_quick_subject.py holds it to the email package's answers.
"""

from __future__ import annotations

import re

from smtpfake.engine.records import HEADER_SCAN_BYTES

#: a header block of plain fields: a name of printable ASCII but ":", then printable ASCII and
#: blanks, one line each (RFC 5322 §2.2), and the blank line that ends the block; group 1: the
#: first Subject field's value, its leading blanks left out (RFC 5322 §3.6.5; the field name is
#: case-insensitive, §1.2.2). One match, not a match and a search: a regular expression's call
#: costs some 2k instructions before it reads an octet, twice the work of a small block
_PLAIN = re.compile(
    rb"(?:(?![Ss][Uu][Bb][Jj][Ee][Cc][Tt]:)[!-9;-~]+:[ \t!-~]*\r\n)*"
    rb"(?:[Ss][Uu][Bb][Jj][Ee][Cc][Tt]:[ \t]*([ \t!-~]*)\r\n(?:[!-9;-~]+:[ \t!-~]*\r\n)*)?"
    rb"\r\n"
)


def quick_subject(data: bytes) -> str | None:
    """The Subject of the message ``data`` ("" when it has none) as ``Message.subject`` reads
    it, or None when only the email package can tell (see the module's docstring)."""
    end = data.find(b"\r\n\r\n", 0, HEADER_SCAN_BYTES)
    if end < 0:
        return None
    found = _PLAIN.fullmatch(data, 0, end + 4)
    if found is None:
        return None
    value = found.group(1)
    if value is None:  # no Subject field
        return ""
    if b"=?" in value:  # an encoded word, maybe (RFC 2047)
        return None
    return value.decode("ascii")
