"""Where a ``@pytest.mark.smtpfake(...)`` marker was written, and what it says there, read from
the test file's source: pytest's ``Mark`` keeps neither a line nor the text.

pytest reports a test at its first decorator line, so a marker under ``@pytest.mark.parametrize``
(or any other decorator) would be told a line or more too high. The file is parsed with ``ast``
(never run), and the marker found among the decorators of the test function or class pytest
points at (nested ones too: ``pytest.param(..., marks=pytest.mark.smtpfake(...))``), or among a
class's or module's ``pytestmark = ...``. Of several, the one with the same positional count and
keywords as the ``Mark``. A marker kept in a variable (``slow = pytest.mark.smtpfake(...)``,
then ``@slow``) is found at its assignment, in the test's file or in the module it was imported
from (``from markers import slow``, ``import markers`` then ``@markers.slow``: read from that
module's file, which the test's import has loaded already; nothing is imported here). Loaded only
to tell a marker's mistake.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from smtpfake.frozen_dataclass import frozen_dataclass

#: the longest marker text shown whole; a longer one ends in "...)"
_SHOWN_MAX = 120


#: how far a marker kept in a variable is followed through imports (a name imported from a
#: module that imported it in turn, ...)
_IMPORTS_FOLLOWED = 4


@frozen_dataclass
class Written:
    """A marker in the source: its 1-based ``line`` and its ``text`` as written (a marker
    spread over lines as one line; one kept in a variable as its assignment, ``slow =
    pytest.mark.smtpfake(...)``). ``path``: the file it is in, when not the test's own (a
    marker imported from another module). ``found``: False when the test names the marker by a
    variable whose assignment could not be read (made in a function, in a module not loaded or
    not parsed): ``line`` and ``text`` are then the decorator's that names it, ``@slow``."""

    line: int
    text: str
    path: Path | None = None
    found: bool = True


@frozen_dataclass
class _Candidate:
    """A ``mark.smtpfake(...)`` call found for a marker, with where and how to show it."""

    call: ast.Call
    source: str
    path: Path | None = None
    #: the variable it is assigned to, when it is not written at the test itself
    name: str | None = None


def find_marker(
    path: Path,
    owner_line: int | None,
    args: int,
    keywords: frozenset[str],
    holds: Callable[[str], bool] = lambda name: False,
    module: str | None = None,
) -> Written | None:
    """The ``mark.smtpfake(...)`` call in ``path`` that is this marker: under the function or
    class defined at ``owner_line`` (1-based, its first decorator's line or its own; None: the
    module, whose ``pytestmark``), with ``args`` positional arguments and ``keywords``; or, for
    a variable named there that ``holds`` this marker (``holds("slow")``,
    ``holds("markers.slow")``: asked of the loaded test module), its assignment (``module``: the
    test module's dotted name, to resolve a relative import). None when the source cannot be
    read or parsed, or holds no such call and names no variable holding it."""
    tree, source = _parse(path)
    if tree is None:
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
    for name in (n for e in where for n in _names(e) if holds(ast.unparse(n))):
        kept = next(_kept_in(name, tree, source, module, _IMPORTS_FOLLOWED), None)
        if kept is not None:
            return _shown(kept)
        # a variable whose assignment the source does not say: the decorator naming it
        return Written(name.lineno, "@" + ast.unparse(name), found=False)
    calls = [
        _Candidate(c, source)
        for e in where
        for c in ast.walk(e)
        if isinstance(c, ast.Call) and _is_marker(c)
    ]
    if not calls:
        return None
    same = [c for c in calls if _signature(c.call) == (args, keywords)]
    return _shown((same or calls)[0])


def _shown(found: _Candidate) -> Written:
    segment = _one_line(ast.get_source_segment(found.source, found.call) or "")
    text = f"{found.name} = {segment}" if found.name else "@" + segment
    if len(text) > _SHOWN_MAX:
        text = text[: _SHOWN_MAX - 4] + "...)"
    return Written(found.call.lineno, text, found.path)


def _parse(path: Path) -> tuple[ast.Module | None, str]:
    try:
        source = path.read_text(encoding="utf-8")
        return ast.parse(source, str(path)), source
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None, ""


