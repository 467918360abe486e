"""The ``@pytest.mark.smtpfake(...)`` marker and the ``smtpfake`` fixture's work for each test,
loaded on the fixture's first use: markers on the module, class and function combined and checked,
each mistake told in one line at the place it was written (``test_x.py:7: ...``), and the test's
scenario, seed, parameters, delivery and handler put in force and taken back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from smtpfake.pytest_plugin import relative_path
from smtpfake.pytest_plugin_backend import (
    HANDLE,
    on_sidecar,
    problem_lines,
    report_transcripts,
)

if TYPE_CHECKING:
    from smtpfake.control import Control
    from smtpfake.pytest_plugin import Settings
    from smtpfake.scenario import ScenarioError
    from smtpfake.server import Server
    from smtpfake.settling import LoopRead


def _marker(node: pytest.Item) -> pytest.Mark | None:
    """The test's ``@pytest.mark.smtpfake(...)`` markers (module, class, function) as one, each
    checked: every keyword from the closest marker that gives it, so a function's ``seed=`` or
    ``params=`` keeps its module's scenario (the closest marker alone silently dropped it). A
    positional scenario counts as ``scenario=``; a marker that names a scenario drops the
    ``params`` of those further out (they were set for another scenario)."""
    marks = list(node.iter_markers_with_node("smtpfake"))  # the closest first
    if not marks:
        return None
    merged: dict[str, Any] = {}
    for owner, mark in reversed(marks):
        _check_marker(mark, owner)
        if _names_scenario(mark):
            merged.pop("params", None)
        merged.update(mark.kwargs, **({"scenario": mark.args[0]} if mark.args else {}))
    combined: pytest.MarkDecorator = pytest.mark.smtpfake(**merged)
    return combined.mark


def _names_scenario(mark: pytest.Mark) -> bool:
    return bool(mark.args) or "scenario" in mark.kwargs


def _written_at(item: pytest.Item, keyword: str) -> tuple[str, str, pytest.Mark | None]:
    """Where the marker that gives ``keyword`` in force (see :func:`_marker`) was written, what
    it says there, and the marker itself (None when none gives it): ``("test_x.py:7",
    "@pytest.mark.smtpfake('greylisting', params={'dealy': 5})", mark)``."""
    for owner, mark in item.iter_markers_with_node("smtpfake"):  # the closest first
        if keyword in mark.kwargs or (keyword == "scenario" and mark.args):
            return (*_written(owner, mark), mark)
        if keyword == "params" and _names_scenario(mark):
            break  # the params of markers further out were dropped with their scenario
    return _place(item), "@pytest.mark.smtpfake", None


def _written(owner: object, mark: pytest.Mark) -> tuple[str, str]:
    """``mark``'s place (``test_x.py:8``: its own line, read from the source, though other
    decorators come first; for a marker kept in a variable, the line of its assignment, in the
    module it was imported from too) and its text as written there; from pytest's node
    (``owner``: the function, class or module it is on) and the Mark's values when the source
    does not say."""
    from smtpfake.pytest_plugin_marker_source import find_marker

    if isinstance(owner, pytest.Item | pytest.Class | pytest.Module):
        path, line, _ = owner.reportinfo()
        module = isinstance(owner, pytest.Module)
        if module or line is not None:
            at = None if module or line is None else line + 1
            loaded = _module_of(owner)
            found = find_marker(
                Path(str(path)),
                at,
                len(mark.args),
                frozenset(mark.kwargs),
                holds=lambda name: _holds(loaded, name, mark),
                module=getattr(loaded, "__name__", None),
            )
            if found is not None:
                shown = relative_path(found.path or Path(str(path)), owner.config.rootpath)
                if not found.found:  # a variable the source does not show the value of
                    return f"{shown}:{found.line}", f"{found.text} ({_as_written(mark)[1:]})"
                return f"{shown}:{found.line}", found.text
    return _place(owner), _as_written(mark)


def _module_of(node: pytest.Item | pytest.Class | pytest.Module) -> object:
    """The test module pytest loaded for ``node`` (None when it is not a Python module)."""
    parent = node if isinstance(node, pytest.Module) else node.getparent(pytest.Module)
    return parent.obj if parent is not None else None


def _holds(module: object, name: str, mark: pytest.Mark) -> bool:
    """Whether ``name`` (``slow``, ``markers.slow``) in the loaded test ``module`` is a marker
    kept in a variable that is ``mark`` (the object itself, as pytest applied it)."""
    value = module
    for part in name.split("."):
        value = getattr(value, part, None)
    return _holding(value, mark, 2)


def _holding(value: object, mark: pytest.Mark, depth: int) -> bool:
    """``value`` is ``mark``'s decorator, or a list or tuple holding it (``BOTH = [slow]``,
    then ``pytestmark = BOTH``), ``depth`` lists deep."""
    if isinstance(value, pytest.MarkDecorator):
        return value.mark is mark
    if isinstance(value, list | tuple) and depth > 0:
        return any(_holding(v, mark, depth - 1) for v in value)
    return False


def _as_written(mark: pytest.Mark) -> str:
    """The marker's call rebuilt from its values (where its source cannot be read)."""
    shown = [repr(a) for a in mark.args] + [f"{k}={v!r}" for k, v in mark.kwargs.items()]
    text = f"@pytest.mark.smtpfake({', '.join(shown)})"
    return text if len(text) <= 120 else text[:116] + "...)"


