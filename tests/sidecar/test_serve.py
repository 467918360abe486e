"""``smtpfake serve`` as a process: the API beside SMTP, environment variables, logs, signals."""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import REPO, TIMEOUT, Answer, Sidecar, call

Start = Callable[..., Sidecar]


def mail(car: Sidecar, subject: str = "logged") -> None:
    with smtplib.SMTP(car.smtp_host, car.smtp_port, timeout=TIMEOUT) as client:
        client.sendmail("a@x.test", ["b@y.test"], f"Subject: {subject}\r\n\r\nhi\r\n".encode())


def until(car: Sidecar, needle: str, timeout: float = 3.0) -> list[str]:
    """stdout lines so far, once one contains ``needle``."""
    deadline = time.monotonic() + timeout
    while not any(needle in line for line in car.stdout):
        assert time.monotonic() < deadline, f"no {needle!r} in the log; {car.output()}"
        time.sleep(0.01)
    return list(car.stdout)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``smtpfake serve`` expected to exit by itself (a configuration error)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("SMTPFAKE_")} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "smtpfake", "serve", *args],
        env=full,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=10,
        stdin=subprocess.DEVNULL,
    )


def test_text_log_has_one_line_per_session_event(sidecar_factory: Start) -> None:
    car = sidecar_factory("--port", "0", "--api-port", "0")
    assert re.match(
        r"smtpfake 0\.1\.0 \((asyncio|uvloop)\) listening on 127\.0\.0\.1:", car.stdout[0]
    )
    assert car.stdout[1].strip() == (
        f"smtpfake: control API on {car.url}/api/, the web page on {car.url}/"
    )
    mail(car)
    lines = until(car, "session 1 closed")
    log = "".join(lines[2:])
    assert " session 1 connect from 127.0.0.1:" in log
    assert " session 1 S: 220 " in log
    assert re.search(r" session 1 C: (?i:ehlo) ", log)
    assert " session 1 accepted message SF" in log
    assert "from <a@x.test> to b@y.test" in log
    assert " session 1 C: QUIT" in log
    assert lines[-1].rstrip().endswith("session 1 closed")
    # the switch made over the API is in the log too
    call(car.url, "PUT", "/api/scenario", {"name": "strict-503-ordering"})
    until(car, "api PUT /api/scenario -> 200")


def test_json_log_lines(sidecar_factory: Start) -> None:
    car = sidecar_factory("--port", "0", "--api-port", "0", "--log-format", "json")
    call(car.url, "PUT", "/api/scenario", {"name": "strict-503-ordering"})
    with smtplib.SMTP(car.smtp_host, car.smtp_port, timeout=TIMEOUT) as client:
        assert client.docmd("MAIL", "FROM:<a@x.test>")[0] == 503
    until(car, '"close"')
    events = [json.loads(line) for line in car.stdout]  # every line is JSON
    assert events[0]["event"] == "listening"
    assert events[0]["api"] == car.url
    assert events[0]["tls_ca"] is None  # default has no TLS
    assert events[1] == {**events[1], "event": "api", "method": "PUT", "status": 200}
    session = [e for e in events[2:] if e.get("session") == 1]
    kinds = [e["event"] for e in session]
    assert kinds[:2] == ["connect", "reply"]
    assert "violation" in kinds
    assert kinds[-1] == "close"
    violation = next(e for e in session if e["event"] == "violation")
    assert (violation["kind"], violation["command"]) == ("bad-sequence", "MAIL")
    reply = next(e for e in session if e["event"] == "reply" and e["text"].startswith("503"))
    assert reply["side"] == "server"
    command = next(e for e in session if e["event"] == "command")
    assert command["text"] == "MAIL FROM:<a@x.test>"
    assert all(e["time"].endswith("Z") and isinstance(e["ts"], float) for e in session)


