"""A comparison of a reply code with an enhanced code (``explain 550 5.1.1``, or a pasted bounce
line) lines each code's fields up under the right row, in both languages."""

from __future__ import annotations

import pytest

from smtpfake.explain import entry, explain


def _rows(table: str, columns: int) -> dict[str, list[str]]:
    """The table's rows as label -> each column's text (wrapped lines joined)."""
    rows: dict[str, list[str]] = {}
    label = ""
    for line in table.splitlines():
        if "|" not in line or line.startswith("-"):
            continue
        # a row's trailing empty cells lose their padding (the line is right-stripped)
        head, *cells = (part.strip() for part in line.split("|"))
        if head:
            label = head
            rows[label] = ["" for _ in range(columns)]
        for n, cell in enumerate(cells):
            if cell:
                rows[label][n] = f"{rows[label][n]} {cell}".strip()
    return rows


def _flat(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("codes", [("550", "5.1.1"), ("5.1.1", "550"), ("421", "4.7.0", "5.7.1")])
def test_each_codes_fields_stand_in_their_own_rows(lang: str, codes: tuple[str, ...]) -> None:
    rows = _rows(explain(list(codes), lang=lang), len(codes))
    entries = [entry(code, lang) for code in codes]
    for column, item in enumerate(entries):
        for label, value in item.short:
            # an enhanced code's Description is the row a reply code calls Meaning
            found = [r for r, cells in rows.items() if _flat(cells[column]) == _flat(value)]
            assert found, f"{item.key}'s {label} ({value[:40]!r}) is in no row of its column"
            same = {
                label,
                *(("Meaning", "Description") if label in ("Meaning", "Description") else ()),
            }
            assert found[0] in same, f"{item.key}'s {label} stands in row {found[0]!r}"
    # the fields a code lacks are empty, not another field's text
    subject = "Subject" if lang == "en" else "主题"
    for column, code in enumerate(codes):
        assert (rows[subject][column] == "") == ("." not in code)
