"""Scenario model, fault vocabulary and loader: the bottom layer, with no I/O but file reading.

The names below load on first use (PEP 562): importing ``smtpfake.scenario.model`` runs this file
first, and a server reading a cached scenario (``smtpfake.scenario.cache``) must not pay for the
YAML loader at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smtpfake.scenario.errors import ParamsError, Problem, ScenarioError
    from smtpfake.scenario.library import ScenarioRef, builtin_dir, resolve, scenario_files
    from smtpfake.scenario.loader import load_file, load_mapping, load_text
    from smtpfake.scenario.model import Location, Rule, Scenario, ServerSettings, Stage
    from smtpfake.scenario.reply import Reply

#: exported name -> the module of this package that defines it
_WHERE = {
    "Location": "model",
    "ParamsError": "errors",
    "Problem": "errors",
    "Reply": "reply",
    "Rule": "model",
    "Scenario": "model",
    "ScenarioError": "errors",
    "ScenarioRef": "library",
    "ServerSettings": "model",
    "Stage": "model",
    "builtin_dir": "library",
    "load_file": "loader",
    "load_mapping": "loader",
    "load_text": "loader",
    "resolve": "library",
    "scenario_files": "library",
}

__all__ = [
    "Location",
    "ParamsError",
    "Problem",
    "Reply",
    "Rule",
    "Scenario",
    "ScenarioError",
    "ScenarioRef",
    "ServerSettings",
    "Stage",
    "builtin_dir",
    "load_file",
    "load_mapping",
    "load_text",
    "resolve",
    "scenario_files",
]


def __getattr__(name: str) -> object:
    """An exported name, its module imported on first use; AttributeError for any other."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value  # the next use is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
