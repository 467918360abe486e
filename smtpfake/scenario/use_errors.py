"""``use_errors``: how a failing ``use(scenario, params=...)`` is told, the same by every way in
(``Server.use``, the fixture's ``smtpfake.use``, the sidecar's remote client)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smtpfake.scenario.errors import ParamsError, ScenarioError


class _UseErrors:
    """See ``use_errors``; a class, so that a failing ``use()`` shows no frames of its own
    (``__tracebackhide__``) where a generator would add contextlib's."""

    def __init__(self, scenario: object, params: Mapping[str, Any] | None) -> None:
        self.scenario = scenario
        self.params = params

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        __tracebackhide__ = True
        if isinstance(exc, ParamsError) and self.params:
            # the mistake is in this call's argument, not in the (maybe installed) file
            told = ParamsError(exc.problems, list(exc.settings))
            told.args = (f"{self.call()}: {'; '.join(exc.settings)}",)
            raise told from None
        if isinstance(exc, ScenarioError) and isinstance(self.scenario, dict):
            error = ScenarioError(exc.problems)
            error.args = ("\n".join(p.message for p in exc.problems),)
            raise error from None
        if isinstance(exc, ScenarioError):
            # its message says what and where; the loader's frames would bury it (as the
            # ParamsError above, it is raised afresh here, so a test's failure shows its call)
            raise exc.with_traceback(None) from None

    def call(self) -> str:
        """The call as the user wrote it: ``use('greylisting', params={'dealy': 5})``."""
        shown = "{...}" if isinstance(self.scenario, dict) else repr(self.scenario)
        return f"use({shown}, params={dict(self.params or {})!r})"


def use_errors(scenario: object, params: Mapping[str, Any] | None) -> _UseErrors:
    """Around ``use(scenario, params=params)``: a ParamsError (a value ``params`` sets that the
    scenario does not take) names the call and its argument, ``use('greylisting',
    params={'dealy': 5}): dealy=5: this scenario has no parameter named 'dealy'; ...``, rather
    than the scenario file's declaration; a dict's ScenarioError names key paths
    (``rules[1].reply``) without line:col, which would point into an internal YAML copy the
    user never wrote; any other ScenarioError is raised from here, without the loader's frames
    (``a.yaml: cannot read: No such file or directory`` is the whole story). Wrapping twice
    (``Control.use`` around ``Server.use``) tells it once."""
    return _UseErrors(scenario, params)
