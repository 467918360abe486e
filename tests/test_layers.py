"""The one-way layering of DESIGN.md §2, read from the source with ``ast``.

Every ``import`` counts: module level, inside functions, under ``if TYPE_CHECKING``, absolute and
relative. A new module under smtpfake/ must be placed in a layer below (the test fails until it is).

Where ``smtpfake/tls.py`` sits: it is the certificate layer (the trustme CA, the server's
``ssl.SSLContext`` built from ``ServerSettings``). It needs only the scenario model, so it sits
just above ``scenario``, beside ``engine``; ``wire``, ``server`` and the faces may use it. The
asyncio side of STARTTLS is ``smtpfake/wire/tls.py``, part of ``wire``.

``smtpfake/replycodes.py`` is reference data (what each reply code means) with no smtpfake
imports; only the faces (``explain``) use it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "smtpfake"

# Layer name -> the layers it may import (itself included where it may).
ALLOWED: dict[str, frozenset[str]] = {
    # smtpfake/__init__.py (__version__ only) and frozen_dataclass.py: anyone may import them
    "root": frozenset(),
    "reference": frozenset({"root"}),
    "scenario": frozenset({"root", "scenario"}),
    "engine": frozenset({"root", "engine", "scenario"}),
    "tls": frozenset({"root", "tls", "scenario"}),
    "wire": frozenset({"root", "wire", "engine", "scenario", "tls"}),
    "journal": frozenset({"root", "journal", "engine"}),  # narrowed to engine.records below
    "server": frozenset({"root", "server", "wire", "engine", "journal", "scenario", "tls"}),
    "face": frozenset(
        {"root", "reference", "scenario", "engine", "tls", "wire", "journal", "server", "face"}
    ),
}

# The journal stores what the engine reports and nothing else.
JOURNAL_MAY_IMPORT = frozenset(
    {
        "smtpfake",
        "smtpfake.frozen_dataclass",
        "smtpfake.journal",
        "smtpfake.journal_limits",
        "smtpfake.exchanges",
        "smtpfake.engine.records",
        # the text form (SessionRecord.format) shows a client's control octets as \xNN, as
        # every other text form does: a leaf that imports nothing of smtpfake
        "smtpfake.visible",
        # the journal's wait ends when an awaitable wait's await is cancelled: a leaf too
        "smtpfake.wait_cancel",
    }
)

FACES = frozenset(
    {
        "smtpfake.__main__",
        "smtpfake.entry",
        "smtpfake.cli",
        "smtpfake.cli_parser",
        "smtpfake.plain_args",
        "smtpfake.control",
        "smtpfake.explain",
        "smtpfake.http",
        "smtpfake.http.app",
        "smtpfake.http.clock_api",
        "smtpfake.http.choice",
        "smtpfake.http.context",
        "smtpfake.http.journal_api",
        "smtpfake.http.scenario_api",
        "smtpfake.http.servers_api",
        "smtpfake.http.stream",
        "smtpfake.http.events",
        "smtpfake.http.fleet",
        "smtpfake.http.guards",
        "smtpfake.http.inputs",
        "smtpfake.http.messages",
        "smtpfake.http.listings",
        "smtpfake.http.message_data",
        "smtpfake.http.pacing",
        "smtpfake.http.parsing",
        "smtpfake.http.parse_worker",
        "smtpfake.http.sidecar",
        "smtpfake.logging_observer",
        "smtpfake.log_lines",
        "smtpfake.log_writer",  # the log's thread: the event loop never waits on its reader
        "smtpfake.quick_subject",
        "smtpfake.event_order",  # where the log and the event stream place a violation or message
        "smtpfake.pytest_plugin",
        "smtpfake.pytest_plugin_backend",
        "smtpfake.pytest_plugin_errors",
        "smtpfake.pytest_plugin_marker",
        "smtpfake.pytest_plugin_marker_source",
        "smtpfake.queries",
        "smtpfake.servers_on_demand",
        "smtpfake.remote",
        "smtpfake.serialize",
    }
)

# The engine is sans-I/O; the scenario layer is below it, so it must be I/O-free too.
NO_IO_LAYERS = frozenset({"scenario", "engine"})
IO_MODULES = frozenset(
    {
        "aiosmtpd",
        "asyncio",
        "concurrent",
        "multiprocessing",
        "selectors",
        "socket",
        "socketserver",
        "ssl",
        "subprocess",
        "threading",
    }
)

# (importing module, imported module) -> why this edge is allowed against the rule. Keep empty
# unless a fix is out of reach; test_exceptions_are_still_needed drops stale entries.
EXCEPTIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Edge:
    source: str  # dotted module that imports
    target: str  # dotted module imported
    path: Path
    line: int

    def where(self) -> str:
        # the path from the package directory on: smtpfake/engine/session.py:12
        parts = self.path.parts
        start = len(parts) - 1 - parts[::-1].index("smtpfake")
        return f"{Path(*parts[start:]).as_posix()}:{self.line}"


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def imports_of(source: str, name: str, path: Path, known: set[str]) -> list[Edge]:
    """Every import in ``source`` (module ``name`` at ``path``), relative ones resolved.
    ``from a import b`` counts as importing ``a.b`` when that is a module of ours."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    edges: list[Edge] = []
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            edges += [Edge(name, alias.name, path, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base_parts = parts[: len(parts) - (node.level - 1)]
                assert base_parts, f"{path}:{node.lineno}: relative import beyond the package"
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                edges.append(Edge(name, sub if sub in known else base, path, node.lineno))
    return edges


def layer_of(module: str) -> str | None:
    if module == "smtpfake":
        return "root"
    if module in FACES:
        return "face"
    top = module.split(".")[1]
    if top in ("scenario", "engine", "wire"):
        return top
    if top == "probe":  # smtpfake probe: a face, on top of server, journal and scenario
        return "face"
    return {
        "smtpfake.tls": "tls",
        "smtpfake.journal": "journal",
        "smtpfake.journal_limits": "journal",
        "smtpfake.exchanges": "journal",
        "smtpfake.server": "server",
        "smtpfake.settling": "server",  # reads that wait for open sessions to end
        # the helpers' arguments checked (both transports; the server may use it too)
        "smtpfake.arguments": "server",
        # the control API's token as given (serve, the plugin, show, RemoteSmtpFake)
        "smtpfake.bearer_token": "server",
        # delivery back ends (aiosmtpd's handlers) beside the server that feeds them
        "smtpfake.delivery": "server",
        "smtpfake.relay": "server",
        "smtpfake.hooks": "server",
        "smtpfake.replycodes": "reference",
        "smtpfake.replycodes_zh": "reference",
        "smtpfake.enhancedcodes": "reference",
        "smtpfake.visible": "reference",
        # how the layers declare their records: imports nothing of smtpfake
        "smtpfake.frozen_dataclass": "root",
        # module-level regular expressions compiled on first use: imports nothing of smtpfake
        "smtpfake.lazy_pattern": "root",
        # ending a worker thread's wait when its await is cancelled: imports nothing of smtpfake
        "smtpfake.wait_cancel": "root",
    }.get(module)


def violations(modules: dict[str, Path]) -> tuple[list[str], set[tuple[str, str]]]:
    """The layering problems as messages, and the exception edges that were used."""
    known = set(modules)
    problems: list[str] = []
    used: set[tuple[str, str]] = set()
    for name, path in modules.items():
        layer = layer_of(name)
        if layer is None:
            problems.append(f"{name} ({path}) is in no layer: place it in tests/test_layers.py")
            continue
        for edge in imports_of(path.read_text(encoding="utf-8"), name, path, known):
            top = edge.target.split(".")[0]
            if top != "smtpfake":
                if layer in NO_IO_LAYERS and top in IO_MODULES:
                    problems.append(
                        f"{edge.where()}: {name} ({layer}, sans-I/O) imports {edge.target}"
                    )
                continue
            target_layer = layer_of(edge.target)
            if layer == "journal":
                ok = edge.target in JOURNAL_MAY_IMPORT
                allowed = ", ".join(sorted(JOURNAL_MAY_IMPORT))
            else:
                ok = target_layer in ALLOWED[layer]
                allowed = ", ".join(sorted(ALLOWED[layer]))
            if ok:
                continue
            if (name, edge.target) in EXCEPTIONS:
                used.add((name, edge.target))
                continue
            problems.append(
                f"{edge.where()}: {name} ({layer}) imports {edge.target} ({target_layer}); "
                f"{layer} may import only: {allowed}"
            )
    return problems, used


def test_layers_are_one_way() -> None:
    problems, _ = violations(all_modules(PACKAGE))
    assert not problems, "layering (DESIGN.md §2) broken:\n" + "\n".join(problems)


def test_exceptions_are_still_needed() -> None:
    _, used = violations(all_modules(PACKAGE))
    stale = set(EXCEPTIONS) - used
    assert not stale, f"drop these from EXCEPTIONS, the code no longer needs them: {stale}"


def test_every_layer_is_present() -> None:
    """Guards against a rename that would make the checks above vacuous."""
    layers = {layer_of(name) for name in all_modules(PACKAGE)}
    assert layers == set(ALLOWED)


# The checker itself: it must see the imports that are easy to miss.


def _fake_tree(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    root = tmp_path / "smtpfake"
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    for rel in ("__init__.py", "engine/__init__.py", "scenario/__init__.py"):
        if not (root / rel).exists():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text("", encoding="utf-8")
    (root / "server.py").write_text("", encoding="utf-8")
    (root / "cli.py").write_text("", encoding="utf-8")
    return all_modules(root)


@pytest.mark.parametrize(
    ("source", "culprit"),
    [
        ("from smtpfake.server import Server\n", "smtpfake.server"),
        ("from smtpfake import server\n", "smtpfake.server"),
        ("from ... import cli\n", "smtpfake.cli"),
        ("from ...server import Server\n", "smtpfake.server"),
        ("def f() -> None:\n    import smtpfake.server\n", "smtpfake.server"),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from smtpfake.cli import main\n",
            "smtpfake.cli",
        ),
        ("import asyncio\n", "asyncio"),
        ("def f() -> None:\n    from threading import Lock\n", "threading"),
        ("import socket as s\n", "socket"),
    ],
)
def test_checker_catches(tmp_path: Path, source: str, culprit: str) -> None:
    modules = _fake_tree(tmp_path, {"engine/x/bad.py": source, "engine/x/__init__.py": ""})
    problems, _ = violations(modules)
    assert len(problems) == 1, problems
    assert "smtpfake/engine/x/bad.py:" in problems[0]
    assert "smtpfake.engine.x.bad (engine" in problems[0]
    assert culprit in problems[0]


def test_checker_allows_downward_and_flags_unplaced(tmp_path: Path) -> None:
    modules = _fake_tree(
        tmp_path,
        {
            "engine/ok.py": "from smtpfake.scenario import model\nfrom . import ok\nimport time\n",
            "scenario/model.py": "import dataclasses\n",
            "newthing.py": "",
        },
    )
    problems, _ = violations(modules)
    assert problems == [
        f"smtpfake.newthing ({modules['smtpfake.newthing']}) is in no layer: "
        "place it in tests/test_layers.py"
    ]
