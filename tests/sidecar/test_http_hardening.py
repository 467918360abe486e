"""The HTTP side of the hardening issue: each failing input of the issue, as a test.

Timeouts are set short here (the defaults are 10 s); every socket read has a deadline.
"""

from __future__ import annotations

import concurrent.futures
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtpfake.http import ApiServer
from smtpfake.server import Server

from ..support.sidecar import own_sidecar
from .conftest import TIMEOUT, call


@pytest.fixture(scope="module")
def quick() -> Iterator[ApiServer]:
    """An API with short header and body timeouts (0.5 s)."""
    with own_sidecar(header_timeout=0.5, body_timeout=0.5) as api:
        yield api


def exchange(api: ApiServer, data: bytes, *, then_wait: bool = True) -> bytes:
    """Send ``data``; read until the server closes (bounded by TIMEOUT)."""
    with socket.create_connection(("127.0.0.1", api.port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def test_a_client_that_never_finishes_its_headers_is_closed(quick: ApiServer) -> None:
    started = time.monotonic()
    got = exchange(quick, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n")
    assert got == b""  # a quiet close, no answer to half a request
    assert time.monotonic() - started < TIMEOUT


def test_slowloris_connections_do_not_stop_health_checks(quick: ApiServer) -> None:
    held = []
    try:
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", quick.port), timeout=TIMEOUT)
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            held.append(sock)
        assert call(quick.url, "GET", "/api/health").status == 200
    finally:
        for sock in held:
            sock.close()


def test_a_content_length_larger_than_the_body_is_a_408(quick: ApiServer) -> None:
    got = exchange(
        quick,
        b"POST /api/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{}",
    )
    assert got.startswith(b"HTTP/1.1 408 ")
    assert b"did not arrive within 0.5s" in got
    assert not quick.server.errors


def test_clients_that_leave_early_leave_no_trace(quick: ApiServer) -> None:
    for _ in range(50):
        with socket.create_connection(("127.0.0.1", quick.port), timeout=TIMEOUT) as sock:
            sock.sendall(
                b"POST /api/wait HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 30\r\n\r\n"
            )
    assert call(quick.url, "GET", "/api/health").status == 200
    assert not quick.server.errors


def test_many_concurrent_clients_are_all_answered(quick: ApiServer) -> None:
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        statuses = list(
            pool.map(lambda _: call(quick.url, "GET", "/api/health").status, range(400))
        )
    assert statuses == [200] * 400


@pytest.mark.parametrize(
    "request_line",
    [
        b"GET http://evil.test/api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        b"GET http://127.0.0.1:1/api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        b"GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.test\r\n",
        b"GET /api/sessions HTTP/1.1\r\nHost: evil.test\r\n",
    ],
)
def test_the_host_guard_reads_one_host_and_the_target(
    quick: ApiServer, request_line: bytes
) -> None:
    got = exchange(quick, request_line + b"Connection: close\r\n\r\n")
    status = int(got.split(b" ", 2)[1])
    assert status in (400, 403), got[:300]
    assert b'"sessions"' not in got


def test_an_absolute_target_naming_us_is_served(quick: ApiServer) -> None:
    host = f"127.0.0.1:{quick.port}".encode()
    got = exchange(
        quick,
        b"GET http://"
        + host
        + b"/api/health HTTP/1.1\r\nHost: "
        + host
        + b"\r\nConnection: close\r\n\r\n",
    )
    assert got.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"messages": 1, "timeout": NaN}', "'timeout'"),
        (b'{"messages": 1, "timeout": Infinity}', "'timeout'"),
        (b'{"messages": 1, "timeout": 1e999}', "'timeout'"),
        (b'{"messages": ' + b"9" * 4301 + b"}", "'messages'"),
        (b'{"sessions": -' + b"9" * 30 + b"}", "'sessions'"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "nested too deeply"),
        (b'{"messages": 1, "timeout": "\xff"}', "not UTF-8"),
        (b'{"messages": 1, "timeout": 1e308, "x": NaN}', "'x'"),
    ],
)
def test_bad_json_numbers_and_shapes_are_400_naming_the_field(
    quick: ApiServer, body: bytes, named: str
) -> None:
    started = time.monotonic()
    got = call(quick.url, "POST", "/api/wait", raw=body)
    assert got.status == 400, got
    assert named in got.body["error"], got
    assert time.monotonic() - started < TIMEOUT
    assert not quick.server.errors


@pytest.mark.parametrize("query", ["seed=" + "9" * 4301, "seed=nan", "seed=1e3"])
def test_bad_query_numbers_are_400_naming_the_field(quick: ApiServer, query: str) -> None:
    got = call(
        quick.url,
        "PUT",
        f"/api/scenario?{query}",
        raw=b"rules: []\n",
        content_type="application/yaml",
    )
    assert got.status == 400, got
    assert got.body["error"].startswith("seed: must be a whole number from 0 to "), got
    assert [d["field"] for d in got.body["details"]] == ["seed"]


