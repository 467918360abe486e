"""A server of one's own on a shared sidecar, so parallel pytest processes never reset each other.

The contract with the sidecar (``POST /api/servers``, Toxiproxy's "create a proxy" idea):

- ``POST {base}/api/servers`` with ``{"scenario": NAME, "seed": INT|null}`` answers 201 (or 200)
  with ``{"id": ID, "smtp_port": PORT, "url": URL}``; ``url`` (optional) is the new server's API
  base, by default ``{base}/api/servers/{id}``; ``smtp_host`` (optional) where it listens.
- Under that base the server answers the usual API with the ``/api`` prefix dropped:
  ``{url}/health``, ``{url}/scenario``, ``{url}/messages``, ``{url}/sessions``, ``{url}/reset``,
  ``{url}/wait``, ``{url}/tls/ca``.
- ``DELETE {url}`` removes it; the plugin does so when its test session ends.

A sidecar without the endpoint (404 or 405) is shared as before: a pytest-xdist worker then gets
a warning that workers may reset each other.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smtpfake.remote import RemoteError, RemoteSmtpFake
from smtpfake.serialize import problems_from_json

if TYPE_CHECKING:
    from smtpfake.journal import SessionRecord
    from smtpfake.pytest_plugin import Settings
    from smtpfake.scenario import ScenarioRef


def local_scenario(ref: ScenarioRef, dirs: Sequence[Path]) -> ScenarioRef:
    """``ref``, or the file the local scenario directories (``--smtpfake-scenario-dir``) hold
    under that name: in-process those directories add to the library (and override a built-in
    of the same name), so with a sidecar such a name is uploaded from here, and the same suite
    runs both ways. A path, a dict or a name they do not hold is left to the sidecar."""
    if not dirs or not isinstance(ref, str) or "/" in ref or ref.endswith((".yaml", ".yml")):
        return ref
    from smtpfake.scenario.library import builtin_dir, scenario_files

    found = scenario_files(dirs).get(ref)
    return found if found is not None and found.parent != builtin_dir() else ref


class OwnServer(RemoteSmtpFake):
    """A :class:`RemoteSmtpFake` for one server made on demand: every ``/api/X`` call goes to
    ``{url}/X``, the server's own API base. Its ``sessions`` settle first, as in-process, and
    a scenario name its ``scenario_dirs`` hold is uploaded from there (:func:`local_scenario`)."""

    scenario_dirs: tuple[Path, ...] = ()

    def use(
        self,
        scenario: ScenarioRef,
        *,
        seed: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        __tracebackhide__ = True
        super().use(local_scenario(scenario, self.scenario_dirs), seed=seed, params=params)

    def _journal_sessions(self) -> tuple[SessionRecord, ...]:
        return super().sessions

    @property
    def sessions(self) -> tuple[SessionRecord, ...]:
        return tuple(self._settled_sessions())


def create(shared: RemoteSmtpFake, scenario: str, seed: int | None) -> OwnServer | None:
    """A new server on the sidecar behind ``shared``; None when it cannot make servers."""
    try:
        own = shared.new_server(scenario, seed=seed, client=OwnServer)
    except RemoteError as exc:
        if "problems" in exc.body:  # about the scenario, not a missing endpoint
            raise problems_from_json(exc.body) from None
        if exc.status in (404, 405):
            return None
        raise
    assert isinstance(own, OwnServer)
    return own


def first_scenario(settings: Settings) -> str:
    """What a server of one's own is made playing: a path cannot travel in JSON (nor a local
    scenario's name), and each test's use() uploads the scenario it plays anyway."""
    local = local_scenario(settings.scenario, settings.scenario_dirs) != settings.scenario
    return settings.scenario if "/" not in settings.scenario and not local else "default"


@contextmanager
def own_server(
    settings: Settings, gone: Callable[[], bool] = lambda: False
) -> Iterator[RemoteSmtpFake]:
    """A server of this process's own on ``settings.remote`` for the ``with`` block (deleted at
    its end unless ``gone()``: the sidecar could not be reached, the server went with it), or
    the shared one when the sidecar cannot make servers."""
    shared = RemoteSmtpFake(settings.remote, settings.remote_token)
    own = create(shared, first_scenario(settings), settings.seed)
    if own is None:
        if os.environ.get("PYTEST_XDIST_WORKER"):
            warnings.warn(
                f"smtpfake: the sidecar at {settings.remote} cannot make a server per worker "
                "(no POST /api/servers): xdist workers share one server and reset each other",
                stacklevel=1,
            )
        yield shared
        return
    own.scenario_dirs = settings.scenario_dirs
    try:
        yield own
    finally:
        if not gone():
            own.request("DELETE", "", ok=(200, 204, 404))
