"""YAML -> :class:`Scenario`, safely, reporting every problem at ``file:line:col``.

The YAML is composed into nodes (no object construction, so no arbitrary tags) and walked by hand,
so each problem knows where it is. Nothing is half-loaded: any problem raises ScenarioError.

This module reads the document's top level; the readers it is built from live next to it:
yamlwalk.py (nodes and typed values), settings_reader.py (``server:``), rule_reader.py
(``rules:``) and fault_reader.py (each fault's parameters).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from smtpfake.scenario import limits
from smtpfake.scenario.checks import Checks
from smtpfake.scenario.checks_reader import ChecksReader
from smtpfake.scenario.compose import TooBig, compose, too_big_message
from smtpfake.scenario.errors import ParamsError, Problem, ScenarioError, cannot_read
from smtpfake.scenario.model import Location, Scenario, ServerSettings
from smtpfake.scenario.nodes import MappingNode, Node
from smtpfake.scenario.params import ParamReader, Substitution
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
    "with_params",
]

TOP_KEYS = (
    "name",
    "summary",
    "expect",
    "description",
    "seed",
    "params",
    "server",
    "rules",
    "checks",
)

Params = Mapping[str, Any]


class _Walker(SettingsReader, RuleReader, ParamReader, ChecksReader):
    """The whole document: its top-level keys here; ``params:``, ``server:``, ``rules:`` and
    ``checks:`` inherited."""

    def scenario(
        self,
        root: Node,
        name: str,
        require_docs: bool,
        overrides: Params,
        *,
        tagged: bool = True,
        refs: bool = True,
    ) -> Scenario | None:
        """The scenario, or None with self.problems; ``tagged``/``refs``: see compose.Composed
        (False skips a pass that would find nothing)."""
        root = self.tags(root) if tagged else root
        fields: dict[str, Any] = {}
        entries = self.mapping(root, "scenario")
        # Parameters first: every other value may refer to them (see params.py).
        params_node = next((v for k, _, v in entries if k == "params"), None)
        if params_node is None and overrides:
            # no params: in the file, so no place in it to blame: line -1 is Location line 0,
            # the file as a whole ("t.yaml: params: this scenario declares no parameters ...")
            params_node = MappingNode("tag:yaml.org,2002:map", [], -1, -1)
        declared = self.params(params_node, overrides) if params_node is not None else {}
        subst = Substitution(self, {n: p for n, (p, _) in declared.items()})
        for key, key_node, value in entries:
            if key != "params" and refs:
                value = subst.node(value)
            if key == "params":
                fields["params"] = tuple(p for p, _ in declared.values())
            elif key == "name":
                fields["name"] = self.string(value, "name")
            elif key in ("summary", "expect", "description"):
                fields[key] = self.string(value, key)
            elif key == "seed":
                fields["seed"] = self.integer(value, "seed", 0, limits.MAX_SEED)
            elif key == "server":
                fields["server"] = self.server(value)
            elif key == "rules":
                fields["rules"] = self.rules(value)
            elif key == "checks":
                fields["checks"] = self.checks(value)
            else:
                self.unknown_key(key_node, key, TOP_KEYS)
        if isinstance(root, MappingNode) and require_docs:
            for key, why in (
                ("summary", "one line saying what this scenario does"),
                ("expect", "what a correct client is expected to do"),
            ):
                if key not in fields:
                    self.problem(root, f"missing '{key}': {why}")
        for pname, (_, key_node) in declared.items():
            if pname not in subst.used:
                self.problem(
                    key_node,
                    f"params.{pname}: declared but never used (write ${{{pname}}} where its "
                    "value goes)",
                )
        self.problems = subst.annotate(self.problems)
        if self.problems or not isinstance(root, MappingNode):
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
            params=fields.get("params", ()),
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


def _yaml_problem(exc: yaml.YAMLError, text: str, source: str) -> Problem:
    """Text that is not YAML, at the place the parser stopped: its mark, or for a character
    YAML does not allow (a ReaderError, which has no mark) that character's line:col; the
    whole file (line 0) only when the parser says no place at all."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = Location(source, mark.line + 1, mark.column + 1) if mark else Location(source, 0, 0)
        return Problem(where, f"invalid YAML: {_yaml_message(exc)}")
    if isinstance(exc, yaml.reader.ReaderError):
        # the character is an int (libyaml) or a str (PyYAML)
        found = exc.character
        code = ord(found) if isinstance(found, str) else int(found)
        return Problem(
            _place_in(text, exc.position, source),
            f"invalid YAML: unacceptable character #x{code:04x}: {exc.reason}",
        )
    return Problem(Location(source, 0, 0), f"invalid YAML: {exc}")


def _place_in(text: str, at: int, source: str) -> Location:
    """The line and column, as an editor shows them, of ``text[at]`` (``at`` counts
    characters)."""
    line_start = text.rfind("\n", 0, at) + 1
    return Location(source, text.count("\n", 0, at) + 1, at - line_start + 1)


def load_text(
    text: str,
    *,
    source: str = "<string>",
    name: str = "inline",
    require_docs: bool = True,
    params: Params | None = None,
) -> Scenario:
    """Parse and validate one scenario document; ``params`` sets its parameters by name
    (values as Python values or as text, e.g. ``{"delay": "5m"}``)."""
    with _no_collector_passes():
        return _load_text(text, source, name, require_docs, params)