def _place(node: object) -> str:
    """``file:line`` of a test function's or class's first decorator, as pytest reports it;
    ``file (pytestmark)`` for a module (``node``: the pytest node a marker is on)."""
    if not isinstance(node, pytest.Item | pytest.Class | pytest.Module):
        return str(getattr(node, "nodeid", node))  # a package's: no line to point at
    path, line, _ = node.reportinfo()
    shown = relative_path(Path(str(path)), node.config.rootpath)
    if isinstance(node, pytest.Module) or line is None:
        return f"{shown} (pytestmark)"
    return f"{shown}:{line + 1}"


def _marker_scenario(
    marker: pytest.Mark | None, scenario: Any, seed: int | None, item: pytest.Item
) -> tuple[Any, int | None]:
    """The scenario and seed ``marker`` (see :func:`_marker`) names, else the ones given."""
    if marker is None:
        return scenario, seed
    scenario = marker.kwargs.get("scenario", scenario)
    if "seed" in marker.kwargs:
        raw = marker.kwargs["seed"]
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 2**64 - 1:
            place, text, _ = _written_at(item, "seed")
            pytest.fail(
                f"{place}: {text}: the seed must be an integer from 0 to 2^64-1", pytrace=False
            )
        seed = raw
    return scenario, seed


#: seconds the fixture waits at a test's end for that test's deliveries; one still under way
#: then is given up and fails the test (DeliveryAbandoned)
DELIVERY_WAIT = 10.0

#: the marker's keywords; anything else is a typo that would silently do nothing
_MARKER_KEYWORDS = ("scenario", "seed", "params", "delivery", "handler")


