"""Where a ``@pytest.mark.smtpfake(...)`` marker was written, and what it says there, read from
the test file's source: pytest's ``Mark`` keeps neither a line nor the text.

pytest reports a test at its first decorator line, so a marker under ``@pytest.mark.parametrize``
(or any other decorator) would be told a line or more too high. The file is parsed with ``ast``
(never run), and the marker found among the decorators of the test function or class pytest
points at (nested ones too: ``pytest.param(..., marks=pytest.mark.smtpfake(...))``), or among a
class's or module's ``pytestmark = ...``. Of several, the one with the same positional count and
keywords as the ``Mark``. Loaded only to tell a marker's mistake.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from smtpfake.frozen_dataclass import frozen_dataclass

#: the longest marker text shown whole; a longer one ends in "...)"
_SHOWN_MAX = 120


@frozen_dataclass
class Written:
    """A marker in the source: its 1-based ``line`` and its ``text`` as written (a marker
    spread over lines as one line)."""

    line: int
    text: str


def find_marker(
    path: Path, owner_line: int | None, args: int, keywords: frozenset[str]
) -> Written | None:
    """The ``mark.smtpfake(...)`` call in ``path`` that is this marker: under the function or
    class defined at ``owner_line`` (1-based, its first decorator's line or its own; None: the
    module, whose ``pytestmark``), with ``args`` positional arguments and ``keywords``. None when
    the source cannot be read or parsed, or holds no such call (a marker made elsewhere)."""
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, str(path))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None
    where: list[ast.expr] = []
    if owner_line is None:
        where = _pytestmark(tree.body)
    else:
        found = _definition(tree, owner_line)
        if found is None:
            return None
        where = list(found.decorator_list)
        if isinstance(found, ast.ClassDef):
            where += _pytestmark(found.body)
    calls = [c for e in where for c in ast.walk(e) if isinstance(c, ast.Call) and _is_marker(c)]
    if not calls:
        return None
    same = [c for c in calls if _signature(c) == (args, keywords)]
    call = (same or calls)[0]
    segment = ast.get_source_segment(source, call) or ""
    text = "@" + _one_line(segment)
    if len(text) > _SHOWN_MAX:
        text = text[: _SHOWN_MAX - 4] + "...)"
    return Written(call.lineno, text)


def _one_line(segment: str) -> str:
    """A call spread over lines as one line: ``f(\n    "a",\n)`` -> ``f("a")``."""
    if "\n" not in segment:
        return segment
    text = " ".join(segment.split())
    return re.sub(r",? \)$", ")", re.sub(r"^([^(]*\() ", r"\1", text))


def _definition(
    tree: ast.Module, line: int
) -> ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            if line in (first, node.lineno):
                return node
    return None


def _pytestmark(body: list[ast.stmt]) -> list[ast.expr]:
    """The values assigned to ``pytestmark`` in a module's or class's own body."""
    values: list[ast.expr] = []
    for statement in body:
        targets = (
            statement.targets
            if isinstance(statement, ast.Assign)
            else [statement.target]
            if isinstance(statement, ast.AnnAssign)
            else []
        )
        value = getattr(statement, "value", None)
        if value is not None and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in targets
        ):
            values.append(value)
    return values


def _is_marker(node: ast.Call) -> bool:
    """``pytest.mark.smtpfake(...)`` or ``mark.smtpfake(...)`` (``from pytest import mark``)."""
    if not isinstance(node.func, ast.Attribute):
        return False
    func = node.func
    if func.attr != "smtpfake":
        return False
    owner = func.value
    return (isinstance(owner, ast.Attribute) and owner.attr == "mark") or (
        isinstance(owner, ast.Name) and owner.id == "mark"
    )


def _signature(call: ast.Call) -> tuple[int, frozenset[str]]:
    return len(call.args), frozenset(k.arg for k in call.keywords if k.arg is not None)
