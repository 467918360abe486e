"""The harness of smtp_machine.py at a small budget (seconds): the state machine over SMTP
command sequences and the garbage-stream check, against one real server on loopback.
``bench/hardening.py`` runs the same code long."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from smtpfake.server import Server

from .smtp_machine import GARBAGE, SCENARIO, SmtpMachine, garbage_stream

BUDGET = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    derandomize=True,  # the same sequences on every run: a failure here is never a fluke
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server(SCENARIO) as server:
        yield server


def test_command_sequences_keep_every_invariant(server: Server) -> None:
    SmtpMachine.server = server
    SmtpMachine.TestCase.settings = BUDGET
    SmtpMachine.TestCase().runTest()


@BUDGET
@given(data=GARBAGE)
def test_garbage_streams_get_well_formed_replies(server: Server, data: bytes) -> None:
    server.reset()
    garbage_stream(server, data)
