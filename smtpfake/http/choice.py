"""A request that chooses a scenario, checked field by field, each problem named by its key path.

PUT /api/scenario (``{"name", "seed", "params"}``, or a YAML body with ``?seed=`` and
``?param.NAME=``) and POST /api/servers (``{"scenario", "seed", "params"}``), at the top and under
``/api/servers/{id}``, answer a bad request with every problem at once, each as the request's own
key path and why::

    400 {"error": "scenario: no scenario named 'nope' (known: ...)",
         "problems": ["scenario: no scenario named 'nope' (known: ...)"],
         "details": [{"field": "scenario", "message": "no scenario named 'nope' (known: ...)"}]}

``params.delay: expected a duration (...), got str 'soon'`` names the value the caller sent, not
the declaration in the sidecar's installed scenario file; a scenario file's own problems (an
upload's, or a broken file of a scenario directory) keep their ``file:line:col``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from smtpfake.http.inputs import JSON, ApiError, shown, whole
from smtpfake.scenario import ParamsError, ScenarioError, limits, resolve, scenario_files
from smtpfake.scenario.params import text_of

#: how an upload says it is YAML
YAML_TYPE = "Content-Type: application/yaml"


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with a field of a request: its key path (``params.delay``, ``seed``,
    ``param.delay`` for a query parameter) and why, as ``field: message``."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def invalid(problems: Sequence[FieldProblem], **extra: Any) -> ApiError:
    """The 400 for ``problems`` (at least one): ``error`` is the problem itself when there is
    one, ``problems`` each as text, ``details`` as ``{"field", "message"}``."""
    lines = [str(p) for p in problems]
    error = lines[0] if len(lines) == 1 else f"{len(lines)} problems: {'; '.join(lines)}"
    details = [{"field": p.field, "message": p.message} for p in problems]
    return ApiError(400, error, problems=lines, details=details, **extra)


@dataclass(frozen=True)
class Choice:
    """What a request chose: a scenario of the sidecar's library by name, a seed (None: the
    scenario's own), its parameters by name (None: their defaults)."""

    name: str
    seed: int | None
    params: dict[str, Any] | None


def choose(data: JSON, name_field: str, dirs: Sequence[Any], default: str | None = None) -> Choice:
    """The scenario ``data[name_field]`` names (``default`` when absent), ``data["seed"]`` and
    ``data["params"]``, each checked; ApiError(400) listing every field's problem."""
    problems: list[FieldProblem] = []
    name = _name(data.get(name_field, default), name_field, dirs, problems)
    chosen = check_seed(data.get("seed"), "seed", problems)
    given = data.get("params")
    if given is not None and not isinstance(given, dict):
        wanted = f"must be an object of NAME: VALUE, got {shown(given, 80)}"
        problems.append(FieldProblem("params", wanted))
        given = None
    if problems:
        raise invalid(problems)
    return Choice(name, chosen, given)


def check_seed(value: Any, field: str, problems: list[FieldProblem]) -> int | None:
    """A scenario seed (JSON, or a query's text): null, or a whole number from 0 to
    ``limits.MAX_SEED`` (2^64-1), the range a scenario's ``seed:`` and ``serve --seed`` take;
    else None, with its problem added to ``problems``."""
    if value is None:
        return None
    try:
        return whole(value, field, low=0, high=limits.MAX_SEED)
    except ApiError:
        problems.append(
            FieldProblem(
                field, f"must be a whole number from 0 to {limits.MAX_SEED}, got {shown(value)}"
            )
        )
        return None


def _name(value: Any, field: str, dirs: Sequence[Any], problems: list[FieldProblem]) -> str:
    """A scenario name of the library. A path is refused (never read a path a caller names on
    the sidecar's disk: upload the YAML instead); an unknown name says did-you-mean."""
    if not isinstance(value, str) or not value:
        got = "nothing" if value is None else shown(value)
        example = f'{{"{field}": "default"}}'
        # a scenario of the caller's own travels as YAML: one loader, file:line:col problems
        own = "; upload a scenario of your own as YAML (PUT /api/scenario, " + YAML_TYPE + ")"
        problems.append(
            FieldProblem(
                field,
                f"must be a scenario name, e.g. {example}, got {got}"
                + (own if isinstance(value, dict) else ""),
            )
        )
        return ""
    if "/" in value or "\\" in value or value.endswith((".yaml", ".yml")):
        problems.append(
            FieldProblem(
                field,
                f"'{value[:80]}' is a path, not a name; upload the file as the body of PUT "
                "/api/scenario with " + YAML_TYPE,
            )
        )
        return ""
    if value not in scenario_files(dirs):
        try:
            resolve(value, dirs)
        except ScenarioError as exc:  # the library's "no scenario named ...; did you mean"
            problems.append(FieldProblem(field, exc.problems[0].message))
            return ""
    return value


def params_invalid(exc: ParamsError, given: Mapping[str, Any], prefix: str) -> ApiError:
    """The 400 for parameter values the scenario does not take, each named by where the request
    gave it (``prefix`` + NAME: ``params.delay``, or ``param.delay`` for a query parameter)
    rather than at the scenario file's ``params:`` declaration. ``settings`` keeps each as
    ``NAME=VALUE: why`` (what the Python client rebuilds a ParamsError from)."""
    problems = []
    for setting in exc.settings:  # NAME=VALUE: why, VALUE as text_of() writes it
        name = setting.partition("=")[0]
        head = f"{name}={text_of(given[name])}: " if name in given else ""
        if head and setting.startswith(head):
            problems.append(FieldProblem(prefix + name, setting[len(head) :]))
        else:  # not a setting of this request's: said whole
            problems.append(FieldProblem(prefix.rstrip("."), setting))
    return invalid(problems, settings=list(exc.settings))
