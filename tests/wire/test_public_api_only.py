"""smtpfake uses asyncio, ssl and aiosmtpd only through their public API: no ``obj._name`` on an
object that is not smtpfake's own, no ``getattr(obj, "_name")``, no private modules. Read from the
source with ``ast`` over the whole package, so a new file is checked too."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent.parent / "smtpfake"
#: modules whose insides are not an API (asyncio's transports and SSL layer, aiosmtpd's loop)
PRIVATE_MODULES = ("asyncio.sslproto", "asyncio.base_events", "asyncio.selector_events")
OWN = frozenset({"self", "cls"})
#: private by name, public in use: the type checker's stubs (only under TYPE_CHECKING)
ALLOWED_IMPORTS = ("_typeshed",)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Attribute) and _private(node.attr):
            if not (isinstance(node.value, ast.Name) and node.value.id in OWN):
                found.append(f"{where}: {ast.unparse(node)}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.args[1] if len(node.args) >= 2 else None
            if (
                node.func.id in ("getattr", "setattr", "hasattr")
                and isinstance(name, ast.Constant)
                and isinstance(name.value, str)
                and _private(name.value)
            ):
                found.append(f"{where}: {ast.unparse(node)}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names]
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                names = [base, *(f"{base}.{n}" for n in names)]
            for name in names:
                if name.startswith(ALLOWED_IMPORTS):
                    continue
                if name.startswith(PRIVATE_MODULES) or any(_private(p) for p in name.split(".")):
                    found.append(f"{where}: import {name}")
    return found


def test_no_private_attribute_of_anything_but_smtpfakes_own_objects() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20  # the scan really reads the package
    problems = [o for f in files for o in offences(f)]
    assert problems == [], "\n".join(problems)


def test_the_scan_catches_what_it_is_for() -> None:
    probe = PACKAGE / "_probe_for_the_scan.py"
    text = (
        "import asyncio\nfrom asyncio import sslproto\n"
        "def f(reader, transport):\n"
        "    reader._buffer.clear()\n"
        "    return getattr(transport, '_ssl_protocol')\n"
    )
    try:
        probe.write_text(text, encoding="utf-8")
        found = offences(probe)
    finally:
        probe.unlink()
    assert sorted(o.split(": ", 1)[1] for o in found) == [
        "getattr(transport, '_ssl_protocol')",
        "import asyncio.sslproto",
        "reader._buffer",
    ]
