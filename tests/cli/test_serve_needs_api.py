"""``smtpfake serve`` options that act only through the control API, given without
``--api-port``: a usage error naming the option as given (the flag, else its environment
variable) and --api-port, not a plain server on which they silently do nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMAND = str(Path(sys.executable).with_name("smtpfake"))  # the installed console script

#: (the option as given: flags, environment), what the error names first
WITHOUT_API = [
    (["--server-ports", "2700-2710"], {}, "--server-ports"),
    (["--clock", "manual"], {}, "--clock"),
    (["--api-token", "s3cret"], {}, "--api-token"),
    (["--api-host", "127.0.0.1"], {}, "--api-host"),
    ([], {"SMTPFAKE_SERVER_PORTS": "2700-2710"}, "SMTPFAKE_SERVER_PORTS"),
    ([], {"SMTPFAKE_CLOCK": "manual"}, "SMTPFAKE_CLOCK"),
    ([], {"SMTPFAKE_API_HOST": "127.0.0.1"}, "SMTPFAKE_API_HOST"),
]


def serve(argv: list[str], settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``smtpfake serve --port 0 ARGV`` with no SMTPFAKE_* settings around but ``settings``;
    a server that starts instead of refusing is stopped by the timeout (a failure)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPFAKE_")}
    return subprocess.run(
        [COMMAND, "serve", "--host", "127.0.0.1", "--port", "0", *argv],
        capture_output=True,
        text=True,
        timeout=20,
        env={**env, **settings},
    )


@pytest.mark.parametrize(
    ("argv", "settings", "named"),
    WITHOUT_API,
    ids=[" ".join(a) or next(iter(s)) for a, s, _ in WITHOUT_API],
)
def test_an_api_only_option_without_the_api_is_a_usage_error(
    argv: list[str], settings: dict[str, str], named: str
) -> None:
    result = serve(argv, settings)
    assert (result.returncode, result.stdout) == (2, "")
    error, hint = result.stderr.splitlines()
    assert error.startswith(f"smtpfake serve: error: {named}: needs --api-port/SMTPFAKE_API_PORT (")
    assert hint == "For more information, try 'smtpfake serve --help'."


def test_the_token_variable_alone_is_for_the_clients_and_a_system_clock_needs_no_api() -> None:
    """SMTPFAKE_API_TOKEN is also what ``smtpfake show --remote`` reads: set for the clients, it
    is no mistake of serve's; ``--clock system`` is the default. Both start (stopped here by a
    bad scenario name, told after the options are checked)."""
    result = serve(["--clock", "system", "--scenario", "defualt"], {"SMTPFAKE_API_TOKEN": "t"})
    assert result.returncode == 2
    assert "--scenario/SMTPFAKE_SCENARIO: no scenario named 'defualt'" in result.stderr
