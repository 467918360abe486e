"""Issue 11 item 1: ``smtpfake serve`` loads only what it needs before it listens (start-up
time); the rest loads when used. Read from ``python -X importtime`` of a real serve process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

#: what the default scenario, served with the text log and no API, never needs
NOT_AT_START = (
    "yaml",
    "smtpfake.scenario.loader",
    "smtpfake.scenario.rule_reader",
    "smtpfake.scenario.faults.reply",  # no rules: no fault module
    "smtpfake.engine.rulecode",  # no rules: nothing of the rule machinery
    "smtpfake.engine.matching",
    "smtpfake.engine.nearmisses",
    "smtpfake.scenario.violations",  # loaded with the first violation
    "smtpfake.engine.auth",  # the SASL exchange: loaded with the first AUTH
    "json",
    "aiosmtpd",
    "email.message",
    "http.server",
    "smtpfake.http",
    "smtpfake.explain",
    "smtpfake.probe",  # only serve's own parser is built
    "smtpfake.delivery",  # no --deliver
    "smtpfake.hooks",  # no handler
    "uvloop",  # not installed here, or --loop asyncio below
    "pathlib",  # the scenario is found and its cache entry read with os.path
    "urllib.parse",
    "ipaddress",
)


def imports_of_serve(cache: Path, *args: str) -> set[str]:
    """The modules a ``smtpfake serve --port 0`` process imports, from start to stop."""
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "smtpfake", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SMTPFAKE_CACHE_DIR": str(cache)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert "listening" in line, err
    lines = [x for x in err.splitlines() if x.startswith("import time:") and "|" in x]
    return {x.rsplit("|", 1)[1].strip() for x in lines}


def test_serve_starts_without_the_yaml_loader_once_the_scenario_is_cached(tmp_path: Path) -> None:
    first = imports_of_serve(tmp_path, "--loop", "asyncio")
    assert "yaml" in first  # nothing cached yet: the YAML is read
    again = imports_of_serve(tmp_path, "--loop", "asyncio")
    assert "smtpfake.scenario.cache" in again and "smtpfake.engine.session" in again
    assert sorted(again & set(NOT_AT_START)) == []


def test_the_json_log_and_a_parameter_load_what_they_need(tmp_path: Path) -> None:
    """The same server with JSON lines and --param: json and the loader load, and it serves."""
    loaded = imports_of_serve(tmp_path, "--log-format", "json", "--scenario", "greylisting")
    assert "json" in loaded
    loaded = imports_of_serve(tmp_path, "--scenario", "greylisting", "--param", "delay=5")
    assert "smtpfake.scenario.params" in loaded
