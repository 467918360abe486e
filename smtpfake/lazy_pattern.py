"""``compiled_on_first_use``: ``re.compile`` for a module-level pattern, compiled when the
pattern is first used rather than when its module is imported.

Why (start-up time): ``re`` compiles a pattern in Python, 200,000 to 700,000 instructions each
on CPython 3.11 (the engine's dozen were some 4 million of ``smtpfake serve``'s start), and a
server needs a pattern only when a client's command or message does: a server nobody talks to
never compiles one.
"""

from __future__ import annotations

import re
from typing import Any, AnyStr, cast


class _Compiled:
    """An :class:`_OnFirstUse` once compiled: every public attribute of the compiled pattern
    held as its own (no ``__getattr__`` left to consult: a read is a plain lookup)."""

    pattern: str | bytes
    _flags: int

    def __repr__(self) -> str:
        return f"compiled_on_first_use({self.pattern!r}, {self._flags})"


class _OnFirstUse:
    """Stands for ``re.compile(pattern, flags)``: reading an attribute it has not got
    (``match``, ``fullmatch``, ``search`` ...) compiles the pattern (``re`` keeps it in its
    cache, so two threads get one), takes every public attribute of the compiled pattern as its
    own (its bound methods among them) and becomes a :class:`_Compiled`. ``pattern`` is there
    from the start."""

    def __init__(self, pattern: str | bytes, flags: int) -> None:
        self.pattern = pattern
        self._flags = flags

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and the like ask for what a pattern lacks too
            raise AttributeError(name)
        compiled = re.compile(self.pattern, self._flags)
        for public in dir(compiled):
            if not public.startswith("_"):
                setattr(self, public, getattr(compiled, public))
        self.__class__ = _Compiled  # type: ignore[assignment]
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"compiled_on_first_use({self.pattern!r}, {self._flags})"


def compiled_on_first_use(pattern: AnyStr, flags: int = 0) -> re.Pattern[AnyStr]:
    """``re.compile(pattern, flags)``, compiled at its first use (see the module): every attribute
    of ``re.Pattern`` reads as the compiled pattern's. What differs: it is no instance of
    ``re.Pattern``, and a mistake in the pattern is raised by its first use, not at import (a test
    compiles every pattern of smtpfake's: tests/test_lazy_pattern.py)."""
    return cast("re.Pattern[AnyStr]", _OnFirstUse(pattern, flags))