def test_an_upload_cannot_probe_files_outside_the_scenario_dirs(tmp_path: Path) -> None:
    allowed = tmp_path / "scenarios"
    allowed.mkdir()
    server = Server("default", scenario_dirs=[allowed]).start()
    try:
        with ApiServer(server) as api:
            answers = []
            for path in ("/etc/hostname", "/no/such/file.pem", "../outside.pem"):
                text = (
                    "summary: s\nexpect: e\nserver:\n  tls:\n"
                    f"    certificate: {path}\n    key: {path}\nrules: []\n"
                )
                got = call(
                    api.url,
                    "PUT",
                    "/api/scenario",
                    raw=text.encode(),
                    content_type="application/yaml",
                )
                assert got.status == 400, got
                answers.append([d["message"] for d in got.body["details"]])
                assert all("scenario directories" in m for m in answers[-1]), got
                assert got.body["details"][0]["line"] == 5
            # the same answer whether the file exists or not: nothing to learn from it
            assert answers[0] == answers[1]
            assert server.scenario.name == "default"
    finally:
        server.stop()


@pytest.mark.parametrize(
    "body",
    [
        b'{"advance": NaN}',
        b'{"advance": 1e999}',
        b'{"advance": "5 parsecs"}',
        b'{"advance": "-5m"}',
        b'{"advance": "1e999h"}',
        b'{"advance": true}',
        b'{"advance": -1}',
    ],
)
def test_the_clock_moves_only_by_a_finite_amount(quick: ApiServer, body: bytes) -> None:
    before = quick.server.now()
    got = call(quick.url, "POST", "/api/clock", raw=body)
    assert got.status == 400, got
    assert "'advance'" in got.body["error"]
    assert quick.server.now() < before + 1  # not moved


@pytest.mark.parametrize(
    ("advance", "seconds"),
    [("5m", 300.0), ("250ms", 0.25), ("1h", 3600.0), ("30", 30.0), (2.5, 2.5)],
)
def test_the_clock_takes_durations_as_the_scenario_language_writes_them(
    quick: ApiServer, advance: object, seconds: float
) -> None:
    before = call(quick.url, "GET", "/api/clock").body["now"]
    got = call(quick.url, "POST", "/api/clock", {"advance": advance})
    assert got.status == 200, got
    assert got.body["now"] == pytest.approx(before + seconds, abs=0.5)


def test_a_bad_duration_says_what_is_accepted(quick: ApiServer) -> None:
    got = call(quick.url, "POST", "/api/clock", {"advance": "5 minutes"})
    assert got.status == 400
    assert "250ms, 30s, 5m, 1h" in got.body["error"], got
    # the most one call may move it, ten years, written as a person reads it (not 3.1536e+08)
    assert got.body["error"].startswith(
        "'advance' must be a duration from 0 to 315,360,000 seconds"
    )


@pytest.mark.parametrize(
    ("path", "body", "got"),
    [
        ("/api/clock", {"advance": True}, "got true"),
        ("/api/wait", {"messages": None}, "got null"),
        ("/api/wait", {"messages": [1]}, "got [1]"),
        ("/api/wait", {"messages": 1, "timeout": False}, "got false"),
        ("/api/wait", {"messages": 1, "timeout": "5 parsecs"}, "got '5 parsecs'"),
        ("/api/servers", {"scenario": "default", "params": ["delay"]}, 'got ["delay"]'),
        ("/api/clock", {"advance": {"m": "x" * 80}}, 'got {"m": "' + "x" * 33 + "..."),
    ],
)
def test_a_bad_value_is_shown_as_json_writes_it(
    quick: ApiServer, path: str, body: dict[str, object], got: str
) -> None:
    """Clients in any language read these: Python's True, None and list were shown."""
    answer = call(quick.url, "POST", path, body)
    assert answer.status == 400, answer
    assert answer.body["error"].endswith(got), answer


@pytest.mark.parametrize(
    "body",
    [
        b"rules:\n" + b"  " + b"[" * 500 + b"]" * 500 + b"\n",
        b"server:\n" + b"".join(b"  " * (i + 1) + b"a%d:\n" % i for i in range(500)) + b"\n",
    ],
)
def test_a_deeply_nested_upload_is_a_400_not_a_recursion_error(
    quick: ApiServer, body: bytes
) -> None:
    # the check of TLS file names ran PyYAML's recursive composer before the loader's bounded one
    got = call(quick.url, "PUT", "/api/scenario", raw=body, content_type="application/yaml")
    assert got.status == 400, got
    assert "nested" in json.dumps(got.body), got
    assert not quick.server.errors