@contextlib.contextmanager
def _no_collector_passes() -> Iterator[None]:
    """The cyclic garbage collector paused while a document loads: a big scenario is millions
    of nodes and values in trees (no cycles to find), and the collector's repeated passes over
    them cost more than the load itself (twice the time at 1 MB; bench/loader_speed.py)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load_text(
    text: str, source: str, name: str, require_docs: bool, params: Params | None
) -> Scenario:
    try:
        composed = compose(text)
    except TooBig as exc:
        raise ScenarioError(
            [Problem(Location(source, exc.line, exc.column), exc.message)]
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([_yaml_problem(exc, text, source)]) from None
    except UnicodeEncodeError as exc:
        # a str holding a lone surrogate (text decoded with surrogateescape, say): no text
        # YAML can read, told at that character (libyaml's parser took it for UTF-8)
        where = _place_in(text, exc.start, source)
        bad = f"U+{ord(text[exc.start]):04X}"
        raise ScenarioError([Problem(where, f"cannot read: {bad} is a lone surrogate")]) from None
    root = composed.root
    if root is None or (is_null(root) and not root.value):
        # Nothing, comments only, or a bare "---": no place in it is to blame, so no line:col
        raise ScenarioError([Problem(Location(source, 0, 0), "the file is empty")])
    walker = _Walker(source)
    scenario = walker.scenario(
        root, name, require_docs, params or {}, tagged=composed.tagged, refs=composed.refs
    )
    if walker.problems or scenario is None:
        if (
            walker.problems
            and len(walker.setting_problems) == len(walker.problems) + walker.more_problems
        ):
            # the file is fine: only values the user set are wrong
            raise ParamsError(walker.problems, walker.setting_problems)
        raise ScenarioError(walker.problems, more=walker.more_problems)
    return dataclasses.replace(scenario, document=text)


def load_file(path: str | os.PathLike[str], *, params: Params | None = None) -> Scenario:
    path = Path(path)
    try:
        with path.open("rb") as f:
            # one byte past the limit is enough to refuse it, however big the file is
            data = f.read(limits.MAX_SCENARIO_BYTES + 1)
            size = os.fstat(f.fileno()).st_size
        if len(data) > limits.MAX_SCENARIO_BYTES:
            # a device or pipe has no size of its own: say at least what was read
            message = too_big_message(max(size, len(data)))
            # the length is the whole file's: no line of it to point at
            raise ScenarioError([Problem(Location(str(path), 0, 0), message)])
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise cannot_read(str(path), exc) from None
    return load_text(text, source=str(path), name=path.stem, params=params)


def with_params(scenario: Scenario, params: Params) -> Scenario:
    """The scenario again with these parameter values (read again from its document)."""
    if not params:
        return scenario
    if not scenario.document:
        raise ScenarioError(
            [
                Problem(
                    Location(scenario.source, 0, 0),  # it has no lines to point at
                    f"scenario '{scenario.name}' was not loaded from YAML, so its parameters "
                    "cannot be set",
                )
            ]
        )
    require_docs = not scenario.source.startswith("<")
    return load_text(
        scenario.document,
        source=scenario.source,
        name=scenario.name,
        require_docs=require_docs,
        params=params,
    )


def load_mapping(
    data: dict[str, Any], *, name: str = "inline", params: Params | None = None
) -> Scenario:
    """A scenario given as a Python dict (e.g. ``smtpfake.use({...})``); summary/expect optional."""
    source = f"<{name}>"
    try:
        # Tuples are lists here (``extensions=("PIPELINING",)``); anything else YAML cannot
        # represent is the caller's mistake, reported like any other scenario problem.
        text = yaml.safe_dump(plain(data), sort_keys=False)
    except (yaml.YAMLError, ValueError) as exc:
        # line 0: the dict as a whole (it has no lines; its YAML was never made)
        raise ScenarioError([Problem(Location(source, 0, 0), f"cannot read: {exc}")]) from None
    try:
        return load_text(
            text, source=source, name=str(data.get("name", name)), require_docs=False, params=params
        )
    except ScenarioError as exc:
        raise _by_key_path(exc, source) from None


def _by_key_path(exc: ScenarioError, source: str) -> ScenarioError:
    """``exc`` with no line:col: a dict has no lines, and those of the YAML copy made of it
    point at text the caller never wrote; each message names its key path (``<inline>:
    rules[1].reply: ...``)."""
    problems = [Problem(Location(source, 0, 0), p.message) for p in exc.problems]
    if isinstance(exc, ParamsError):
        return ParamsError(problems, list(exc.settings))
    return ScenarioError(problems, more=exc.more)


def plain(value: Any, depth: int = 0) -> Any:
    """Tuples as lists, so a dict given for ``use()`` dumps as YAML the same way anywhere.

    Raises ValueError past limits.MAX_DEPTH levels (a dict that contains itself, too), before
    recursion could."""
    if depth > limits.MAX_DEPTH:
        raise ValueError(f"nested more than {limits.MAX_DEPTH} levels deep (or it contains itself)")
    if isinstance(value, dict):
        return {k: plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, depth + 1) for v in value]
    return value
