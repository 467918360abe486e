"""Human-readable text for ``smtpfake explain CODE...``.

Only formatting lives here; every fact comes from :mod:`smtpfake.replycodes`.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence

from .replycodes import CLASS_ACTION, CLASS_SUMMARY, KIND_BY_CLASS, REPLY_CODES, ReplyCode, describe

__all__ = [
    "DEFAULT_WIDTH",
    "ExplainError",
    "explain",
    "format_code",
    "format_comparison",
    "key_difference",
    "parse_code",
    "reply_code_table_markdown",
]

#: Output width in columns; matches the project's 100-column convention.
DEFAULT_WIDTH = 100
# Below this the comparison columns get too narrow to read.
_MIN_WIDTH = 60
# More columns than this per table become unreadably narrow; extra codes go in a second table.
_MAX_COLUMNS = 3

_BLOCK_LABEL_WIDTH = len("Enhanced codes: ")
_TABLE_LABEL_WIDTH = len("Enhanced codes")  # the longest row label
_SEP = " | "
# The texts cite RFC 5321 sections bare ("§3.8") and name any other RFC explicitly.
_RFC_NOTE = "Section numbers (§) without an RFC name refer to RFC 5321."

# ASCII digits only: str.isdigit() would also accept e.g. Arabic-Indic digits.
_THREE_DIGITS = re.compile(r"[0-9]{3}")


class ExplainError(ValueError):
    """An argument to ``explain`` is not an SMTP reply code."""


def parse_code(arg: str) -> int:
    """``"421"`` -> 421; ExplainError naming ``arg`` unless it is three digits, 200-599."""
    text = arg.strip()
    if not _THREE_DIGITS.fullmatch(text):
        raise ExplainError(
            f"{arg!r} is not an SMTP reply code: expected exactly three digits, e.g. 421 or 550"
        )
    code = int(text)
    if not 200 <= code <= 599:
        raise ExplainError(
            f"{arg!r} is not an SMTP reply code: the first digit must be 2-5 (2xx success, "
            "3xx intermediate, 4xx transient, 5xx permanent; RFC 5321 §4.2)"
        )
    return code


def explain(codes: Sequence[str], *, width: int = DEFAULT_WIDTH) -> str:
    """One code: a description block. Several: a side-by-side comparison table.

    Raises ExplainError (a ValueError) naming every argument that is not a 2xx-5xx code.
    """
    if isinstance(codes, str):  # a bare "421" would otherwise be read as "4", "2", "1"
        codes = [codes]
    if not codes:
        raise ExplainError("no reply code given; pass one or more codes, e.g. 421 503")
    problems: list[str] = []
    parsed: list[int] = []
    for arg in codes:
        try:
            parsed.append(parse_code(arg))
        except ExplainError as exc:
            problems.append(str(exc))
    if problems:
        raise ExplainError("; ".join(problems))
    # Repeating a code adds nothing to a comparison; keep first-seen order.
    infos = [describe(code) for code in dict.fromkeys(parsed)]
    if len(infos) == 1:
        return format_code(infos[0], width=width)
    return format_comparison(infos, width=width)


def format_code(info: ReplyCode, *, width: int = DEFAULT_WIDTH) -> str:
    """The full description of one code as a labelled block."""
    width = max(width, _MIN_WIDTH)
    title = f"{info.code} {info.name}"
    lines = [title, "=" * min(len(title), width)]
    for label, value in _fields(info, long_class=True):
        lines.extend(
            textwrap.wrap(
                value,
                width=width,
                break_on_hyphens=False,  # keep "end-of-data" and "MAIL/RCPT" whole
                initial_indent=f"{label}:".ljust(_BLOCK_LABEL_WIDTH),
                subsequent_indent=" " * _BLOCK_LABEL_WIDTH,
            )
        )
    lines.append(_RFC_NOTE)
    return "\n".join(lines) + "\n"


def format_comparison(infos: Sequence[ReplyCode], *, width: int = DEFAULT_WIDTH) -> str:
    """Codes side by side, one column each, plus a key-difference line if the classes differ."""
    width = max(width, _MIN_WIDTH)
    # Spread codes evenly over as few tables as possible, e.g. 4 codes -> 2 + 2, not 3 + 1.
    tables = math.ceil(len(infos) / _MAX_COLUMNS)
    per_table = math.ceil(len(infos) / tables)
    column_width = (width - _TABLE_LABEL_WIDTH - len(_SEP) * per_table) // per_table
    out = [f"Comparing SMTP reply codes {_join_words([str(i.code) for i in infos])}", ""]
    for start in range(0, len(infos), per_table):
        if start:
            out.append("")
        out.extend(_table(infos[start : start + per_table], column_width))
    difference = key_difference(infos)
    if difference is not None:
        out.extend(["", difference])
    out.append(_RFC_NOTE)
    return "\n".join(out) + "\n"


def key_difference(infos: Sequence[ReplyCode]) -> str | None:
    """One line contrasting transient and permanent codes, only when both are present.

    E.g. ``Key difference: 421 is transient (4xx): retry later; 503 is permanent (5xx): do not
    retry unchanged``. 2xx/3xx codes are left out: retry-or-not is the decision that matters.
    """
    parts = []
    for digit in (4, 5):
        group = [str(i.code) for i in infos if i.class_digit == digit]
        if not group:
            return None
        verb = "is" if len(group) == 1 else "are"
        parts.append(
            f"{_join_words(group)} {verb} {KIND_BY_CLASS[digit]} ({digit}xx): {CLASS_ACTION[digit]}"
        )
    return "Key difference: " + "; ".join(parts)


def reply_code_table_markdown() -> str:
    """A Markdown table of every known code (code | class | meaning | client should)."""
    rows = [
        "| Code | Class | Meaning | Client should |",
        "| ---- | ----- | ------- | ------------- |",
    ]
    for code in sorted(REPLY_CODES):
        info = REPLY_CODES[code]
        if info.meaning.startswith(info.name):  # avoid "**Help message**: Help message: ..."
            meaning = f"**{_md(info.name)}**{_md(info.meaning[len(info.name) :])}"
        else:
            meaning = f"**{_md(info.name)}**: {_md(info.meaning)}"
        cells = (str(code), _md(info.class_label), meaning, _md(info.client_should))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n\n" + _RFC_NOTE + "\n"


def _fields(info: ReplyCode, *, long_class: bool) -> list[tuple[str, str]]:
    digit = info.class_digit
    if long_class:
        klass = f"{info.class_label}: {CLASS_SUMMARY[digit]}"
    else:
        klass = f"{info.class_label}: {CLASS_ACTION[digit]}"
    enhanced = ", ".join(info.enhanced) or "none (3xx replies carry none, RFC 2034 §4)"
    return [
        ("Class", klass),
        ("Meaning", info.meaning),
        ("When", info.when),
        ("Client should", info.client_should),
        ("RFC", info.rfc),
        ("Enhanced codes", enhanced),
    ]


def _table(infos: Sequence[ReplyCode], column_width: int) -> list[str]:
    rule = "-" * _TABLE_LABEL_WIDTH + "-+-" + "-+-".join("-" * column_width for _ in infos)
    rows: list[tuple[str, list[str]]] = [("Code", [str(i.code) for i in infos])]
    rows.append(("Name", [i.name for i in infos]))
    # Transpose the per-code fields into rows; the short class form suits narrow columns.
    per_code = [_fields(i, long_class=False) for i in infos]
    for index, (label, _) in enumerate(per_code[0]):
        rows.append((label, [fields[index][1] for fields in per_code]))
    out: list[str] = []
    for label, cells in rows:
        wrapped = [
            textwrap.wrap(cell, width=column_width, break_on_hyphens=False) or [""]
            for cell in cells
        ]
        for line_no in range(max(len(w) for w in wrapped)):
            head = label if line_no == 0 else ""
            parts = [w[line_no] if line_no < len(w) else "" for w in wrapped]
            out.append(
                (
                    head.ljust(_TABLE_LABEL_WIDTH)
                    + _SEP
                    + _SEP.join(p.ljust(column_width) for p in parts)
                ).rstrip()
            )
        out.append(rule)
    return out


def _join_words(words: Sequence[str]) -> str:
    """``["421"]`` -> ``421``; ``["a", "b", "c"]`` -> ``a, b and c``."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


# Backslash-escape what Markdown would read as markup; "<domain>" would vanish as an HTML tag.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)
