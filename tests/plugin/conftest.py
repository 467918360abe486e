"""Plugin tests run pytest inside pytest (pytester): the inner run must not think it is an xdist
worker when this suite itself runs under ``pytest -n`` (a fixed port would move by the id)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
import yaml  # noqa: F401

import smtpfake.engine
import smtpfake.scenario

# pytester's in-process runs forget the modules first imported inside them, so the next run
# imports them again while objects of the first copies live on: PyYAML's C extension (which
# cannot be imported again) returned event classes the new `yaml` did not know, and
# scenario/compose.py failed with "IndexError: pop from empty list"; a fault class kept by the
# library's cache was "not the same object" to pickle. Whenever no earlier test of this process
# had imported them, these tests failed (by the order xdist gave them). Loaded here, the
# scenario and engine layers (no I/O, quick to import) and yaml outlive every inner run.
for _package in (smtpfake.scenario, smtpfake.engine):
    for _module in pkgutil.walk_packages(_package.__path__, f"{_package.__name__}."):
        importlib.import_module(_module.name)


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
