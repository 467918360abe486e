"""The in-process ``Server`` (the ``smtpfake_server`` fixture) checks its helpers' arguments with
the fixture's words (smtpfake/arguments.py): ``settle(-1)``, ``settle(nan)``, ``settle("1")`` and
``settle_timeout = -1`` were accepted (a negative wait returned at once, NaN never), and
``use(seed=-1)`` was a LimitError in older words ("use(seed=) must be >= 0, got -1"). Each is
compared with what the fixture's class (``SmtpFake``, the in-process fixture) says for the same
line."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from smtpfake.control import SmtpFake
from smtpfake.server import Server

NAN = float("nan")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server("default") as running:
        yield running


def _set_timeout(to: Any) -> Callable[[Any], object]:
    def set_it(target: Any) -> None:
        target.settle_timeout = to

    return set_it


#: (the line, what both say): the same call made on the Server and on the fixture's class
MISTAKES: list[tuple[str, Callable[[Any], object], type[Exception], str]] = [
    (
        "settle(-1)",
        lambda t: t.settle(-1),
        ValueError,
        "settle(timeout=-1): expected None or seconds from 0 to 86400, got -1",
    ),
    (
        "settle(nan)",
        lambda t: t.settle(NAN),
        ValueError,
        "settle(timeout=nan): expected None or seconds from 0 to 86400, got nan",
    ),
    (
        'settle("1")',
        lambda t: t.settle("1"),
        TypeError,
        "settle(timeout='1'): expected None or seconds from 0 to 86400, not a str",
    ),
    (
        "asettle(-1)",
        lambda t: asyncio.run(t.asettle(-1)),
        ValueError,
        "asettle(timeout=-1): expected None or seconds from 0 to 86400, got -1",
    ),
    (
        "settle_timeout = -1",
        _set_timeout(-1),
        ValueError,
        "settle_timeout = -1: expected seconds from 0 to 86400, got -1",
    ),
    (
        "settle_timeout = None",
        _set_timeout(None),
        TypeError,
        "settle_timeout = None: expected seconds from 0 to 86400, not a NoneType",
    ),
    (
        'use(seed="x")',
        lambda t: t.use("default", seed="x"),
        TypeError,
        "use(seed='x'): expected None or a whole number from 0 to 2^64-1, not a str",
    ),
    (
        "use(seed=-1)",
        lambda t: t.use("default", seed=-1),
        ValueError,
        "use(seed=-1): expected None or a whole number from 0 to 2^64-1, got -1",
    ),
    (
        "use(seed=2**64)",
        lambda t: t.use("default", seed=2**64),
        ValueError,
        f"use(seed={2**64}): expected None or a whole number from 0 to 2^64-1, got {2**64}",
    ),
    (
        "use(params=[...])",
        lambda t: t.use("default", params=["delay"]),
        TypeError,
        "use(params=['delay']): expected None or a dict of parameter name to value, not a list",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "wanted"),
    [(call, error, wanted) for _, call, error, wanted in MISTAKES],
    ids=[line for line, *_ in MISTAKES],
)
def test_the_server_says_what_the_fixture_says(
    server: Server, call: Callable[[Any], object], error: type[Exception], wanted: str
) -> None:
    with pytest.raises(error) as by_the_fixture:
        call(SmtpFake(server))
    with pytest.raises(error) as by_the_server:
        call(server)
    assert type(by_the_server.value) is type(by_the_fixture.value)  # not a LimitError
    assert str(by_the_server.value) == str(by_the_fixture.value) == wanted
    assert server.settle_timeout == 2.0  # nothing was taken
    assert server.effective_seed == 0


def test_wait_for_deliveries_checks_its_timeout(server: Server) -> None:
    with pytest.raises(ValueError, match=r"^wait_for_deliveries\(timeout=-1\): expected seconds"):
        server.wait_for_deliveries(-1)
    with pytest.raises(TypeError, match=r"^await_for_deliveries\(timeout='1'\): expected"):
        asyncio.run(server.await_for_deliveries("1"))  # type: ignore[arg-type]
