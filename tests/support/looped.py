"""A server on each event loop (asyncio's, uvloop's when installed), one per test module: the
fixtures of the wire tests, which tests elsewhere re-export to run on both loops alike."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from smtpfake.server import Server

from . import SHARED_GRACE

LOOPS = ["asyncio"] + (["uvloop"] if importlib.util.find_spec("uvloop") is not None else [])


@pytest.fixture(scope="module", params=LOOPS)
def looped(request: pytest.FixtureRequest) -> Iterator[Server]:
    """One server per module and loop (tests parametrized by the loop through it)."""
    with Server("default", loop=request.param, grace_period=SHARED_GRACE) as server:
        yield server


@pytest.fixture
def fresh(looped: Server) -> Iterator[Server]:
    """The looped server back to ``default`` with an empty journal; no error left after."""
    looped.use("default")
    looped.reset()
    yield looped
    assert looped.errors == []