def tls_and_auth_sessions(car: Sidecar, ca_file: str) -> None:
    """Session 1 over STARTTLS (tls-required), then, after a switch, session 2 with AUTH."""
    with smtplib.SMTP(car.smtp_host, car.smtp_port, timeout=TIMEOUT) as client:
        client.starttls(context=ssl.create_default_context(cafile=ca_file))
        client.sendmail("a@x.test", ["b@y.test"], b"Subject: tls\r\n\r\nhi\r\n")
    until(car, "closed")
    call(car.url, "PUT", "/api/scenario", {"name": "530-auth-required"})
    with smtplib.SMTP(car.smtp_host, car.smtp_port, timeout=TIMEOUT) as client:
        client.login("alice", "secret")
    until(car, "authenticated as 'alice'")


def test_a_tls_scenario_prints_its_ca_and_the_log_shows_tls_and_auth(
    sidecar_factory: Start,
) -> None:
    car = sidecar_factory("--scenario", "tls-required", "--port", "0", "--api-port", "0")
    (line,) = [x for x in until(car, "TLS certificates") if "TLS certificates" in x]
    m = re.fullmatch(
        r"smtpfake: TLS certificates issued by the CA in (\S+) \(or GET /api/tls/ca\)", line.strip()
    )
    assert m, line
    ca_file = m[1]
    assert Path(ca_file).read_text(encoding="ascii") == call(car.url, "GET", "/api/tls/ca").body
    tls_and_auth_sessions(car, ca_file)
    log = "".join(car.stdout)
    assert re.search(r" session 1 TLS started: TLSv1\.[23] \S+\n", log), log
    # the AUTH session follows a scenario switch: numbers go on (unique until a reset)
    assert " session 2 authenticated as 'alice'\n" in log
    car.signal()
    assert not Path(ca_file).exists(), "the CA's temporary folder outlived the process"


def test_json_log_has_tls_and_auth_events(sidecar_factory: Start) -> None:
    car = sidecar_factory(
        "--scenario", "tls-required", "--port", "0", "--api-port", "0", "--log-format", "json"
    )
    listening = json.loads(car.stdout[0])
    assert Path(listening["tls_ca"]).is_file()
    tls_and_auth_sessions(car, listening["tls_ca"])
    events = [json.loads(line) for line in car.stdout]
    tls = next(e for e in events if e["event"] == "tls")
    assert tls["session"] == 1
    assert tls["version"].startswith("TLSv1.")
    assert tls["cipher"]
    assert tls["text"] == f"TLS started: {tls['version']} {tls['cipher']}"
    auth = next(e for e in events if e["event"] == "auth")
    assert (auth["session"], auth["user"]) == (2, "alice")
    assert auth["time"].endswith("Z")


def test_invalid_utf8_from_a_client_is_logged_escaped(sidecar_factory: Start) -> None:
    car = sidecar_factory("--port", "0", "--api-port", "0", "--log-format", "json")
    with socket.create_connection((car.smtp_host, car.smtp_port), timeout=TIMEOUT) as sock:
        f = sock.makefile("rb")
        f.readline()
        sock.sendall(b"EHLO caf\xe9.test\r\n")
        for _ in range(20):
            if f.readline().startswith(b"250 "):
                break
        sock.sendall(b"QUIT\r\n")
        assert f.readline().startswith(b"221 ")
    until(car, '"close"')
    line = next(x for x in car.stdout if "EHLO" in x)
    # shown as the API shows it (\xe9), never as a lone surrogate ("\udce9": strict JSON
    # parsers reject it)
    assert "EHLO caf\\\\xe9.test" in line and "\\udc" not in line, line
    assert json.loads(line)["text"] == "EHLO caf\\xe9.test"
    (session,) = call(car.url, "GET", "/api/sessions").body["sessions"]
    assert json.loads(line)["text"] in [e["text"] for e in session["transcript"]]  # the API's
    assert not car.stderr, car.output()


