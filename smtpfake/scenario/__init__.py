"""Scenario model, fault vocabulary and loader: the bottom layer, with no I/O but file reading."""

from smtpfake.scenario.errors import Problem, ScenarioError
from smtpfake.scenario.library import ScenarioRef, builtin_dir, resolve, scenario_files
from smtpfake.scenario.loader import load_file, load_mapping, load_text
from smtpfake.scenario.model import Location, Rule, Scenario, ServerSettings, Stage
from smtpfake.scenario.reply import Reply

__all__ = [
    "Location",
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
