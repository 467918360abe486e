"""What a request may carry: JSON bodies, query parameters and uploaded scenario files, checked.

Every number is finite and in range, or a 400 that names the field (``'timeout' must be ...``);
a body nested past ``limits.MAX_JSON_DEPTH`` or not UTF-8 JSON is a 400, never a RecursionError or
a 500. The checks are the limits module's (smtpfake/scenario/limits.py), as for every face.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from smtpfake.scenario import Location, Problem, ScenarioError, limits
from smtpfake.scenario.compose import TooBig, compose
from smtpfake.scenario.nodes import MappingNode, Node, ScalarNode, SequenceNode
from smtpfake.scenario.yamlwalk import did_you_mean

JSON = dict[str, Any]
T = TypeVar("T")


class ApiError(Exception):
    """An answer other than 2xx: ``status`` and a JSON body ``{"error": message, **extra}``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: JSON = {"error": message, **extra}
        self.headers: dict[str, str] = {}


#: the names JSON gives its types, for "expected ..., got ..." (a client may not know Python's)
JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def shown(value: Any, width: int = 40) -> str:
    """``value`` as an error message shows it: text quoted, anything else as JSON writes it
    (``true``, ``null``, ``[1]``), at most ``width`` characters of it."""
    if isinstance(value, str):
        return repr(value[:width])
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # not from a JSON body (a float('nan'), say)
        text = repr(value)
    return text if len(text) <= width else text[:width] + "..."


