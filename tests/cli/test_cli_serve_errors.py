"""``smtpfake serve`` tells "cannot listen" (the user's problem: exit 1, one line) apart from an
OSError inside smtpfake once it is serving (a bug: it propagates with its traceback)."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from smtpfake import cli
from smtpfake.server import Server

from ..support.uvloop_shim import SHIM_ERROR, break_uvloop


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var, *_ in cli.SERVE_ENV.values():
        monkeypatch.delenv(var, raising=False)


def test_a_busy_port_is_reported_as_cannot_listen(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.main(["serve", "--port", str(port)]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_an_oserror_while_serving_is_not_called_a_listen_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def serve_then_fail(
        self: Server, stop: asyncio.Event, ready: Callable[[], None] | None = None
    ) -> None:
        assert ready is not None
        ready()  # listening
        raise OSError(5, "a failure inside smtpfake")

    monkeypatch.setattr(Server, "serve", serve_then_fail)
    with pytest.raises(OSError, match="a failure inside smtpfake"):
        cli.main(["serve", "--port", "0"])
    assert "cannot listen" not in capsys.readouterr().err


@pytest.mark.parametrize("how", [["--loop", "uvloop"], []])
def test_uvloop_asked_for_and_missing_is_a_usage_error(
    how: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was a RuntimeError traceback (and a never-awaited coroutine warning) from the loop."""
    monkeypatch.setitem(sys.modules, "uvloop", None)  # not installed, whether it is or not
    if not how:
        monkeypatch.setenv("SMTPFAKE_LOOP", "uvloop")
    assert cli.main(["serve", "--port", "0", *how]) == 2
    err = capsys.readouterr().err
    error, hint = err.splitlines()  # no traceback
    assert error.startswith(
        "smtpfake serve: error: --loop/SMTPFAKE_LOOP: uvloop is not installed: "
    )
    assert hint == "For more information, try 'smtpfake serve --help'."


def test_one_port_for_smtp_and_the_api_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It was "cannot listen on 127.0.0.1:N: address already in use", exit 1, as if something
    else held the port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert cli.main(["serve", "--port", str(port), "--api-port", str(port)]) == 2
    assert capsys.readouterr().err == (
        "smtpfake serve: error: "
        f"--port/SMTPFAKE_PORT and --api-port/SMTPFAKE_API_PORT: both are {port}; "
        "SMTP and the API need a port each\n"
        "For more information, try 'smtpfake serve --help'.\n"
    )


def test_uvloop_asked_for_but_failing_to_import_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Installed but failing to import (fresh18): it was the loop's RuntimeError traceback,
    saying to install what was installed."""
    break_uvloop(monkeypatch, tmp_path)
    assert cli.main(["serve", "--port", "0", "--loop", "uvloop"]) == 2
    error, hint = capsys.readouterr().err.splitlines()  # no traceback
    assert error == (
        "smtpfake serve: error: --loop/SMTPFAKE_LOOP: uvloop is installed but fails to import "
        f"({SHIM_ERROR}): pip install --force-reinstall uvloop, "
        "or --loop auto (uvloop when installed, else asyncio's loop)"
    )
    assert hint == "For more information, try 'smtpfake serve --help'."