def _names(expr: ast.expr) -> Iterator[ast.expr]:
    """The variables a decorator or ``pytestmark`` value uses as markers: ``slow`` (a name),
    ``markers.slow`` (a module's attribute), also inside a list or ``pytest.param(marks=...)``;
    not the ``pytest``/``mark`` of a marker call, nor a call's own name."""
    if isinstance(expr, ast.Name | ast.Attribute):
        if not _is_marker_path(expr):
            yield expr
        return
    if isinstance(expr, ast.Call):
        children: list[ast.expr] = [*expr.args, *(k.value for k in expr.keywords)]
    elif isinstance(expr, ast.List | ast.Tuple | ast.Set):
        children = list(expr.elts)
    else:
        return
    for child in children:
        yield from _names(child)


def _is_marker_path(expr: ast.expr) -> bool:
    """``pytest.mark.X``/``mark.X`` used bare (``@pytest.mark.slow``): a marker, not a variable."""
    while isinstance(expr, ast.Attribute):
        if expr.attr == "mark":
            return True
        expr = expr.value
    return isinstance(expr, ast.Name) and expr.id == "mark"


def _kept_in(
    name: ast.expr, tree: ast.Module, source: str, module: str | None, depth: int
) -> Iterator[_Candidate]:
    """The marker calls a variable holds: in its module-level assignment in this file (the
    last one), or, imported, in the file of the module it came from (``path`` set)."""
    if depth <= 0:
        return
    if isinstance(name, ast.Name):
        assigned = _assigned(tree.body, name.id)
        if assigned is not None:
            calls = [c for c in ast.walk(assigned) if isinstance(c, ast.Call) and _is_marker(c)]
            yield from (_Candidate(call, source, None, name.id) for call in calls)
            if not calls:  # a list of variables (BOTH = [slow]): where each was assigned
                for inner in _names(assigned):
                    yield from _kept_in(inner, tree, source, module, depth - 1)
            return
        imported = _imported_name(tree.body, name.id, module)
        if imported is not None:
            yield from _in_module(*imported, depth)
    elif isinstance(name, ast.Attribute) and isinstance(name.value, ast.Name):
        origin = _imported_module(tree.body, name.value.id)
        if origin is not None:
            yield from _in_module(origin, name.attr, depth)


def _in_module(module: str, name: str, depth: int) -> Iterator[_Candidate]:
    """``name``'s marker calls in ``module``'s file, when the module is loaded already."""
    loaded = sys.modules.get(module)
    file = getattr(loaded, "__file__", None)
    if not file or not str(file).endswith(".py"):
        return
    path = Path(file)
    tree, source = _parse(path)
    if tree is None:
        return
    use = ast.Name(id=name, ctx=ast.Load())
    # (a package's __init__: its relative imports start from the package itself)
    inside = f"{module}.__init__" if path.name == "__init__.py" else module
    found = list(_kept_in(use, tree, source, inside, depth - 1))
    # (followed from another file: each is shown with its own path)
    yield from (_Candidate(c.call, c.source, c.path or path, c.name) for c in found)


def _assigned(body: list[ast.stmt], name: str) -> ast.expr | None:
    """The value last assigned to ``name`` in a module's own body (``name = ...``, ``name:
    T = ...``), None when it is not assigned there."""
    value = None
    for statement in body:
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets = [statement.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            value = statement.value
    return value


def _imported_name(body: list[ast.stmt], name: str, module: str | None) -> tuple[str, str] | None:
    """``(module, its name)`` for ``from module import x as name``, None when not imported so."""
    for statement in body:
        if isinstance(statement, ast.ImportFrom):
            for alias in statement.names:
                if (alias.asname or alias.name) == name:
                    origin = _absolute(statement.module or "", statement.level, module)
                    return (origin, alias.name) if origin else None
    return None


def _imported_module(body: list[ast.stmt], name: str) -> str | None:
    """The module ``import module as name`` (or ``import name``) binds to ``name``."""
    for statement in body:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.asname == name or (alias.asname is None and alias.name == name):
                    return alias.name
    return None


def _absolute(target: str, level: int, module: str | None) -> str | None:
    """``from .markers import x`` in the module ``module`` (dotted) -> ``package.markers``."""
    if level == 0:
        return target
    if module is None:
        return None
    parts = module.split(".")[:-level]
    return ".".join([*parts, target] if target else parts) or None


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
