"""Finding scenarios: built-in names, extra directories, paths and dicts."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from smtpfake.scenario import cache
from smtpfake.scenario.errors import Problem, ScenarioError
from smtpfake.scenario.model import Location, Scenario

if TYPE_CHECKING:
    from pathlib import Path

# The YAML loader is imported where it is used: a server that reads its scenario from the disk
# cache (cache.py) starts without it. So is pathlib (with urllib.parse and ipaddress, about 3 ms
# of serve's start): resolve() finds files as strs; the functions that hand out paths make Paths.

ScenarioRef = str | os.PathLike[str] | dict[str, Any] | Scenario


def _builtin_dir() -> str:
    here = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    installed = os.path.join(here, "scenarios")
    repo = os.path.join(os.path.dirname(here), "scenarios")
    return installed if os.path.isdir(installed) else repo


_BUILTIN_DIR = _builtin_dir()


def builtin_dir() -> Path:
    """The built-in library: inside the installed package, or the repo's top-level scenarios/."""
    from pathlib import Path

    return Path(_BUILTIN_DIR)


def scenario_files(dirs: Iterable[str | os.PathLike[str]] = ()) -> dict[str, Path]:
    """Name -> file, built-ins first; a later directory's file overrides an earlier one's."""
    from pathlib import Path

    return {name: Path(file) for name, file in _files(dirs).items()}


def _files(dirs: Iterable[str | os.PathLike[str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for d in (_BUILTIN_DIR, *(os.fspath(x) for x in dirs)):
        found.update(_listing(d))
    return found


_LISTINGS: dict[str, tuple[int, dict[str, str]]] = {}


def _listing(d: str) -> dict[str, str]:
    """A directory's scenario files (``*.yaml``, ``*.yml``; a name in both: the ``.yml``), re-read
    only when the directory changes."""
    try:
        mtime = os.stat(d).st_mtime_ns
        cached = _LISTINGS.get(d)
        if cached is None or cached[0] != mtime:
            with os.scandir(d) as entries:  # as glob("*.yaml") and glob("*.yml"), sorted
                names = sorted(
                    e.name
                    for e in entries
                    if e.name.endswith((".yaml", ".yml")) and not e.name.startswith(".")
                )
            cached = (mtime, {os.path.splitext(n)[0]: os.path.join(d, n) for n in names})
            _LISTINGS[d] = cached
    except OSError:
        return {}
    return cached[1]


_CACHE: dict[tuple[str, int, int, str], Scenario] = {}


def load_cached(path: str | os.PathLike[str], params: Mapping[str, Any] | None = None) -> Scenario:
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
    dirs: Sequence[str | os.PathLike[str]] = (),
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
    if not isinstance(ref, str | os.PathLike):
        __tracebackhide__ = True  # the caller's mistake: pytest points at the caller's line
        # Controller(handler) is aiosmtpd's first line; Server(handler) took it for a name
        kind = type(ref).__name__
        raise TypeError(
            f"a scenario is a name, a YAML path, a dict or a Scenario, not a {kind}; an aiosmtpd "
            "handler object goes in handler= (its handle_RCPT, handle_DATA... change replies) or "
            "delivery= (it gets each accepted message, as aiosmtpd's Controller(handler) does)"
        )
    text = os.fspath(ref) if isinstance(ref, os.PathLike) else ref
    if isinstance(ref, os.PathLike) or text.endswith((".yaml", ".yml")) or "/" in text:
        return load_cached(text, params)
    files = _files(dirs)
    if text in files:
        return load_cached(files[text], params)
    listed_by = "smtpfake list" + (" --scenario-dir DIR" if dirs else "")
    # no file, so no file:line:col (Location's file ""): the name is the setting's mistake
    raise ScenarioError([Problem(Location("", 0, 0), unknown_name(text, files, listed_by))])


def unknown_name(name: str, known: Iterable[str], listed_by: str = "smtpfake list") -> str:
    """What every face says of a scenario name that names none: after a close match, where the
    names are listed (``listed_by``), ``no scenario named 'defualt'; did you mean 'default'?
    (`smtpfake list` names all 80)``; else the names themselves, ``... (known: a, b, ...)``."""
    from smtpfake.scenario.yamlwalk import did_you_mean

    names = sorted(known)
    hint = did_you_mean(name, names)
    if hint:
        return f"no scenario named '{name}'{hint} (`{listed_by}` names all {len(names)})"
    return f"no scenario named '{name}' (known: {', '.join(names)})"
