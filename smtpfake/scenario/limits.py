"""Every bound smtpfake puts on what it reads, and the checks that apply them.

One table of limits (the README's "Limits" section lists the same numbers, test-enforced), and
small validators any face can use for numbers it reads from YAML, flags, the environment, JSON
or a query string: each returns the value, or raises :class:`LimitError` whose message names
the setting and the allowed range. No number gets through as NaN, infinity or a 4,301-digit int.
"""

from __future__ import annotations

import math
import re
from typing import Any

from smtpfake.frozen_dataclass import frozen_dataclass


class LimitError(ValueError):
    """A value out of its documented range; ``str()`` names the setting and the range."""


# -- numbers ------------------------------------------------------------------------------------

#: the longest wait a scenario can ask for (delay, hang, timeouts, windows), in seconds: one day.
#: A test double waits "forever" by waiting longer than any client will; no .inf needed.
MAX_SECONDS = 86_400.0
#: the largest count (nth, times, first, after, every, byte counts of faults, limits)
MAX_COUNT = 1_000_000_000
#: the most any JournalLimits field may be set to (counts and bytes: 16 GiB of messages)
MAX_JOURNAL_LIMIT = MAX_COUNT * 16
#: seeds are unsigned 64-bit, so they survive JSON and every language's integers
MAX_SEED = 2**64 - 1
#: a number written with more characters than this is refused before it is converted: Python's
#: int() of a 4,301-digit string raises, and even below that it costs quadratic time
MAX_NUMBER_CHARS = 40

#: a duration as a scenario may write one wherever it gives seconds: a number, or a number with
#: a unit (``250ms``, ``30s``, ``5m``, ``1h``); the JSON Schema's form of it
DURATION_PATTERN = r"^\s*([0-9]+(\.[0-9]+)?)\s*(ms|s|m|h)?\s*$"
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
#: the forms with a unit, as problems name them
DURATION_EXAMPLES = "250ms, 30s, 5m, 1h"
DURATION_FORMS = f"seconds, or with a unit: {DURATION_EXAMPLES}"


def duration_seconds(text: str) -> float | None:
    """``"5m"`` -> 300.0, ``"250ms"`` -> 0.25, ``"30"`` -> 30.0; None when ``text`` is not a
    duration (see DURATION_PATTERN). Not range-checked: the caller checks the seconds."""
    m = re.fullmatch(DURATION_PATTERN[1:-1], text)  # compiled on first use (start-up)
    if m is None or len(text) > MAX_NUMBER_CHARS:
        return None
    return float(m.group(1)) * _UNIT_SECONDS[m.group(3)]


# -- structure of a scenario document -----------------------------------------------------------

#: bytes of scenario text (a file, an upload); the largest built-in is under 4 KiB. Long
#: texts and comments may make a file big; its values are bounded by MAX_NODES below
MAX_SCENARIO_BYTES = 8 * 1024 * 1024
#: nested lists and mappings; a scenario needs about 6
MAX_DEPTH = 32
#: values in the document (scalars, lists, mappings) as written: about 6.7 MB of ordinary
#: rules; loaded (nodes.py), a value takes about 230 bytes with its share of the model, so
#: this also bounds the loader's memory (bench/loader_speed.py: 5 MB in about 150 MB)
MAX_NODES = 750_000
#: values once every alias is expanded, as a multiple of MAX_NODES' count as written (plus a
#: small allowance): anchors may save typing, but not blow a document up
ALIAS_GROWTH = 4
ALIAS_ALLOWANCE = 1_000
#: rules in one scenario (5 MB of ordinary rules is about 31,000)
MAX_RULES = 50_000
#: lines of one reply (a multi-line EHLO or a rule's text list)
MAX_REPLY_LINES = 100
#: problems listed for one document; the rest are counted ("... and N more")
MAX_PROBLEMS = 100

# -- wire text ----------------------------------------------------------------------------------

#: RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets, code and CRLF included
MAX_REPLY_LINE_OCTETS = 512
#: RFC 1035 §2.3.4 (and 5321 §4.5.3.1.2): a domain name is at most 255 octets
MAX_HOSTNAME_OCTETS = 255

# -- JSON ---------------------------------------------------------------------------------------

#: nesting of a JSON body; deeper is refused before json.loads can hit the recursion limit
MAX_JSON_DEPTH = 32


