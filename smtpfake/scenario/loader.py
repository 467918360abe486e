"""YAML -> :class:`Scenario`, safely, reporting every problem at ``file:line:col``.

The YAML is composed into nodes (no object construction, so no arbitrary tags) and walked by hand,
so each problem knows where it is. Nothing is half-loaded: any problem raises ScenarioError.

This module reads the document's top level; the readers it is built from live next to it:
yamlwalk.py (nodes and typed values), settings_reader.py (``server:``), rule_reader.py
(``rules:``) and fault_reader.py (each fault's parameters).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from smtpfake.scenario.checks import Checks
from smtpfake.scenario.checks_reader import ChecksReader
from smtpfake.scenario.errors import Problem, ScenarioError
from smtpfake.scenario.model import Location, Scenario, ServerSettings
from smtpfake.scenario.rule_reader import RULE_KEYS, STAGES, RuleReader
from smtpfake.scenario.settings_reader import (
    AUTH_KEYS,
    KNOWN_KEYWORDS,
    SERVER_KEYS,
    TLS_KEYS,
    SettingsReader,
)
from smtpfake.scenario.yamlwalk import did_you_mean, is_null

# What other modules (schema.py, library.py) and tests take from here.
__all__ = [
    "AUTH_KEYS",
    "KNOWN_KEYWORDS",
    "RULE_KEYS",
    "SERVER_KEYS",
    "STAGES",
    "TLS_KEYS",
    "TOP_KEYS",
    "did_you_mean",
    "load_file",
    "load_mapping",
    "load_text",
    "plain",
]

TOP_KEYS = ("name", "summary", "expect", "description", "seed", "server", "rules", "checks")


class _Walker(SettingsReader, RuleReader, ChecksReader):
    """The whole document: top-level keys here; ``server:``, ``rules:``, ``checks:`` inherited."""

    def scenario(self, root: yaml.Node, name: str, require_docs: bool) -> Scenario | None:
        root = self.tags(root)
        fields: dict[str, Any] = {}
        for key, key_node, value in self.mapping(root, "scenario"):
            if key == "name":
                fields["name"] = self.string(value, "name")
            elif key in ("summary", "expect", "description"):
                fields[key] = self.string(value, key)
            elif key == "seed":
                fields["seed"] = self.integer(value, "seed")
            elif key == "server":
                fields["server"] = self.server(value)
            elif key == "rules":
                fields["rules"] = self.rules(value)
            elif key == "checks":
                fields["checks"] = self.checks(value)
            else:
                self.unknown_key(key_node, key, TOP_KEYS)
        if isinstance(root, yaml.MappingNode) and require_docs:
            for key, why in (
                ("summary", "one line saying what this scenario does"),
                ("expect", "what a correct client is expected to do"),
            ):
                if key not in fields:
                    self.problem(root, f"missing '{key}': {why}")
        if self.problems or not isinstance(root, yaml.MappingNode):
            return None
        return Scenario(
            name=fields.get("name") or name,
            summary=fields.get("summary", "Inline scenario."),
            expect=fields.get("expect", ""),
            description=fields.get("description", ""),
            seed=fields.get("seed"),
            server=fields.get("server", ServerSettings()),
            rules=fields.get("rules", ()),
            source=self.source,
            checks=fields.get("checks", Checks()),
        )


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or str(exc)
    if not exc.context:
        return problem
    # "expected a single document in the stream" + "but found another document"
    if problem.startswith("but "):
        return f"{exc.context}, {problem}"
    context, start, end = exc.context, exc.context_mark, exc.problem_mark
    if start is not None and end is not None and start.line != end.line:
        # an unclosed quote or bracket is found at the end of the file: say where it opened
        context = f"{context} that starts at {start.line + 1}:{start.column + 1}"
    return f"{problem} ({context})"


def load_text(
    text: str, *, source: str = "<string>", name: str = "inline", require_docs: bool = True
) -> Scenario:
    """Parse and validate one scenario document."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ScenarioError(
            [Problem(Location(source, line, col), f"invalid YAML: {_yaml_message(exc)}")]
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(Location(source, 1, 1), f"invalid YAML: {exc}")]) from None
    if root is None or (is_null(root) and not root.value):
        # Nothing, comments only, or a bare "---".
        raise ScenarioError([Problem(Location(source, 1, 1), "the file is empty")])
    walker = _Walker(source)
    scenario = walker.scenario(root, name, require_docs)
    if walker.problems or scenario is None:
        raise ScenarioError(walker.problems)
    return scenario


def load_file(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(Location(str(path), 1, 1), f"cannot read: {exc}")]) from None
    return load_text(text, source=str(path), name=path.stem)


def load_mapping(data: dict[str, Any], *, name: str = "inline") -> Scenario:
    """A scenario given as a Python dict (e.g. ``smtpfake.use({...})``); summary/expect optional."""
    source = f"<{name}>"
    try:
        # Tuples are lists here (``extensions=("PIPELINING",)``); anything else YAML cannot
        # represent is the caller's mistake, reported like any other scenario problem.
        text = yaml.safe_dump(plain(data), sort_keys=False)
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(Location(source, 1, 1), f"cannot read: {exc}")]) from None
    return load_text(text, source=source, name=str(data.get("name", name)), require_docs=False)


def plain(value: Any) -> Any:
    """Tuples as lists, so a dict given for ``use()`` dumps as YAML the same way anywhere."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
