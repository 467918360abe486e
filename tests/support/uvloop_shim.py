"""uvloop installed but failing to import (a build for another Python, a broken install),
simulated by a package of that name first on the path whose import raises ImportError."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

#: what the shim's import raises
SHIM_ERROR = "simulated: uvloop built for another Python"


def break_uvloop(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """From now until ``monkeypatch`` undoes it, ``import uvloop`` raises ImportError, while
    its spec is found (the real uvloop, if imported, is back afterwards)."""
    package = folder / "uvloop"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"raise ImportError({SHIM_ERROR!r})\n")
    monkeypatch.delitem(sys.modules, "uvloop", raising=False)
    monkeypatch.syspath_prepend(str(folder))
