"""A message's data as JSON string pieces, made a slice at a time (``?include=data``).

``data`` is the text (invalid UTF-8 replaced, as ``serialize.message_to_json`` writes it) and
``data_base64`` the exact bytes; each piece is the inside of a JSON string (no quotes), ASCII,
made from at most ``SLICE`` bytes, so a 30 MiB message never becomes one 40 MiB string and
the answer can yield to SMTP between pieces. Concatenated, the pieces equal what
``json.dumps`` of the whole value gives.
"""

from __future__ import annotations

import base64
import codecs
import json
from collections.abc import Iterator

from smtpfake.http.pacing import slices

#: bytes per piece; a multiple of 3 so base64 pieces join without padding in between
SLICE = 3 * 64 * 1024


def text_pieces(data: bytes) -> Iterator[str]:
    """``data`` decoded as UTF-8 (errors replaced), JSON-escaped, a slice at a time; a
    character split between two slices is decoded whole (an incremental decoder)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    for part in slices(data, SLICE):
        yield json.dumps(decoder.decode(part))[1:-1]
    yield json.dumps(decoder.decode(b"", final=True))[1:-1]


def base64_pieces(data: bytes) -> Iterator[str]:
    """``data`` in base64 (RFC 4648 §4), a slice at a time."""
    for part in slices(data, SLICE):
        yield base64.b64encode(part).decode("ascii")
