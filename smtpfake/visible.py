"""How a client's text is shown where a person reads it: a terminal, a CI log, a failure report.

A misbehaving client may send bytes a terminal acts on (an ESC sequence clears or recolours it;
NUL, DEL and C1 controls) or octets that are not UTF-8 (kept as lone surrogates, PEP 383). They
are shown, never played: as ``\\xNN``.
"""

from __future__ import annotations

import re

#: control characters but LF and TAB (C0, DEL, C1), and the surrogate escapes that stand for
#: octets that were not UTF-8
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\udc80-\udcff]")


def visible(text: str) -> str:
    """``text`` with what a terminal would act on, or what was not UTF-8, shown as ``\\xNN``:
    ``\\x1b`` for ESC, ``\\xff`` for the octet 0xFF a surrogate escape stands for."""
    if text.isprintable():  # the common case, in C: nothing to escape
        return text
    return _UNSAFE.sub(lambda found: f"\\x{ord(found.group()) & 0xFF:02x}", text)