def check_number(
    value: Any,
    name: str,
    *,
    minimum: float,
    maximum: float,
    integer: bool = False,
    exclusive_minimum: bool = False,
    unit: str = "",
) -> Any:
    """``value`` if it is a finite number (a whole one if ``integer``) within the range, else
    :class:`LimitError` naming ``name`` and what it must be (the caller adds the value).
    Booleans are not numbers here. ``unit`` (e.g. " seconds") follows the bounds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LimitError(f"{name}: expected {'a whole number' if integer else 'a number'}")
    if integer and not isinstance(value, int):
        raise LimitError(f"{name}: expected a whole number")
    if isinstance(value, float) and not math.isfinite(value):
        raise LimitError(f"{name}: must be a finite number")
    if not (value > minimum if exclusive_minimum else value >= minimum):
        low = "more than" if exclusive_minimum else "at least"
        raise LimitError(f"{name}: must be {low} {_num(minimum)}{unit}")
    if value > maximum:
        raise LimitError(f"{name}: must be at most {_num(maximum)}{unit}")
    return value


def number_from_text(
    text: str,
    name: str,
    *,
    minimum: float,
    maximum: float,
    integer: bool = False,
    exclusive_minimum: bool = False,
) -> Any:
    """A number written as text (a flag, an environment variable, a query string), checked as
    :func:`check_number` does; too long, ``nan``, ``inf`` or not a number: LimitError."""
    text = text.strip()
    if len(text) > MAX_NUMBER_CHARS:
        raise LimitError(f"{name}: a number of at most {MAX_NUMBER_CHARS} characters, please")
    try:
        value: int | float = int(text) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise LimitError(f"{name}: expected {kind}, got {text!r}") from None
    try:
        return check_number(
            value,
            name,
            minimum=minimum,
            maximum=maximum,
            integer=integer,
            exclusive_minimum=exclusive_minimum,
        )
    except LimitError as exc:
        raise LimitError(f"{exc}, got {text!r}") from None


def json_depth_ok(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests at most ``max_depth`` brackets (strings skipped); linear, with
    no recursion, so a body of 100,000 ``[`` is refused before json.loads sees it."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


@frozen_dataclass
class _Refused:
    """A number JSON lets Python read but these limits do not, kept in place while parsing so
    the error can name where it was."""

    why: str


def _refuse_constant(word: str) -> _Refused:
    return _Refused(f"JSON number {word} is not allowed (numbers must be finite)")


def _refuse_long_int(digits: str) -> int | _Refused:
    if len(digits) > MAX_NUMBER_CHARS:
        return _Refused(
            f"JSON number of more than {MAX_NUMBER_CHARS} characters ({digits[:20]}...)"
        )
    return int(digits)


def _refuse_infinite_float(digits: str) -> float | _Refused:
    value = float(digits)
    if not math.isfinite(value):
        return _Refused(f"JSON number {digits[:20]} is out of range (numbers must be finite)")
    return value


def _first_refused(data: Any) -> str | None:
    """``'path': why`` for the first refused number in document order (``'a[2].b'``), or None;
    walked without recursion (the depth is already bounded)."""
    todo: list[tuple[str, Any]] = [("", data)]
    while todo:
        path, value = todo.pop()
        if isinstance(value, _Refused):
            return f"'{path}': {value.why}" if path else value.why
        if isinstance(value, dict):
            items = [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
        else:
            continue
        todo += reversed(items)
    return None


def loads_json(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads with the limits: nesting within ``max_depth``; NaN and Infinity refused;
    integers longer than MAX_NUMBER_CHARS refused. Raises LimitError (bad limits; a bad number
    is named by its path, ``'timeout': JSON number NaN ...``) or ValueError (not JSON,
    including bytes that are not UTF-8)."""
    if not json_depth_ok(text, max_depth):
        raise LimitError(f"JSON nested deeper than {max_depth} levels (nested too deeply to read)")
    import json  # here: the server's start-up does not read JSON

    data = json.loads(
        text,
        parse_constant=_refuse_constant,
        parse_int=_refuse_long_int,
        parse_float=_refuse_infinite_float,
    )
    refused = _first_refused(data)
    if refused is not None:
        raise LimitError(refused)
    return data


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
