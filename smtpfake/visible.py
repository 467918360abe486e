"""How a client's text is shown where a person reads it: a terminal, a CI log, a failure report;
and where a program reads it: JSON (the HTTP API, ``serve --log-format json``).

A misbehaving client may send bytes a terminal acts on (an ESC sequence clears or recolours it;
NUL, DEL and C1 controls) or octets that are not UTF-8 (kept as lone surrogates, PEP 383). They
are shown, never played: as ``\\xNN``. In JSON only the octets that were not UTF-8 are shown so
(no JSON text may hold a lone surrogate); JSON escapes control characters itself.
"""

from __future__ import annotations

import re

# The patterns are compiled by re.sub on first use (and kept in re's cache): nearly all text
# never needs them, and compiling both at import was 5 million instructions of serve's start.

#: control characters but LF and TAB (C0, DEL, C1), and the surrogate escapes that stand for
#: octets that were not UTF-8
_UNSAFE = "[\x00-\x08\x0b-\x1f\x7f-\x9f\udc80-\udcff]"


def visible(text: str) -> str:
    """``text`` with what a terminal would act on, or what was not UTF-8, shown as ``\\xNN``:
    ``\\x1b`` for ESC, ``\\xff`` for the octet 0xFF a surrogate escape stands for."""
    if text.isprintable():  # the common case, in C: nothing to escape
        return text
    return re.sub(_UNSAFE, lambda found: f"\\x{ord(found.group()) & 0xFF:02x}", text)


# -- JSON: the HTTP API and `serve --log-format json` ------------------------------------------

#: lone surrogates: a client's octets that were not UTF-8 reach the record as surrogate escapes
#: (U+DC80..U+DCFF), which no JSON text may carry (RFC 8259 §8.2; strict parsers reject them)
_SURROGATE = "[\ud800-\udfff]"


def _shown(found: re.Match[str]) -> str:
    code = ord(found.group())
    # the octet a surrogate escape stands for, as the fixture's transcript() shows it
    return f"\\x{code & 0xFF:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def _shown_in_json(found: re.Match[str]) -> str:
    return _shown(found).replace("\\", "\\\\")  # inside a JSON string a backslash is escaped


def json_text(text: str) -> str:
    """``text`` as a JSON string can carry it: each octet that was not UTF-8 shown as ``\\xNN``
    (``\\xff`` for 0xFF), the rest unchanged (JSON escapes control characters itself). The
    exact octets of a message stay in its raw data (``/api/messages/{id}/raw``,
    ``data_base64``)."""
    if text.isascii():  # nearly always: nothing to look for
        return text
    return re.sub(_SURROGATE, _shown, text)


def json_document(encoded: str) -> str:
    """``encoded``, a JSON text made with ``ensure_ascii=False`` from strings that may hold lone
    surrogates, with each shown as :func:`json_text` shows it: the document then reads back as
    if every string in it had gone through json_text, and is valid UTF-8. (A lone surrogate
    can stand only inside a JSON string, so the whole text can be scanned at once.)"""
    if encoded.isascii():
        return encoded
    return re.sub(_SURROGATE, _shown_in_json, encoded)
