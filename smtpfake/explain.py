"""Human-readable text for ``smtpfake explain CODE...`` (reply codes and enhanced status codes,
in English or Chinese).

Only formatting lives here; every fact comes from :mod:`smtpfake.replycodes` (reply codes),
:mod:`smtpfake.replycodes_zh` (their Chinese text) and :mod:`smtpfake.enhancedcodes`.
"""

from __future__ import annotations

import math
import re
import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from .enhancedcodes import CLASSES, ENHANCED_CODES, SUBJECTS, parse_enhanced, unpadded
from .replycodes import CLASS_ACTION, CLASS_SUMMARY, KIND_BY_CLASS, REPLY_CODES, ReplyCode, describe
from .replycodes_zh import CLASS_ACTION_ZH, CLASS_SUMMARY_ZH, KIND_ZH, REPLY_CODES_ZH

__all__ = [
    "DEFAULT_WIDTH",
    "LANGS",
    "Entry",
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
#: The languages every entry has (tests/test_explain.py checks both for every code).
LANGS = ("en", "zh")
# Below this the comparison columns get too narrow to read.
_MIN_WIDTH = 60
# More columns than this per table become unreadably narrow; extra codes go in a second table.
_MAX_COLUMNS = 3

_SEP = " | "
# The texts cite RFC 5321 sections bare ("§3.8") and name any other RFC explicitly.
_RFC_NOTE = {
    "en": "Section numbers (§) without an RFC name refer to RFC 5321.",
    "zh": "未注明 RFC 名称的章节号（§）均指 RFC 5321。",
}

# Labels per language. English keeps the labels the reply-code blocks always had; Chinese uses
# the seed page's headings (描述 / 何时出现 / 如何修复 / 主要区别 / 何时使用哪个).
_LABELS = {
    "en": {
        "class": "Class",
        "subject": "Subject",
        "meaning": "Meaning",
        "description": "Description",
        "when": "When",
        "should": "Client should",
        "rfc": "RFC",
        "enhanced": "Enhanced codes",
        "code": "Code",
        "name": "Name",
        "difference": "Key difference",
        "which": "When to use which",
        "comparing": "Comparing SMTP status codes",
    },
    "zh": {
        "class": "类别",
        "subject": "主题",
        "meaning": "描述",
        "description": "描述",
        "when": "何时出现",
        "should": "如何修复",
        "rfc": "RFC",
        "enhanced": "增强状态码",
        "code": "代码",
        "name": "名称",
        "difference": "主要区别",
        "which": "何时使用哪个",
        "comparing": "SMTP 状态码对比",
    },
}

# ASCII digits only: str.isdigit() would also accept e.g. Arabic-Indic digits.
_THREE_DIGITS = re.compile(r"[0-9]{3}")


class ExplainError(ValueError):
    """An argument to ``explain`` is not an SMTP reply code or enhanced status code."""


@dataclass(frozen=True)
class Entry:
    """One code ready to print: its key ("421", "5.7.1"), name, class digit, and labelled
    fields in one language (``short`` for comparison tables, where the class line is brief)."""

    key: str
    name: str
    class_digit: int
    fields: tuple[tuple[str, str], ...]
    short: tuple[tuple[str, str], ...]
    should: str


def _shown(arg: str) -> str:
    """``arg`` quoted for an error line, cut to 40 characters: a pasted log or a runaway shell
    expansion must not become a 100 kB message."""
    return repr(arg) if len(arg) <= 40 else f"{arg[:40]!r}... ({len(arg)} characters)"


def parse_code(arg: str) -> int:
    """``"421"`` -> 421; ExplainError naming ``arg`` unless it is three digits, 200-599."""
    text = arg.strip()
    if not _THREE_DIGITS.fullmatch(text):
        raise ExplainError(
            f"{_shown(arg)} is not an SMTP reply code: expected exactly three digits, "
            "e.g. 421 or 550"
        )
    code = int(text)
    if not 200 <= code <= 599:
        raise ExplainError(
            f"{_shown(arg)} is not an SMTP reply code: the first digit must be 2-5 (2xx success, "
            "3xx intermediate, 4xx transient, 5xx permanent; RFC 5321 §4.2)"
        )
    return code


# A pasted log or bounce line is read where such lines put their codes, so that a number
# elsewhere (a delay, a size, a pid, a port, a version) is never taken for one. A reply code
# starts a reply line (RFC 5321 §4.2.1) - at the line's start, maybe behind a transcript's arrow
# (swaks "<-" and "<**", sendmail "<<<") - or stands where a program quotes the reply: after
# ": " (Postfix's "said: 550", Exim's "RCPT TO:<a@b>: 550", serve's log "S: 550", "failed:
# 554"), after Python logging's "ERROR:name:", after a DSN's "smtp;" (Diagnostic-Code: smtp;
# 550, Exchange's "smtp;550"), after "#" (Exchange's "#550 5.1.1 ... ##"), after an opening
# quote (Exchange's "Remote Server returned '550 ...'", a JSON log's "text": "550 ...") or first
# in a tuple (smtplib's "(550, b'5.1.1 ...')"). What follows it is a space, "-", the end or a
# closing quote; then maybe its enhanced code (RFC 3463 §2).
_FOLLOWED = r"(?=[ \t-]+([^\s'\"]*)|['\"]|$)"  # read, not consumed: "250 ms: 421"
#: at a line's start any three digits are taken, so "650 ..." is refused in its own words
_REPLY_LINE = re.compile(r"\s*(?:<[-~*<]*\s*)?([0-9]{3})" + _FOLLOWED)
_REPLY_QUOTED = re.compile(
    r"(?::\s+|^[A-Z]+:[\w.]*:|(?i:\bsmtp;)\s*|#|(?<![\w'\"])b?['\"])([2-5][0-9]{2})" + _FOLLOWED
)
_REPLY_TUPLE = re.compile(r"\(([2-5][0-9]{2}), b?['\"]\s*([^\s'\"]*)")
#: a number followed by a unit is a measure, even where a reply code could stand
#: ("elapsed: 250 ms: 550 ...")
_UNIT = re.compile(
    r"(?:ms|msecs?|s|secs?|seconds?|mins?|minutes?|bytes|octets|[kmg]i?b|%)(?!\w)", re.I
)
#: with no reply code, an enhanced code where one stands alone: at the line's start, at a DSN's
#: "Status: 5.1.1" (RFC 3464 §2.3.4), at Postfix's and sendmail's "dsn=5.1.1", after Exchange's
#: "#" ("#5.1.1 smtp;..."); a version ("Postfix 2.11.3") is none of these
_ENHANCED_ALONE = re.compile(
    r"(?:^\s*|(?i:\bstatus:)\s*|(?i:\bdsn=)|#)([245]\.[0-9]{1,3}\.[0-9]{1,3})(?![\w.])"
)


def _reply_in(text: str) -> re.Match[str] | None:
    """The first reply code of a line where a reply code stands (see above), or None."""
    found = [m for m in (_REPLY_LINE.match(text),) if m is not None]
    found += [*_REPLY_QUOTED.finditer(text), *_REPLY_TUPLE.finditer(text)]
    for match in sorted(found, key=lambda m: m.start(1)):
        if not _UNIT.match(match.group(2) or ""):
            return match
    return None


def _codes_in(arg: str) -> list[str]:
    """The codes one argument names: itself, or a pasted line's first reply code and the
    enhanced code right after it (or, lacking a reply code, an enhanced code standing alone)."""
    text = arg.strip()
    found = _reply_in(text)
    if found is None and not any(ch.isspace() for ch in text):
        return [arg]  # one word: a code, refused by _parse in its own words if it is not one
    if found is None:
        enhanced_only = _ENHANCED_ALONE.search(text)
        if enhanced_only is None:
            raise ExplainError(
                f"no reply code found in {_shown(arg)}: expected a reply code (550), an enhanced "
                "status code (5.7.1), or a line with one, e.g. 'said: 550 5.1.1 unknown user'"
            )
        return [enhanced_only.group(1)]
    code, word = found.group(1), (found.group(2) or "").rstrip(".,;:)")
    # a zero-padded enhanced code (4.04.1) is kept, so it is refused as it is on its own
    enhanced = parse_enhanced(word) is not None or unpadded(word) is not None
    return [code, word] if enhanced else [code]


def _parse(arg: str) -> str:
    """The canonical key of a reply code ("421") or an enhanced status code ("5.7.1")."""
    if "." in arg:
        parsed = parse_enhanced(arg)
        meant = unpadded(arg)
        if meant is not None:
            raise ExplainError(
                f"{_shown(arg)} is not an enhanced status code: its sub-codes must be written "
                f"without leading zeros (RFC 3463 §2); did you mean {meant}?"
            )
        if parsed is None:
            raise ExplainError(
                f"{_shown(arg)} is not an enhanced status code: expected class.subject.detail with "
                "class 2, 4 or 5, e.g. 5.7.1 or 4.7.1 (RFC 3463 §2)"
            )
        return ".".join(str(p) for p in parsed)
    return str(parse_code(arg))


def explain(codes: Sequence[str], *, width: int = DEFAULT_WIDTH, lang: str = "en") -> str:
    """One code: a description block. Several: a side-by-side comparison table.

    A code is a reply code (``421``) or an enhanced status code (``5.7.1``), or a reply line
    as a log shows it (``550-5.1.1 The email account ...``: both its codes); ``lang`` is "en"
    or "zh". Raises ExplainError (a ValueError) naming every argument that is neither.
    """
    if lang not in LANGS:
        raise ExplainError(f"unknown language {lang!r}; choose one of {', '.join(LANGS)}")
    if isinstance(codes, str):  # a bare "421" would otherwise be read as "4", "2", "1"
        codes = [codes]
    if not codes:
        raise ExplainError("no reply code given; pass one or more codes, e.g. 421 503 or 5.7.1")
    problems: list[str] = []
    keys: list[str] = []
    for given in codes:
        try:
            args = _codes_in(given)
        except ExplainError as exc:
            problems.append(str(exc))
            continue
        for arg in args:
            try:
                keys.append(_parse(arg))
            except ExplainError as exc:
                problems.append(str(exc))
    if problems:
        raise ExplainError("; ".join(problems))
    # Repeating a code adds nothing to a comparison; keep first-seen order.
    entries = [entry(key, lang) for key in dict.fromkeys(keys)]
    if len(entries) == 1:
        return format_entry(entries[0], width=width, lang=lang)
    return format_entries(entries, width=width, lang=lang)


def entry(key: str, lang: str = "en") -> Entry:
    """The printable entry for a reply code ("421") or enhanced status code ("5.7.1")."""
    if "." in key:
        return _enhanced_entry(key, lang)
    return _reply_entry(describe(int(key)), lang)


def _reply_entry(info: ReplyCode, lang: str) -> Entry:
    digit = info.class_digit
    label = _LABELS[lang]
    zh = REPLY_CODES_ZH.get(info.code) if lang == "zh" else None
    if lang == "zh" and zh is None:
        return _unknown_reply_zh(info)
    name = zh.name if zh else info.name
    meaning = zh.meaning if zh else info.meaning
    when = zh.when if zh else info.when
    should = zh.client_should if zh else info.client_should
    if zh:
        klass = f"{digit}xx {KIND_ZH[digit]}"
        long_class, short_class = (
            f"{klass}：{CLASS_SUMMARY_ZH[digit]}",
            f"{klass}：{CLASS_ACTION_ZH[digit]}",
        )
        none = "无（3xx 回复不带增强状态码，RFC 2034 §4）"
    else:
        long_class = f"{info.class_label}: {CLASS_SUMMARY[digit]}"
        short_class = f"{info.class_label}: {CLASS_ACTION[digit]}"
        none = "none (3xx replies carry none, RFC 2034 §4)"
    enhanced = ", ".join(info.enhanced) or none
    rest = (
        (label["meaning"], meaning),
        (label["when"], when),
        (label["should"], should),
        (label["rfc"], info.rfc),
        (label["enhanced"], enhanced),
    )
    return Entry(
        str(info.code),
        name,
        digit,
        ((label["class"], long_class), *rest),
        ((label["class"], short_class), *rest),
        should,
    )


def _unknown_reply_zh(info: ReplyCode) -> Entry:
    """A non-standard code in Chinese: only its digits carry meaning (RFC 5321 §4.3.2)."""
    digit = info.class_digit
    label = _LABELS["zh"]
    klass = f"{digit}xx {KIND_ZH[digit]}"
    should = f"客户端必须只按第一位数字处理无法识别的代码（§4.3.2）：{CLASS_ACTION_ZH[digit]}。"
    rest = (
        (
            label["meaning"],
            f"{info.code} 不是标准的 SMTP 回复码：RFC 5321 及本工具所知的扩展都没有定义它。"
            f"只有其数字有意义：第一位 {digit} 表示{KIND_ZH[digit]}回复。",
        ),
        (
            label["when"],
            "没有 RFC 定义它；服务器（或故障注入工具）可能把它当作站点自定义或扩展回复发送。",
        ),
        (label["should"], should),
        (label["rfc"], info.rfc),
        (
            label["enhanced"],
            ", ".join(info.enhanced) or "无（3xx 回复不带增强状态码，RFC 2034 §4）",
        ),
    )
    return Entry(
        str(info.code),
        f"非标准 {digit}xx 回复",
        digit,
        ((label["class"], f"{klass}：{CLASS_SUMMARY_ZH[digit]}"), *rest),
        ((label["class"], f"{klass}：{CLASS_ACTION_ZH[digit]}"), *rest),
        should,
    )


def _enhanced_entry(key: str, lang: str) -> Entry:
    klass, subject, detail = (int(p) for p in key.split("."))
    label = _LABELS[lang]
    known = ENHANCED_CODES.get(f"{subject}.{detail}")
    subject_text = (
        SUBJECTS[subject](lang)
        if subject in SUBJECTS
        else (
            f"{subject} 不是已定义的主题（0-7，RFC 3463 §2）"
            if lang == "zh"
            else f"{subject} is not a defined subject (0-7, RFC 3463 §2)"
        )
    )
    class_text = CLASSES[klass](lang)
    if known is not None:
        name, description = known.name(lang), known.description(lang)
        should, rfc = known.client_should(lang), f"{known.rfc}; RFC 5248"
        codes = [str(c) for c in known.basic if c // 100 == klass]
        # the registry's "5XX", "other 4XX or 5XX codes are allowed"
        xx = ("、" if lang == "zh" else " or ").join(f"{c}XX" for c in known.any_of_class)
        if known.basic == (0,):
            when = (
                "可与任何同类基本回复码一起出现（RFC 5248 注册表）"
                if lang == "zh"
                else "with any basic reply code of its class (RFC 5248 registry)"
            )
        elif not known.basic and not known.any_of_class:
            when = (
                "注册表未指定对应的基本回复码：可与任何同类回复码一起出现（RFC 5248）"
                if lang == "zh"
                else "the registry names no basic reply code: any of its class (RFC 5248)"
            )
        elif not known.basic:
            when = (
                f"注册表中与任何 {xx} 基本回复码一起出现（RFC 5248）"
                if lang == "zh"
                else f"sent with any {xx} basic reply code in the registry (RFC 5248)"
            )
        else:
            sep = "、" if lang == "zh" else ", "
            listed = sep.join(str(c) for c in known.basic)
            own = sep.join(codes)
            if lang == "zh":
                when = f"注册表中与基本回复码 {listed} 一起出现（RFC 5248）"
                when += f"；本类别（{klass}.X.X）对应 {own}" if own else ""
            else:
                when = f"sent with basic reply codes {listed} in the registry (RFC 5248)"
                when += f"; of class {klass}: {own}" if own else ""
            if xx:
                when += f"；也可用其他 {xx} 回复码" if lang == "zh" else f"; other {xx} allowed"
    else:
        # "as smtpfake holds it": the table leaves out what could not be checked (X.7.29, X.7.30)
        name = (
            "smtpfake 未收录的增强状态码"
            if lang == "zh"
            else "Enhanced status code not in smtpfake's table"
        )
        # an undefined subject (5.9.1) means nothing either: only the class is left
        meaningful = {
            ("zh", True): "只有类别和主题有意义",
            ("zh", False): "只有类别有意义",
            ("en", True): "only its class and subject carry meaning",
            ("en", False): "only its class carries meaning",
        }[lang, subject in SUBJECTS]
        description = (
            f"{key} 不在 smtpfake 收录的 RFC 5248 注册表中；{meaningful}。"
            if lang == "zh"
            else f"{key} is not in the RFC 5248 registry as smtpfake holds it; {meaningful}."
        )
        when = (
            "smtpfake 收录的注册表中没有它。"
            if lang == "zh"
            else "smtpfake's copy of the registry does not list it."
        )
        should = (
            "按类别处理：4 稍后重试，5 不要原样重试。"
            if lang == "zh"
            else "Act on the class: 4 retry later, 5 do not retry unchanged."
        )
        rfc = "RFC 3463 §2; RFC 5248"
    fields = (
        (label["class"], class_text),
        (label["subject"], subject_text),
        (label["description"], description),
        (label["when"], when),
        (label["should"], should),
        (label["rfc"], rfc),
    )
    return Entry(key, name, klass, fields, fields, should)


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: CJK characters are two wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, columns: int) -> str:
    return text + " " * max(0, columns - _width(text))


# Chinese line breaking: a run of Latin letters, digits and ASCII punctuation ("AUTH", "§4.1.4",
# "EHLO/HELO") stays whole; closing punctuation never starts a line, opening never ends one.
_ZH_TOKEN = re.compile(r"[（「“]*(?:[\x21-\x7e§]+|\S)[，。、；：）」”]*|\s+")


def _wrap(text: str, columns: int, lang: str) -> list[str]:
    if lang != "zh":
        # keep "end-of-data" and "MAIL/RCPT" whole
        return textwrap.wrap(text, width=columns, break_on_hyphens=False)
    lines: list[str] = []
    line = ""
    for token in _ZH_TOKEN.findall(text):
        if line and _width(line + token.rstrip()) > columns:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines


def format_code(info: ReplyCode, *, width: int = DEFAULT_WIDTH) -> str:
    """The full description of one reply code as a labelled block (English)."""
    return format_entry(_reply_entry(info, "en"), width=width)


def format_entry(item: Entry, *, width: int = DEFAULT_WIDTH, lang: str = "en") -> str:
    """One code as a labelled block."""
    width = max(width, _MIN_WIDTH)
    title = f"{item.key} {item.name}"
    lines = [title, "=" * min(_width(title), width)]
    label_width = max(_width(label) for label, _ in item.fields) + 2
    for label, value in item.fields:
        head = _pad(f"{label}:" if lang == "en" else f"{label}：", label_width)
        body = _wrap(value, width - label_width, lang) or [""]
        lines.append(head + body[0])
        lines.extend(" " * label_width + more for more in body[1:])
    lines.append(_RFC_NOTE[lang])
    return "\n".join(lines) + "\n"


def format_comparison(infos: Sequence[ReplyCode], *, width: int = DEFAULT_WIDTH) -> str:
    """Reply codes side by side (English), one column each, plus a key-difference line."""
    return format_entries([_reply_entry(i, "en") for i in infos], width=width)


def format_entries(items: Sequence[Entry], *, width: int = DEFAULT_WIDTH, lang: str = "en") -> str:
    """Codes side by side, one column each, plus the key difference (when transient and
    permanent codes meet) and, in Chinese, the seed page's "when to use which"."""
    width = max(width, _MIN_WIDTH)
    label = _LABELS[lang]
    # Spread codes evenly over as few tables as possible, e.g. 4 codes -> 2 + 2, not 3 + 1.
    tables = math.ceil(len(items) / _MAX_COLUMNS)
    per_table = math.ceil(len(items) / tables)
    label_width = max(
        _width(lbl) for item in items for lbl, _ in (*item.short, ("", label["code"]))
    )
    column_width = (width - label_width - len(_SEP) * per_table) // per_table
    keys = [i.key for i in items]
    heading = (
        f"{label['comparing']} {_join_words(keys)}"
        if lang == "en"
        else f"{label['comparing']}：{'、'.join(keys)}"
    )
    if lang == "en" and all("." not in k for k in keys):
        heading = f"Comparing SMTP reply codes {_join_words(keys)}"
    out = [heading, ""]
    for start in range(0, len(items), per_table):
        if start:
            out.append("")
        out.extend(_table(items[start : start + per_table], column_width, label_width, lang))
    difference = _difference([(i.key, i.class_digit) for i in items], lang)
    if difference is not None:
        out.extend(["", *_wrap(difference, width, lang)] if lang == "zh" else ["", difference])
    if lang == "zh":
        which = "".join(f"对于 {i.key}（{i.name}）：{i.should}" for i in items)
        out.extend(_wrap(f"{label['which']}：{which}", width, lang))
    out.append(_RFC_NOTE[lang])
    return "\n".join(out) + "\n"


def key_difference(infos: Sequence[ReplyCode]) -> str | None:
    """One line contrasting transient and permanent codes, only when both are present.

    E.g. ``Key difference: 421 is transient (4xx): retry later; 503 is permanent (5xx): do not
    retry unchanged``. 2xx/3xx codes are left out: retry-or-not is the decision that matters.
    """
    return _difference([(str(i.code), i.class_digit) for i in infos], "en")


def _difference(keys: Sequence[tuple[str, int]], lang: str) -> str | None:
    parts = []
    for digit in (4, 5):
        group = [key for key, d in keys if d == digit]
        if not group:
            return None
        enhanced = all("." in k for k in group)
        shape = f"{digit}.X.X" if enhanced else f"{digit}xx"
        if lang == "zh":
            parts.append(
                f"{'、'.join(group)} 是 {shape} {KIND_ZH[digit]}回复：{CLASS_ACTION_ZH[digit]}"
            )
        else:
            verb = "is" if len(group) == 1 else "are"
            parts.append(
                f"{_join_words(group)} {verb} {KIND_BY_CLASS[digit]} ({shape}): "
                f"{CLASS_ACTION[digit]}"
            )
    if lang == "zh":
        return "主要区别：" + "；而 ".join(parts) + "。"
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
    return "\n".join(rows) + "\n\n" + _RFC_NOTE["en"] + "\n"


# The comparison table's rows, whatever mix of reply codes and enhanced codes it holds.
_ROW_ORDER = ("class", "subject", "meaning", "when", "should", "rfc", "enhanced")


def _table(items: Sequence[Entry], column_width: int, label_width: int, lang: str) -> list[str]:
    label = _LABELS[lang]
    rule = "-" * label_width + "-+-" + "-+-".join("-" * column_width for _ in items)
    rows: list[tuple[str, list[str]]] = [(label["code"], [i.key for i in items])]
    rows.append((label["name"], [i.name for i in items]))
    # Transpose the per-code fields into rows by what they are, not by position: a reply code
    # and an enhanced code have different fields (Subject; Enhanced codes), and an enhanced
    # code's Description is the row a reply code calls Meaning. The short class form suits
    # narrow columns.
    # A row is named as the first code that has it names it.
    key_of = {text: key for key, text in label.items()}
    key_of[label["description"]] = "meaning"
    named: dict[str, str] = {}
    cells_by_key: list[dict[str, str]] = []
    for item in items:
        cells_by_key.append({key_of[lbl]: value for lbl, value in item.short})
        for lbl, _ in item.short:
            named.setdefault(key_of[lbl], lbl)
    for key in _ROW_ORDER:
        if key in named:
            rows.append((named[key], [cells.get(key, "") for cells in cells_by_key]))
    out: list[str] = []
    for row_label, cells in rows:
        wrapped = [_wrap(cell, column_width, lang) or [""] for cell in cells]
        for line_no in range(max(len(w) for w in wrapped)):
            head = row_label if line_no == 0 else ""
            parts = [w[line_no] if line_no < len(w) else "" for w in wrapped]
            out.append(
                (
                    _pad(head, label_width) + _SEP + _SEP.join(_pad(p, column_width) for p in parts)
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