def test_every_option_from_the_environment(sidecar_factory: Start, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    doc = "summary: Mine.\nexpect: Anything.\n"
    (one / "mine-one.yaml").write_text(doc)
    (two / "mine-two.yaml").write_text(doc)
    car = sidecar_factory(
        env={
            "SMTPFAKE_SCENARIO": "mine-two",
            "SMTPFAKE_HOST": "127.0.0.2",
            "SMTPFAKE_PORT": "0",
            "SMTPFAKE_SEED": "42",
            "SMTPFAKE_SCENARIO_DIRS": f"{one}:{two}",
            "SMTPFAKE_API_HOST": "127.0.0.3",
            "SMTPFAKE_API_PORT": "0",
            "SMTPFAKE_API_TOKEN": "env-token",
            "SMTPFAKE_LOG_FORMAT": "json",
        }
    )
    assert car.url.startswith("http://127.0.0.3:")
    assert car.smtp_host == "127.0.0.2"
    assert call(car.url, "GET", "/api/scenario").status == 401
    got = call(car.url, "GET", "/api/scenario", token="env-token")
    assert (got.body["name"], got.body["seed"]) == ("mine-two", 42)
    assert got.body["smtp"]["host"] == "127.0.0.2"
    listed = call(car.url, "GET", "/api/scenarios", token="env-token").body["scenarios"]
    names = {s["name"] for s in listed}
    assert {"mine-one", "mine-two", "default"} <= names
    mail(car)
    until(car, '"event": "message"')


def test_flags_win_over_the_environment(sidecar_factory: Start, tmp_path: Path) -> None:
    (tmp_path / "flagged.yaml").write_text("summary: F.\nexpect: F.\n")
    env = {
        "SMTPFAKE_SCENARIO": "421-at-greeting",
        "SMTPFAKE_SEED": "1",
        "SMTPFAKE_LOG_FORMAT": "json",
        "SMTPFAKE_API_TOKEN": "env",
        "SMTPFAKE_SCENARIO_DIRS": "/nonexistent",
        "SMTPFAKE_PORT": "1",  # privileged: the flag must win or this fails to bind
    }
    car = sidecar_factory(
        "--scenario", "flagged", "--seed", "9", "--log-format", "text", "--api-token", "flag",
        "--scenario-dir", str(tmp_path), "--port", "0", "--api-port", "0",
        env=env,
    )  # fmt: skip
    assert car.stdout[0].startswith("smtpfake ")  # text, not JSON
    assert "(bearer token required)" in car.stdout[1]
    got = call(car.url, "GET", "/api/scenario", token="flag")
    assert (got.status, got.body["name"], got.body["seed"]) == (200, "flagged", 9)


def test_without_a_seed_serve_plays_the_scenarios_own(
    sidecar_factory: Start, tmp_path: Path
) -> None:
    """The README's Configuration table said ``--seed``'s default was 0: it is the scenario's
    own ``seed:`` (seeded-chaos's 20251, so its faults are the documented ones), else 0."""
    (tmp_path / "seeded.yaml").write_text("summary: S.\nexpect: S.\nseed: 7\n")
    (tmp_path / "unseeded.yaml").write_text("summary: U.\nexpect: U.\n")
    for name, seed in (("seeded", 7), ("unseeded", 0)):
        car = sidecar_factory(
            "--scenario", name, "--scenario-dir", str(tmp_path), "--port", "0", "--api-port", "0"
        )  # fmt: skip
        assert call(car.url, "GET", "/api/scenario").body["seed"] == seed


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        (
            {"SMTPFAKE_PORT": "smtp"},
            "SMTPFAKE_PORT='smtp' (the environment's --port): expected a whole number",
        ),
        ({"SMTPFAKE_API_PORT": "70000"}, "70000 is not a port"),
        ({"SMTPFAKE_LOG_FORMAT": "xml"}, "'xml' is not text or json"),
        ({"SMTPFAKE_SCENARIO": "nope"}, "no scenario named 'nope'"),
        ({"SMTPFAKE_SERVER_PORTS": "2600-"}, "SMTPFAKE_SERVER_PORTS: expected a port range"),
        ({"SMTPFAKE_SERVER_PORTS": "2700-2600"}, "low to high"),
    ],
)
def test_bad_configuration_exits_2(env: dict[str, str], needle: str) -> None:
    done = run(env={"SMTPFAKE_PORT": "0", **env})
    assert done.returncode == 2, done
    assert needle in done.stderr


