"""smtpfake.lazy_pattern: a module-level pattern compiled on first use answers as re.compile's."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import smtpfake
from smtpfake.lazy_pattern import _Compiled, _OnFirstUse, compiled_on_first_use


def test_it_answers_as_the_compiled_pattern() -> None:
    lazy = compiled_on_first_use(r"^(FROM|TO):\s*<([^<>]*)>", re.IGNORECASE)
    eager = re.compile(r"^(FROM|TO):\s*<([^<>]*)>", re.IGNORECASE)
    for text in ("FROM:<a@b>", "to: <x>", "RCPT <x>", ""):
        got, want = lazy.match(text), eager.match(text)
        assert (got and got.groups()) == (want and want.groups())
    assert lazy.flags == eager.flags and lazy.groups == 2
    assert lazy.sub("*", "From:<a>") == eager.sub("*", "From:<a>")
    octets = compiled_on_first_use(rb"(?<!\r)\n")
    assert octets.search(b"a\r\nb\nc") is not None and octets.search(b"a\r\n") is None


def test_it_compiles_at_first_use_and_keeps_what_it_read() -> None:
    lazy = compiled_on_first_use(r"[0-9]{1,20}")
    assert isinstance(lazy, _OnFirstUse)
    assert "fullmatch" not in vars(lazy) and lazy.pattern == "[0-9]{1,20}"
    assert lazy.fullmatch("123")
    kept = vars(lazy)["fullmatch"]
    assert kept.__self__ is re.compile(r"[0-9]{1,20}")  # the compiled pattern's own method
    assert lazy.fullmatch is kept and isinstance(lazy, _Compiled)
    assert vars(lazy)["search"].__self__ is kept.__self__  # every method, taken at once
    with pytest.raises(AttributeError):
        lazy.__deepcopy__  # noqa: B018 - a special name is not read through
    assert repr(lazy) == "compiled_on_first_use('[0-9]{1,20}', 0)"


def test_a_mistake_in_the_pattern_is_raised_by_its_first_use() -> None:
    broken = compiled_on_first_use(r"([0-9]")
    with pytest.raises(re.error):
        broken.match("1")


def _modules_with_patterns() -> list[str]:
    """The modules of smtpfake whose source makes a pattern with compiled_on_first_use."""
    root = Path(smtpfake.__file__).parent
    return [
        ".".join(("smtpfake", *path.relative_to(root).with_suffix("").parts))
        for path in sorted(root.rglob("*.py"))
        if path.name != "lazy_pattern.py" and "compiled_on_first_use(" in path.read_text()
    ]


def test_every_pattern_of_smtpfake_compiles() -> None:
    """What import no longer checks: each module-level pattern of smtpfake's is well formed."""
    found = []
    names = _modules_with_patterns()
    assert "smtpfake.engine.commands" in names
    for name in names:
        for value in vars(importlib.import_module(name)).values():
            if isinstance(value, _OnFirstUse | _Compiled):
                re.compile(value.pattern, value._flags)  # type: ignore[union-attr]
                found.append(value.pattern)
    assert len(found) >= 10  # the engine's and the scenario's
