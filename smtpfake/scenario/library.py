"""Finding scenarios: built-in names, extra directories, paths and dicts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from smtpfake.scenario.errors import Problem, ScenarioError
from smtpfake.scenario.loader import did_you_mean, load_file, load_mapping
from smtpfake.scenario.model import Location, Scenario

ScenarioRef = str | Path | dict[str, Any] | Scenario


def builtin_dir() -> Path:
    """The built-in library: inside the installed package, or the repo's top-level scenarios/."""
    here = Path(__file__).resolve().parent.parent
    installed = here / "scenarios"
    return installed if installed.is_dir() else here.parent / "scenarios"


def scenario_files(dirs: Iterable[str | Path] = ()) -> dict[str, Path]:
    """Name -> file, built-ins first; a later directory's file overrides an earlier one's."""
    found: dict[str, Path] = {}
    for d in (builtin_dir(), *(Path(x) for x in dirs)):
        if d.is_dir():
            for path in sorted([*d.glob("*.yaml"), *d.glob("*.yml")]):
                found[path.stem] = path
    return found


def resolve(ref: ScenarioRef, dirs: Sequence[str | Path] = ()) -> Scenario:
    """A built-in or configured name, a path to a YAML file, a dict, or a Scenario."""
    if isinstance(ref, Scenario):
        return ref
    if isinstance(ref, dict):
        return load_mapping(ref)
    text = str(ref)
    if isinstance(ref, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        return load_file(text)
    files = scenario_files(dirs)
    if text in files:
        return load_file(files[text])
    raise ScenarioError(
        [
            Problem(
                Location(text, 1, 1),
                f"no scenario named '{text}'{did_you_mean(text, files)} "
                f"(known: {', '.join(sorted(files))})",
            )
        ]
    )
