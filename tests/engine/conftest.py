"""Fixtures for the engine tests: a fresh engine per test (no state leaks between tests)."""

from __future__ import annotations

import pytest

from ..support.engine import Engine


@pytest.fixture
def engine() -> Engine:
    return Engine("default")
