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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from smtpfake.remote import RemoteError, RemoteSmtpFake
from smtpfake.serialize import problems_from_json

if TYPE_CHECKING:
    from smtpfake.journal import SessionRecord
    from smtpfake.pytest_plugin import Settings


class OwnServer(RemoteSmtpFake):
    """A :class:`RemoteSmtpFake` for one server made on demand: every ``/api/X`` call goes to
    ``{url}/X``, the server's own API base. Its ``sessions`` settle first, as in-process."""

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
        if "problems" in exc.body:  # a 404 for the scenario, not for the endpoint
            raise problems_from_json(exc.body) from None
        if exc.status in (404, 405):
            return None
        raise
    assert isinstance(own, OwnServer)
    return own


@contextmanager
def own_server(settings: Settings) -> Iterator[RemoteSmtpFake]:
    """A server of this process's own on ``settings.remote`` for the ``with`` block (deleted at
    its end), or the shared one when the sidecar cannot make servers."""
    shared = RemoteSmtpFake(settings.remote, settings.remote_token)
    # a path cannot travel in JSON; each test's use() uploads the scenario it plays anyway
    name = settings.scenario if "/" not in settings.scenario else "default"
    own = create(shared, name, settings.seed)
    if own is None:
        if os.environ.get("PYTEST_XDIST_WORKER"):
            warnings.warn(
                f"smtpfake: the sidecar at {settings.remote} cannot make a server per worker "
                "(no POST /api/servers): xdist workers share one server and reset each other",
                stacklevel=1,
            )
        yield shared
        return
    try:
        yield own
    finally:
        own.request("DELETE", "", ok=(200, 204, 404))