def test_a_misspelt_scenario_name_is_said_of_the_setting_not_as_a_file() -> None:
    # it read "greylistin:1:1: no scenario named ...", the position in a file named greylistin
    done = run("--port", "0", "--scenario", "greylistin")
    assert done.returncode == 2, done
    assert done.stderr.startswith(
        "smtpfake serve: error: --scenario/SMTPFAKE_SCENARIO: no scenario named 'greylistin'; "
        "did you mean 'greylisting'?"
    ), done.stderr
    assert "greylistin:1:1" not in done.stderr
    assert done.stderr.splitlines()[1:] == ["For more information, try 'smtpfake serve --help'."]


def test_api_port_in_use_exits_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run("--port", "0", "--api-port", str(port))
    assert done.returncode == 1
    assert "cannot listen for the API" in done.stderr


def test_without_api_port_there_is_no_api(sidecar_factory: Start) -> None:
    car = sidecar_factory("--port", "0")
    assert not car.url
    mail(car)
    until(car, "closed")
    assert not any("control API" in line for line in car.stdout)


def test_an_open_api_without_token_warns(sidecar_factory: Start) -> None:
    car = sidecar_factory("--port", "0", "--api-port", "0", "--api-host", "0.0.0.0")
    assert "has no token" in "".join(car.stderr)
    # bound to all interfaces, a DNS name in Host is fine (a container's service name)
    got = call(car.url, "GET", "/api/sessions", headers={"Host": "smtpfake:8025"})
    assert got.status == 200


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_everything_within_a_second(sidecar_factory: Start, sig: int) -> None:
    car = sidecar_factory("--port", "0", "--api-port", "0")
    waiting: list[Answer | BaseException] = []

    def wait() -> None:
        try:
            waiting.append(call(car.url, "POST", "/api/wait", {"messages": 1, "timeout": 30}))
        except BaseException as exc:  # the process is going away under it: that is the point
            waiting.append(exc)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    idle = socket.create_connection((car.smtp_host, car.smtp_port), timeout=TIMEOUT)
    try:
        assert idle.makefile("rb").readline().startswith(b"220 ")
        time.sleep(0.1)  # let the wait reach the server
        elapsed = car.signal(sig)
    finally:
        idle.close()
    assert car.proc.returncode == 0, car.output()
    assert elapsed < 1.0, f"took {elapsed:.2f}s to stop"
    assert car.stdout[-1].strip() == "smtpfake: stopped"
    assert "Traceback" not in "".join(car.stderr), car.output()
    waiter.join(5)
    assert waiting, "the pending wait call never returned"


def test_api_port_without_the_sidecar_extra_says_how_to_install_it(tmp_path: Path) -> None:
    # an aiohttp that cannot be imported, first on the path: as if the extra were not installed
    (tmp_path / "aiohttp").mkdir()
    (tmp_path / "aiohttp" / "__init__.py").write_text(
        "raise ImportError('No module named aiohttp')\n"
    )
    done = run("--port", "0", "--api-port", "0", env={"PYTHONPATH": str(tmp_path)})
    assert done.returncode == 2, done
    assert "install smtpfake with [sidecar], e.g. pip install '.[sidecar]'" in done.stderr
    assert "Traceback" not in done.stderr
    # a port range is checked without it too
    done = run("--server-ports", "x", env={"PYTHONPATH": str(tmp_path)})
    assert (done.returncode, "Traceback" in done.stderr) == (2, False), done
    # without --api-port, serve never imports it
    assert (
        "No module named aiohttp"
        not in run("--scenario", "nope", env={"PYTHONPATH": str(tmp_path)}).stderr
    )


def test_sigterm_with_servers_on_demand_and_event_streams_is_quick(sidecar_factory: Start) -> None:
    car = sidecar_factory("--port", "0", "--api-port", "0")
    made = [call(car.url, "POST", "/api/servers", {}).body for _ in range(3)]
    streams = [urllib.request.urlopen(m["url"] + "/events", timeout=TIMEOUT) for m in made]
    try:
        for stream in streams:
            assert stream.readline().startswith(b"retry:")
        elapsed = car.signal(signal.SIGTERM)
    finally:
        for stream in streams:
            stream.close()
    assert car.proc.returncode == 0, car.output()
    assert elapsed < 1.0, f"took {elapsed:.2f}s to stop"
    assert "Traceback" not in "".join(car.stderr), car.output()


