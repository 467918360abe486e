"""Finding scenarios: built-in names, extra directories, paths and dicts."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from smtpfake.scenario import cache
from smtpfake.scenario.errors import Problem, ScenarioError
from smtpfake.scenario.model import Location, Scenario

# The YAML loader is imported where it is used: a server that reads its scenario from the disk
# cache (cache.py) starts without it.

ScenarioRef = str | Path | dict[str, Any] | Scenario


def builtin_dir() -> Path:
    """The built-in library: inside the installed package, or the repo's top-level scenarios/."""
    here = Path(__file__).resolve().parent.parent
    installed = here / "scenarios"
    return installed if installed.is_dir() else here.parent / "scenarios"


_BUILTIN_DIR = builtin_dir()


def scenario_files(dirs: Iterable[str | Path] = ()) -> dict[str, Path]:
    """Name -> file, built-ins first; a later directory's file overrides an earlier one's."""
    found: dict[str, Path] = {}
    for d in (_BUILTIN_DIR, *(Path(x) for x in dirs)):
        found.update(_listing(d))
    return found


_LISTINGS: dict[Path, tuple[int, dict[str, Path]]] = {}


def _listing(d: Path) -> dict[str, Path]:
    """A directory's scenario files, re-read only when the directory changes."""
    try:
        mtime = d.stat().st_mtime_ns
    except OSError:
        return {}
    cached = _LISTINGS.get(d)
    if cached is None or cached[0] != mtime:
        files = sorted([*d.glob("*.yaml"), *d.glob("*.yml")])
        cached = (mtime, {p.stem: p for p in files})
        _LISTINGS[d] = cached
    return cached[1]


_CACHE: dict[tuple[str, int, int, str], Scenario] = {}


def load_cached(path: str | Path, params: Mapping[str, Any] | None = None) -> Scenario:
    """load_file, remembered while the file is unchanged: a fixture switching to the same scenario
    in every test must not parse YAML every time. Scenarios are frozen, so sharing is safe."""
    try:
        st = os.stat(path)
    except OSError:
        from smtpfake.scenario.loader import load_file

        return load_file(path, params=params)  # reports the problem as a ScenarioError
    key = (str(path), st.st_mtime_ns, st.st_size, repr(sorted((params or {}).items())))
    found = _CACHE.get(key)
    if found is None:
        # kept in a local: another thread (an API request) may clear the cache meanwhile
        found = cache.load(str(path), params or {})  # from the disk when it was loaded before
        if len(_CACHE) >= 256:
            _CACHE.clear()
        _CACHE[key] = found
    return found


def resolve(
    ref: ScenarioRef,
    dirs: Sequence[str | Path] = (),
    params: Mapping[str, Any] | None = None,
) -> Scenario:
    """A built-in or configured name, a path to a YAML file, a dict, or a Scenario; ``params``
    sets its parameters by name (a problem with one is a ScenarioError like any other)."""
    if isinstance(ref, Scenario):
        from smtpfake.scenario.loader import with_params

        return with_params(ref, params or {})
    if isinstance(ref, dict):
        from smtpfake.scenario.loader import load_mapping

        return load_mapping(ref, params=params)
    text = str(ref)
    if isinstance(ref, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        return load_cached(text, params)
    files = scenario_files(dirs)
    if text in files:
        return load_cached(files[text], params)
    from smtpfake.scenario.yamlwalk import did_you_mean

    raise ScenarioError(
        [
            Problem(
                Location(text, 1, 1),
                f"no scenario named '{text}'{did_you_mean(text, files)} "
                f"(known: {', '.join(sorted(files))})",
            )
        ]
    )
