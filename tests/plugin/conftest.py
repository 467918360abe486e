"""Plugin tests run pytest inside pytest (pytester): the inner run must not think it is an xdist
worker when this suite itself runs under ``pytest -n`` (a fixed port would move by the id)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