def _check_marker(marker: pytest.Mark, owner: object) -> None:
    """Fail the test with one line, at the marker's place (``owner``: the function, class or
    module it is on), when ``@pytest.mark.smtpfake(...)`` is not ``(scenario, seed=INT,
    params=DICT, delivery=..., handler=...)``: a misspelt keyword or a second scenario would
    otherwise be ignored, and the test run against the wrong scenario."""
    problem = ""
    unknown = [k for k in marker.kwargs if k not in _MARKER_KEYWORDS]
    if unknown:
        from difflib import get_close_matches

        near = get_close_matches(unknown[0], _MARKER_KEYWORDS, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        problem = f"unknown keyword {unknown[0]!r}; {hint}(known: {', '.join(_MARKER_KEYWORDS)})"
    elif len(marker.args) > 1 or (marker.args and "scenario" in marker.kwargs):
        problem = "one scenario only: a name, a path or a dict, positional or as scenario="
    elif not isinstance(marker.kwargs.get("params", {}), dict):
        got = type(marker.kwargs["params"]).__name__
        problem = f"params must be a dict of parameter names to values, got {got}"
    if problem:
        place, text = _written(owner, marker)
        pytest.fail(f"{place}: {text}: {problem}", pytrace=False)


def _load_problem(
    exc: ScenarioError,
    scenario: Any,
    params: dict[str, Any] | None,
    item: pytest.Item,
    from_marker: bool,
) -> str:
    """The one line (or one per problem) a test fails with when its scenario does not load.
    Parameter values that are the sole problem are the marker's mistake: told at the marker,
    as the command line tells ``--param x=1: ...``, not at the scenario file's declaration; so
    is a scenario the marker names that does not exist (``from_marker``)."""
    from smtpfake.scenario import ParamsError

    shown = repr(scenario) if not isinstance(scenario, dict) else "{...}"
    if isinstance(exc, ParamsError) and params:
        place, text, mark = _written_at(item, "params")
        # the marker as written; the scenario it was for, unless the marker itself names it
        named_here = (
            mark is not None
            and _names_scenario(mark)
            and mark.kwargs.get("scenario", mark.args[0] if mark.args else None) == scenario
        )
        given = text if named_here else f"{text} for scenario {shown}"
        return f"{place}: {given}: {'; '.join(exc.settings)}"
    # a file keeps file:line:col; a name or a dict has no file, so only the key path
    text = "" if isinstance(scenario, dict) else str(scenario)
    is_file = isinstance(scenario, Path) or text.endswith((".yaml", ".yml")) or "/" in text
    problems = problem_lines(exc, positions=is_file)
    if from_marker:
        place, text, _ = _written_at(item, "scenario")
        return f"{place}: {text}: {problems}"
    if is_file and not problems.startswith("\n"):
        # the one problem begins with the file's name: "cannot load scenario a.yaml: cannot read"
        return f"smtpfake: cannot load scenario {problems}"
    shown = scenario if not isinstance(scenario, dict) else "(inline dict)"
    return f"smtpfake: cannot load scenario {shown}: {problems}"


_NO_CHANGE = object()


def _marker_delivery(marker: pytest.Mark | None, server: Server | None) -> object:
    """``@pytest.mark.smtpfake(delivery=...)``: this test's back end (a spec or a handler
    object) replaces the session's until the test ends. Returns the one to restore."""
    if marker is None or "delivery" not in marker.kwargs:
        return _NO_CHANGE
    wanted = marker.kwargs["delivery"]
    if server is None:
        pytest.fail(
            "@pytest.mark.smtpfake(delivery=...): in-process only; with --smtpfake-remote "
            "start the sidecar with `smtpfake serve --deliver ...`",
            pytrace=False,
        )
    from smtpfake.hooks import plain_defs

    if isinstance(wanted, str):
        from smtpfake.delivery import named

        try:
            wanted = named(wanted)
        except ValueError as exc:
            pytest.fail(f"@pytest.mark.smtpfake(delivery=...): {exc}", pytrace=False)
    elif wanted is not None and not callable(getattr(wanted, "handle_DATA", None)):
        pytest.fail(
            f"@pytest.mark.smtpfake(delivery={wanted!r}): expected maildir:PATH, "
            "proxy:HOST:PORT, None or an object with aiosmtpd's async handle_DATA",
            pytrace=False,
        )
    elif wanted is not None and plain_defs(wanted, ("DATA",)):
        pytest.fail(
            f"@pytest.mark.smtpfake(delivery={wanted!r}): handle_DATA must be `async def`, as "
            "aiosmtpd's handlers are (the server awaits it)",
            pytrace=False,
        )
    kept = server.delivery
    server.delivery = wanted
    return kept


def _marker_handler(marker: pytest.Mark | None, server: Server | None) -> object:
    """``@pytest.mark.smtpfake(handler=obj)``: an object with aiosmtpd's reply-deciding hooks
    (smtpfake/hooks.py) for this test's connections. Returns the hooks to restore."""
    if marker is None or "handler" not in marker.kwargs:
        return _NO_CHANGE
    if server is None:
        pytest.fail("@pytest.mark.smtpfake(handler=...): in-process only", pytrace=False)
    from smtpfake.hooks import Hooks, hook_names, plain_defs

    wanted = marker.kwargs["handler"]
    if wanted is not None and not hook_names(wanted):
        pytest.fail(
            f"@pytest.mark.smtpfake(handler={wanted!r}): it has none of aiosmtpd's hooks "
            "(handle_HELO, handle_EHLO, handle_MAIL, handle_RCPT, handle_DATA, ...)",
            pytrace=False,
        )
    plain = plain_defs(wanted, hook_names(wanted)) if wanted is not None else []
    if plain:  # else each command fails with "object str can't be used in 'await' expression"
        pytest.fail(
            f"@pytest.mark.smtpfake(handler={wanted!r}): {', '.join(plain)} must be "
            "`async def`, as aiosmtpd's hooks are (the server awaits them)",
            pytrace=False,
        )
    kept = server.hooks
    server.hooks = Hooks(wanted, server) if wanted is not None else None
    return kept


def for_the_test(
    request: pytest.FixtureRequest, backend: Control, settings: Settings
) -> Iterator[Control]:
    """The ``smtpfake`` fixture: ``backend`` reset and playing this test's scenario (indirect
    parametrization, else the marker's, else ``settings``'), with the marker's delivery and
    handler until the test ends; yields it. Afterwards reset again and back on ``settings``'
    scenario."""
    from smtpfake.control import SETTLE_TIMEOUT, ControlHelpers
    from smtpfake.scenario import ScenarioError
    from smtpfake.settling import warn_missed

    marker = _marker(request.node)
    scenario, seed = _marker_scenario(marker, settings.scenario, settings.seed, request.node)
    params = marker.kwargs.get("params") if marker is not None else None
    indirect = hasattr(request, "param")
    if indirect:
        scenario = request.param
    server: Server | None = getattr(backend, "server", None)
    if server is not None:
        from smtpfake.pytest_plugin_errors import BEFORE_TEST, take_errors

        # mail sent outside any test (a module fixture's): told, never dropped by the reset
        told = take_errors(server)
        if told:
            pytest.fail(f"{BEFORE_TEST}\n{told}", pytrace=False)
    # a sidecar gone: one line, at once; restarted since: used again
    on_sidecar(request.config, settings, backend.reset, rejoin=backend)
    backend.settle_timeout = SETTLE_TIMEOUT  # a test's own setting ends with the test
    problem = ""

    def use() -> None:
        nonlocal problem
        try:
            # params: the scenario's ${name} values (in-process, or sent to the sidecar)
            backend.use(scenario, seed=seed, params=params or None)
        except ScenarioError as exc:
            from_marker = marker is not None and "scenario" in marker.kwargs and not indirect
            problem = _load_problem(exc, scenario, params, request.node, from_marker)

    # guarded as the reset is: a sidecar gone between the two is one line too (fresh15 F6:
    # a 280-line chained traceback)
    on_sidecar(request.config, settings, use, rejoin=backend)
    if problem:
        pytest.fail(problem, pytrace=False)  # outside the except: no chained exception shown
    kept = _marker_delivery(marker, server)
    kept_hooks = _marker_handler(marker, server)
    request.node.stash[HANDLE] = backend
    report_transcripts(request.config)
    yield backend
    # this test's messages reach its back end (and a handler's failure fails this test); one
    # the back end never finishes is given up and fails this test too
    if server is not None and server.delivery is not None:  # noqa: SIM102 (the wait first)
        if not server.wait_for_deliveries(DELIVERY_WAIT):
            server.give_up_deliveries(
                f"after the fixture's {DELIVERY_WAIT:g} s wait at the end of the test"
            )
    errors = list(getattr(server, "errors", ()))
    if server is not None and kept is not _NO_CHANGE:
        server.delivery = kept  # type: ignore[assignment]
    if server is not None and kept_hooks is not _NO_CHANGE:
        server.hooks = kept_hooks  # type: ignore[assignment]
    # reads in the test's loop that missed a close: known first, told once the server is reset
    missed: list[tuple[LoopRead, int]] = []

    # drop this test's connections now, not at the next test; then the run's scenario again, so
    # nothing this test chose (marker, parametrization, use()) plays on for a later test that
    # reaches the server through smtpfake_session
    def back_to_the_run() -> None:
        missed.extend(backend.missed_reads() if isinstance(backend, ControlHelpers) else [])
        missed.extend(server.missed_reads() if server is not None else [])
        backend.reset()
        backend.use(settings.scenario, seed=settings.seed)

    on_sidecar(request.config, settings, back_to_the_run, quiet_if_told=True)
    warn_missed(missed)
    if errors:
        # A bug inside smtpfake while serving this test: it fails here, never lost in a thread.
        pytest.fail("\n".join(str(e) for e in errors), pytrace=False)