def test_servers_on_demand_log_their_sessions_tagged(sidecar_factory: Start) -> None:
    car = sidecar_factory("--port", "0", "--api-port", "0")
    made = call(car.url, "POST", "/api/servers", {}).body
    with smtplib.SMTP("127.0.0.1", made["smtp_port"], timeout=TIMEOUT) as client:
        client.noop()
    lines = until(car, "] closed")
    assert any(line.endswith(f"session 1 [{made['id']}] closed\n") for line in lines), lines


def test_reading_sessions_never_waits_for_open_ones(sidecar_factory: Start) -> None:
    # one event loop serves SMTP and HTTP: a read that waited for open sessions to end would
    # hold up the very sessions it waits for
    car = sidecar_factory("--port", "0", "--api-port", "0")
    with socket.create_connection((car.smtp_host, car.smtp_port), timeout=TIMEOUT) as sock:
        assert sock.makefile("rb").readline().startswith(b"220 ")
        for _ in range(3):
            got = call(car.url, "GET", "/api/sessions", timeout=1.0)
            assert [s["ended"] for s in got.body["sessions"]] == [None]
        sock.sendall(b"QUIT\r\n")
        assert sock.makefile("rb").readline().startswith(b"221 ")


def test_misbehaving_http_clients_leave_stderr_empty(sidecar_factory: Start) -> None:
    car = sidecar_factory("--port", "0", "--api-port", "0")
    port = int(car.url.rsplit(":", 1)[1])
    garbage = (
        b"POST /api/wait HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40\r\n\r\n{",  # leaves
        b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: x\r\n\r\n",  # two Hosts
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS hello
        b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  # a stream, then gone
        b"BREW / HTTP/1.1\r\n\r\n",
    )
    for data in garbage * 10:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(data)
    assert call(car.url, "GET", "/api/health").status == 200
    car.signal(signal.SIGTERM)
    assert car.proc.returncode == 0
    assert "".join(car.stderr) == "", car.output()


def test_the_log_has_api_writes_and_failures_not_reads(sidecar_factory: Start) -> None:
    car = sidecar_factory("--port", "0", "--api-port", "0", "--log-format", "json")
    for path in ("/api/sessions", "/api/messages", "/api/health", "/api/scenario"):
        assert call(car.url, "GET", path).status == 200
    assert call(car.url, "GET", "/api/nope").status == 404
    # a wait is a read, met or run out (an awaitable wait makes one a 0.05 s slice: a line
    # each was 8-10 lines a second of a logging sidecar)
    assert call(car.url, "POST", "/api/wait", {"messages": 1, "timeout": 0.05}).status == 408
    assert call(car.url, "POST", "/api/wait", {"messages": 0, "timeout": 0.05}).status == 200
    assert call(car.url, "POST", "/api/reset").status == 200
    until(car, '"POST"')
    api = [json.loads(line) for line in car.stdout if '"event": "api"' in line]
    assert [(e["method"], e["path"], e["status"]) for e in api] == [
        ("GET", "/api/nope", 404),
        ("POST", "/api/reset", 200),
    ]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_says_421_to_open_sessions_before_the_close(
    sidecar_factory: Start, sig: int
) -> None:
    # RFC 5321 §3.8: a server going away says 421 (then EOF), not a silent close
    car = sidecar_factory("--port", "0", "--api-port", "0")
    with socket.create_connection((car.smtp_host, car.smtp_port), timeout=TIMEOUT) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        sock.sendall(b"EHLO client.test\r\n")
        for _ in range(20):  # bounded: the EHLO reply's lines
            if reader.readline()[3:4] == b" ":
                break
        car.signal(sig)
        assert reader.readline().startswith(b"421 4.3.2 ")
        assert reader.readline() == b""  # EOF, not a reset
    assert car.proc.returncode == 0, car.output()
