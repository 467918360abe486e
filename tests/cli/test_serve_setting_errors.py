"""A serve setting that cannot be used names itself, through the real ``smtpfake`` command (issue
11): a host that is not an address is a usage error naming --host (exit 2), not "cannot listen
on ...: [Errno -2] Name or service not known" (exit 1, as if something were in the way); a taken
port stays a runtime error naming the port; an environment variable that is not what its flag
takes names the variable and the flag it stands for."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from smtpfake import cli

#: the console script pip installed beside this interpreter: what a user runs
SMTPFAKE = str(Path(sys.executable).parent / "smtpfake")


def serve(argv: list[str], **settings: str) -> subprocess.CompletedProcess[str]:
    """``smtpfake serve ARGV``, with no SMTPFAKE_* settings around but ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPFAKE_")}
    return subprocess.run(
        [SMTPFAKE, "serve", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**env, **settings},
    )


def _usage(result: subprocess.CompletedProcess[str]) -> str:
    """The error line of a two-line usage error (exit 2), without its prefix."""
    assert result.returncode == 2, result.stderr
    error, hint = result.stderr.splitlines()
    assert hint == "For more information, try 'smtpfake serve --help'."
    prefix = "smtpfake serve: error: "
    assert error.startswith(prefix)
    return error[len(prefix) :]


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["--host", "999.1.1.1"], {}, "--host/SMTPFAKE_HOST: '999.1.1.1' is not an address"),
        ([], {"SMTPFAKE_HOST": "999.1.1.1"}, "--host/SMTPFAKE_HOST: '999.1.1.1' is not an"),
        (
            ["--api-port", "0", "--api-token", "t", "--api-host", "no-such-host.invalid"],
            {},
            "--api-host/SMTPFAKE_API_HOST: 'no-such-host.invalid' is not an address",
        ),
        # an address, but none of this machine's (TEST-NET-1, RFC 5737)
        (["--host", "192.0.2.1"], {}, "--host/SMTPFAKE_HOST: '192.0.2.1' is not an address of"),
    ],
)
def test_a_host_that_is_not_an_address_is_a_usage_error_naming_it(
    argv: list[str], env: dict[str, str], named: str
) -> None:
    assert _usage(serve(["--port", "0", *argv], **env)).startswith(named)


def test_a_taken_port_stays_a_runtime_error_naming_the_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = serve(["--port", str(port)])
    assert result.returncode == 1
    assert result.stderr.startswith(f"smtpfake: cannot listen on 127.0.0.1:{port}: ")
    assert "Traceback" not in result.stderr


#: every environment variable the README names that takes other than any text, a bad value for
#: it, and the flag it stands for
TYPED = [
    (var, "nan" if kind is cli.duration else "x", "--" + key.replace("_", "-"))
    for key, (var, kind, _) in cli.SERVE_ENV.items()
    if kind is not str
]


@pytest.mark.parametrize(("var", "value", "flag"), TYPED, ids=[v for v, _, _ in TYPED])
def test_an_environment_variable_names_the_flag_it_stands_for(
    var: str, value: str, flag: str
) -> None:
    error = _usage(serve([], **{var: value}))  # no flag: the variable is read
    assert error.startswith(f"{var}={value!r} (the environment's {flag}): expected ")


def test_the_parameters_variable_names_param() -> None:
    error = _usage(serve(["--port", "0"], SMTPFAKE_PARAMS="nope"))
    assert error.startswith("SMTPFAKE_PARAMS (the environment's --param): ")


def test_a_token_no_header_can_carry_names_the_setting() -> None:
    """A token with a space or a control character inside could never be sent by a client (RFC
    6750 §2.1): serve ran an API nobody could use (fresh15 F4). Surrounding whitespace, a secret
    file's last newline, is dropped instead (tests/sidecar/test_show_rules.py lets a client in)."""
    said = _usage(serve(["--api-port", "0"], SMTPFAKE_API_TOKEN="se same"))
    assert said.startswith("--api-token/SMTPFAKE_API_TOKEN: the token holds U+0020"), said
    said = _usage(serve(["--api-port", "0", "--api-token", "\n"]))
    assert said == "--api-token/SMTPFAKE_API_TOKEN: the token is empty (only whitespace)"