def parse_json(body: bytes) -> JSON:
    """The body as a JSON object (an empty body is ``{}``); ApiError(400) when it is not one,
    or breaks a limit of :func:`smtpfake.scenario.limits.loads_json` (nesting, NaN, Infinity,
    numbers too long: the bad one named by its path)."""
    if not body.strip():
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the body is not UTF-8: {exc}") from None
    try:
        data = limits.loads_json(text)
    except limits.LimitError as exc:
        raise ApiError(400, f"the body: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        got = JSON_TYPES.get(type(data), "a number" if data is not None else "null")
        raise ApiError(400, f"expected a JSON object, got {got}")
    return data


def only(data: Mapping[str, Any], allowed: Iterable[str], what: str = "field") -> None:
    """Refuse names outside ``allowed``: an unknown filter or field is never silently ignored."""
    known = set(allowed)
    unknown = sorted(set(data) - known)
    if unknown:
        takes = f"known: {', '.join(sorted(known))}" if known else f"this call takes no {what}s"
        hint = did_you_mean(unknown[0], sorted(known)) if len(unknown) == 1 else ""
        raise ApiError(400, f"unknown {what}(s): {', '.join(unknown)}{hint} ({takes})")


def whole(value: Any, name: str, *, low: int = 0, high: int = 10**9) -> int:
    """A whole number in [low, high], from JSON or a query string (checked by the limits
    module, as every face's numbers are); ApiError(400) naming ``name`` otherwise."""
    try:
        if isinstance(value, str):
            digits = value.strip().lstrip("-")
            # ASCII digits only: no "+1", "1_000", "1e3" or digits of other scripts
            if not (digits.isascii() and digits.isdigit()):
                raise limits.LimitError(name)
            number = limits.number_from_text(value, name, minimum=low, maximum=high, integer=True)
        else:
            number = limits.check_number(value, name, minimum=low, maximum=high, integer=True)
    except limits.LimitError:
        raise ApiError(
            400, f"'{name}' must be a whole number from {low} to {high}, got {shown(value)}"
        ) from None
    return int(number)


#: what a duration field takes: what scenarios, ``--param`` and parameters of type duration take
DURATION_ACCEPTED = f"seconds as a number, or text with a unit: {limits.DURATION_EXAMPLES}"


def _seconds(amount: float) -> str:
    """``300``, ``315,360,000`` (not ``3.1536e+08``), ``0.5``."""
    return f"{amount:,.0f}" if amount == int(amount) else f"{amount:g}"


def duration(value: Any, name: str, *, high: float) -> float:
    """Seconds in [0, high]: a JSON number, or text as scenarios write a duration (``"30"``,
    ``"250ms"``, ``"5m"``; limits.duration_seconds); ApiError(400) naming ``name`` otherwise."""
    amount = limits.duration_seconds(value) if isinstance(value, str) else value
    try:  # None (text that is no duration), a boolean, a list...: not a number either
        checked = limits.check_number(amount, name, minimum=0, maximum=high)
    except limits.LimitError:
        raise ApiError(
            400,
            f"'{name}' must be a duration from 0 to {_seconds(high)} seconds "
            f"({DURATION_ACCEPTED}), got {shown(value)}",
        ) from None
    return float(checked)


#: the paging parameters of the lists (sessions, messages)
PAGING = ("limit", "offset", "order")
#: the most one page may hold (the journal keeps at most 10,000 of each by default)
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class Window:
    """A page of a list: ``order`` (``oldest`` or ``newest`` first), then ``offset`` items
    skipped (counted in that order) and at most ``limit`` shown."""

    order: str
    offset: int
    limit: int

    def ordered(self, items: Sequence[T]) -> Iterable[T]:
        """``items`` (oldest first) in this window's order, not copied."""
        return items if self.order == "oldest" else reversed(items)

    def holds(self, position: int) -> bool:
        """Whether the item at ``position`` (0-based, in this order) is on the page."""
        return self.offset <= position < self.offset + self.limit

    def json(self) -> JSON:
        return {"offset": self.offset, "limit": self.limit}


def window(query: Mapping[str, str]) -> Window:
    """The page asked for by ``?order=oldest|newest&offset=N&limit=N``; 400 for a bad one."""
    order = query.get("order", "oldest")
    if order not in ("oldest", "newest"):
        raise ApiError(400, f"'order' must be oldest or newest, got {order[:20]!r}")
    offset = whole(query.get("offset", "0"), "offset", high=MAX_LIMIT * 100)
    limit = whole(query.get("limit", str(MAX_LIMIT)), "limit", high=MAX_LIMIT)
    return Window(order, offset, limit)


def seed(value: Any, name: str = "seed") -> int | None:
    """A scenario seed: null, or a whole number from 0 to ``limits.MAX_SEED`` (2^64-1), the
    range a scenario's ``seed:`` and ``serve --seed`` take."""
    if value is None:
        return None
    return whole(value, name, low=0, high=limits.MAX_SEED)


# -- files named by uploaded scenarios -------------------------------------------------------------


def _within(path: Path, folders: Sequence[Path]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)


def check_uploaded_files(text: str, source: str, scenario_dirs: Sequence[str | Path]) -> None:
    """An uploaded scenario may name TLS files (``tls: {certificate, key}``) only inside the
    sidecar's scenario directories, so an upload cannot probe which files exist on the sidecar.

    Checked on the YAML before it is loaded (loading checks that the files exist, which is the
    probe); resolved as the loader will: relative to ``source``'s folder when that is a file,
    else to the current directory. Raises ScenarioError (file:line:col) naming each such key."""
    try:
        # the loader's own bounded, non-recursive composer (depth, size and alias growth
        # capped): PyYAML's recursive one ended a deeply nested upload in a RecursionError
        root = compose(text).root
    except (yaml.YAMLError, TooBig):
        return  # not YAML or over a limit: the loader reports it, with its place
    folders = [Path(d).resolve() for d in scenario_dirs]
    origin = Path(source)
    base = origin.parent if origin.is_file() else Path.cwd()
    problems: list[Problem] = []
    seen: set[int] = set()
    todo: list[Node] = [root] if root is not None else []
    while todo:
        node = todo.pop()
        if id(node) in seen:  # an alias is one node however often it is used
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if key.value == "tls" and isinstance(value, MappingNode):
                    problems += _tls_files(value, base, folders, source)
                todo.append(value)
        elif isinstance(node, SequenceNode):
            todo += node.value
    if problems:
        raise ScenarioError(problems)


def _tls_files(tls: MappingNode, base: Path, folders: Sequence[Path], source: str) -> list[Problem]:
    found = []
    for key, value in tls.value:
        if key.value not in ("certificate", "key") or not isinstance(value, ScalarNode):
            continue
        path = Path(str(value.value)).expanduser()
        full = (path if path.is_absolute() else base / path).resolve()
        if not folders or not _within(full, folders):
            where = Location(source, value.line + 1, value.column + 1)
            dirs = ", ".join(str(f) for f in folders) or "none configured"
            found.append(
                Problem(
                    where,
                    f"tls.{key.value}: an uploaded scenario may only name files inside the "
                    f"sidecar's scenario directories ({dirs}); put the PEM files there, or "
                    "drop certificate:/key: to have one generated",
                )
            )
    return found
