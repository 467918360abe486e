"""``smtpfake serve``'s first line says which event loop serves (``--loop auto`` picks uvloop
when installed, and nothing else told the user which it got), in text and in the JSON
``listening`` event; the API's line names the web page, as ``/api/`` itself is no page."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None


@contextmanager
def serving(*args: str) -> Iterator[list[str]]:
    """``smtpfake serve --port 0 ARGS``: its first lines (two with --api-port), then SIGTERM."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPFAKE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpfake", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        count = 2 if "--api-port" in args else 1
        # readline blocks until serve prints (or dies: then "" and the assertion says why)
        yield [proc.stdout.readline() for _ in range(count)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)  # (a loaded machine: fresh19 N1)


@pytest.mark.parametrize(
    ("loop", "named"),
    [("asyncio", "asyncio"), ("auto", "uvloop" if HAS_UVLOOP else "asyncio")],
)
def test_the_first_line_names_the_loop(loop: str, named: str) -> None:
    with serving("--loop", loop) as (first,):
        assert first.startswith(f"smtpfake 0.1.0 ({named}) listening on 127.0.0.1:"), first
    with serving("--loop", loop, "--log-format", "json") as (first,):
        event = json.loads(first)
        assert (event["event"], event["loop"]) == ("listening", named), event


@pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed (pip install '.[uvloop]')")
def test_uvloop_asked_for_is_named() -> None:
    with serving("--loop", "uvloop") as (first,):
        assert first.startswith("smtpfake 0.1.0 (uvloop) listening on "), first


def test_the_api_line_names_the_web_page_which_is_there() -> None:
    with serving("--api-port", "0") as (_, api_line):
        api, page = api_line.split(" on ")[1:]
        assert api.endswith("/api/, the web page") and page.strip().endswith("/"), api_line
        with urllib.request.urlopen(page.strip(), timeout=5) as response:
            assert response.headers.get_content_type() == "text/html"
