"""Server-Sent Events, from curl and from Python; servers on demand, isolated from each other."""

from __future__ import annotations

import json
import mailbox
import shutil
import smtplib
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smtpfake.http import ApiServer
from smtpfake.remote import RemoteSmtpFake
from smtpfake.scenario import ScenarioError
from smtpfake.server import Server

from ..support.sidecar import own_sidecar
from ..support.sse import Stream
from ..support.waits import wait_until
from .conftest import TIMEOUT, call


def start_reader(url: str, count: int) -> tuple[threading.Thread, list[dict[str, Any]]]:
    """A thread reading ``count`` events (after the hello) from an SSE stream, or up to a
    ``closed`` or ``deleted`` one; returns once it is subscribed."""
    stream = Stream(
        url, lambda got: len(got) >= count or got[-1]["event"] in ("closed", "deleted"), TIMEOUT
    )
    return stream.thread, stream.got


def test_events_tell_a_whole_session(api: ApiServer) -> None:
    reader, got = start_reader(api.url + "/api/events", 100)
    server = api.server
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        assert client.sock is not None
        peer = "{}:{}".format(*client.sock.getsockname())
        client.sendmail("a@x.test", ["b@y.test"], b"Subject: ev\r\n\r\nbody\r\n")
    reader.join(TIMEOUT)
    kinds = [e["event"] for e in got]
    assert kinds[:3] == ["connected", "reply", "command"]
    assert got[0]["peer"] == peer  # the client's address, as README's example shows
    assert "message" in kinds
    message = next(e for e in got if e["event"] == "message")
    assert (message["subject"], message["rcpt_tos"]) == ("ev", ["b@y.test"])
    assert all(e["server"] == "main" and e["session"] == 1 for e in got)
    ids = [e["id"] for e in got]
    assert ids == sorted(ids)


def test_events_match_the_openapi_event_schema(api: ApiServer) -> None:
    import jsonschema
    import yaml

    from .conftest import REPO

    spec = yaml.safe_load((REPO / "openapi.yaml").read_text(encoding="utf-8"))
    schema = spec["components"]["schemas"]["Event"]
    reader, got = start_reader(api.url + "/api/events", 100)
    server = api.server
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.docmd("MAIL FROM:<a@x.test>")  # a violation
        client.ehlo()
        client.sendmail("a@x.test", ["b@y.test"], b"Subject: ev\r\n\r\nbody\r\n")
    reader.join(TIMEOUT)
    assert {"connected", "command", "reply", "violation", "message", "closed"} <= {
        e["event"] for e in got
    }
    for event in got:
        jsonschema.validate(event, schema)


def test_events_carry_rules_and_violations(api: ApiServer) -> None:
    api.server.use({"rules": [{"name": "no-mail", "on": "mail", "reply": "451 4.3.0 later"}]})
    reader, got = start_reader(api.url + "/api/events", 100)
    server = api.server
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.ehlo()
        assert client.mail("a@x.test")[0] == 451
        client.rcpt("b@y.test")  # out of order: a violation
        client.quit()
    reader.join(TIMEOUT)
    reply = next(e for e in got if e["event"] == "reply" and e["code"] == 451)
    assert reply["rule"] == "no-mail"
    violation = next(e for e in got if e["event"] == "violation")
    assert violation["kind"] and violation["command"].upper().startswith("RCPT")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_events_from_curl(api: ApiServer) -> None:
    curl = subprocess.Popen(
        ["curl", "-sN", "--max-time", str(TIMEOUT), api.url + "/api/events"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert curl.stdout is not None
        assert curl.stdout.readline().startswith("retry:")
        server = api.server
        with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
            client.noop()
        lines = []
        for line in curl.stdout:
            lines.append(line)
            if line.startswith("event: closed"):
                break
        assert "event: connected\n" in lines
    finally:
        curl.kill()
        curl.wait(TIMEOUT)


# -- servers on demand -----------------------------------------------------------------------------


@pytest.fixture
def fleet_api() -> Iterator[ApiServer]:
    with own_sidecar() as api:
        yield api


def test_servers_on_demand_deliver_through_the_sidecars_back_end(tmp_path: Path) -> None:
    """``serve --deliver maildir:PATH`` with ``--smtpfake-remote``: each test's server is one on
    demand; it made no use of the back end and the mail never reached the Maildir while the
    test passed (fresh14 F2). A failed delivery goes where the sidecar's own are reported."""
    failed: list[str] = []
    server = Server(delivery=f"maildir:{tmp_path / 'mail'}")
    server.on_error = lambda error: failed.append(str(error))
    server.start()
    try:
        with ApiServer(server) as api:
            made = call(api.url, "POST", "/api/servers", {}).body
            with smtplib.SMTP(made["host"], made["smtp_port"], timeout=TIMEOUT) as client:
                client.sendmail("a@x.test", ["b@y.test"], b"Subject: on demand\r\n\r\nx\r\n")
            box = mailbox.Maildir(tmp_path / "mail")
            wait_until(lambda: len(box) == 1, what="the message in the sidecar's Maildir")
            assert [m["Subject"] for m in box] == ["on demand"]
            on_demand = api.fleet.instances[made["id"]].server
            assert on_demand.delivery is server.delivery
            assert on_demand.on_error is server.on_error
    finally:
        server.stop()
    assert failed == []


def test_a_server_on_demand_of_another_run_is_gone(fleet_api: ApiServer) -> None:
    """A client sends the run that made its server (``run`` of POST /api/servers) in
    X-Smtpfake-Run; a sidecar restarted at the same URL, whose own s1 may be another client's,
    answers 410 rather than acting on it (fresh15 F2). The sidecar's top paths ignore it."""
    url = fleet_api.url
    made = call(url, "POST", "/api/servers", {}).body
    health = call(url, "GET", "/api/health").body
    assert made["run"] == health["run"] and len(health["run"]) == 16
    path = f"/api/servers/{made['id']}/reset"
    ours = {"X-Smtpfake-Run": made["run"]}
    assert call(url, "POST", path, {}, headers=ours).status == 200
    gone = call(url, "POST", path, {}, headers={"X-Smtpfake-Run": "0" * 16})
    assert gone.status == 410, gone
    assert "another run of the sidecar" in gone.body["error"]
    assert call(url, "GET", "/api/servers", headers={"X-Smtpfake-Run": "0" * 16}).status == 200


def test_servers_on_demand_are_isolated(fleet_api: ApiServer) -> None:
    url = fleet_api.url
    made = call(url, "POST", "/api/servers", {"scenario": "421-at-greeting", "seed": 3})
    assert made.status == 201, made
    assert set(made.body) >= {"id", "smtp_port", "host", "url"}
    assert made.body["url"] == f"{url}/api/servers/{made.body['id']}"
    other = call(url, "POST", "/api/servers", {}).body
    assert other["smtp_port"] != made.body["smtp_port"]

    # the on-demand server plays its scenario; the main one is untouched
    with pytest.raises(smtplib.SMTPConnectError):
        smtplib.SMTP(made.body["host"], made.body["smtp_port"], timeout=TIMEOUT)
    with smtplib.SMTP(other["host"], other["smtp_port"], timeout=TIMEOUT) as client:
        client.sendmail("a@x.test", ["b@y.test"], b"Subject: s2\r\n\r\nx\r\n")

    # the remote client is a plain client of the per-server URL: every endpoint is there
    remote = RemoteSmtpFake(other["url"])
    (m,) = remote.wait_for_messages(1)
    assert m.message["Subject"] == "s2"
    assert remote.port == other["smtp_port"]
    assert call(made.body["url"], "GET", "/messages").body["total"] == 0
    assert call(url, "GET", "/api/messages").body["total"] == 0
    assert fleet_api.server.sessions == ()
    remote.use("421-at-greeting")
    assert call(url, "GET", "/api/scenario").body["name"] == "default"

    # deleting a server ends its event stream, with a last "deleted" event
    reader, got = start_reader(made.body["url"] + "/events", 100)
    assert call(url, "DELETE", f"/api/servers/{made.body['id']}").status == 200
    reader.join(TIMEOUT)
    assert not reader.is_alive()
    assert [e["event"] for e in got] == ["deleted"]
    made = type(made)(made.status, made.headers, call(url, "POST", "/api/servers", {}).body)

    listed = call(url, "GET", "/api/servers").body
    assert [s["id"] for s in listed["servers"]] == ["main", other["id"], made.body["id"]]
    assert call(url, "DELETE", f"/api/servers/{made.body['id']}").status == 200
    assert call(made.body["url"], "GET", "/health").status == 404
    with pytest.raises(OSError):
        smtplib.SMTP(made.body["host"], made.body["smtp_port"], timeout=TIMEOUT)
    assert call(url, "DELETE", "/api/servers/main").status == 400


def test_server_requests_are_checked(fleet_api: ApiServer) -> None:
    url = fleet_api.url
    # each problem begins with the key path of the request that holds it
    for body, named in (
        ({"scenario": "no-such"}, "scenario: no scenario named 'no-such'"),
        ({"scenario": "../etc/passwd"}, "scenario: '../etc/passwd' is a path"),
        ({"seed": float("nan")}, "the body: 'seed': JSON number NaN"),  # not JSON
        ({"seed": 10**30}, "seed: must be a whole number"),
        ({"seed": -1}, "seed: must be a whole number"),
        # default declares none
        ({"params": {"delay": 5}}, "params.delay: this scenario declares no parameters"),
        ({"params": [1]}, "params: must be an object"),
        ({"colour": "red"}, "unknown field(s): colour"),
    ):
        got = call(url, "POST", "/api/servers", body)
        assert got.status == 400, (body, got)
        assert got.body["error"].startswith(named), (body, got)
    assert call(url, "GET", "/api/servers").body["count"] == 1  # none was made


def test_port_range_is_used_and_bounded() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    server = Server("default").start()
    try:
        with ApiServer(server, server_ports=range(free, free + 1)) as api:
            made = call(api.url, "POST", "/api/servers", {})
            assert made.body["smtp_port"] == free
            full = call(api.url, "POST", "/api/servers", {})
            assert full.status == 503
            assert "DELETE one first" in full.body["error"]
    finally:
        server.stop()


def test_the_remote_client_makes_and_closes_servers(fleet_api: ApiServer) -> None:
    main = RemoteSmtpFake(fleet_api.url)
    mine = main.new_server("421-at-greeting-once", seed=2)
    assert mine.server_id.startswith("s") and main.server_id == "main"
    assert mine.port != fleet_api.server.port
    with pytest.raises(smtplib.SMTPConnectError):
        smtplib.SMTP(mine.host, mine.port, timeout=TIMEOUT)
    with smtplib.SMTP(mine.host, mine.port, timeout=TIMEOUT) as client:
        client.sendmail("a@x.test", ["b@y.test"], b"Subject: mine\r\n\r\nx\r\n")
    mine.wait_for_messages(1)
    mine.assert_delivered(1)
    main.assert_delivered(0)
    mine.delete_server()
    assert call(fleet_api.url, "GET", "/api/servers").body["count"] == 1
    with pytest.raises(ScenarioError):
        main.new_server("no-such-scenario")


def test_every_endpoint_answers_per_server(fleet_api: ApiServer) -> None:
    from smtpfake.http.app import ROUTES

    made = call(fleet_api.url, "POST", "/api/servers", {}).body
    for path, methods in ROUTES.items():
        if "GET" not in methods or "{" in path or path == "/events":
            continue
        top = call(fleet_api.url, "GET", "/api" + path)
        mine = call(made["url"], "GET", path)
        main = call(fleet_api.url, "GET", "/api/servers/main" + path)
        assert mine.status == top.status == main.status, (path, top, mine)
        assert main.body == top.body or path in ("/health", "/clock"), path
    assert call(made["url"], "GET", "/health").body["smtp"]["port"] == made["smtp_port"]


def test_unknown_query_parameters_are_refused_everywhere(fleet_api: ApiServer) -> None:
    from smtpfake.http.app import FLEET_ROUTES, ROUTES

    for table in (ROUTES, FLEET_ROUTES):
        for path, methods in table.items():
            for method in methods:
                at = "/api" + path.replace("{mid}", "1").replace("{sid}", "main")
                got = call(fleet_api.url, method, at + "?colour=red")
                assert got.status == 400, (method, at, got)
                assert "colour" in got.body["error"]


def test_octets_that_are_not_utf8_reach_the_api_as_strict_json(api: ApiServer) -> None:
    # A client's 0xFF was "\udcff" in /api/sessions and the stream: JSON that strict parsers
    # (serde_json, Go's encoding/json in strict mode) reject. It is shown as \xff, as the
    # fixture's transcript() shows it; the message's exact octets stay in its raw data.
    stream = Stream(
        api.url + "/api/events",
        lambda got: any(e["event"] == "closed" for e in got),  # bounded: the session's end
        TIMEOUT,
    )
    server = api.server
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as sock:
        reader_file = sock.makefile("rb")
        assert reader_file.readline().startswith(b"220 ")
        sock.sendall(b"HELO \xff.test\r\nMAIL FROM:<a\xff@x.test>\r\nQUIT\r\n")
        for _ in range(3):
            assert reader_file.readline()
    events = stream.join()
    listing = call(api.url, "GET", "/api/sessions")
    assert listing.status == 200
    for value in [listing.body, *events]:
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # no lone surrogate: would raise
    (session,) = listing.body["sessions"]
    texts = [e["text"] for e in session["transcript"]]
    assert "HELO \\xff.test" in texts and "MAIL FROM:<a\\xff@x.test>" in texts
    assert "HELO \\xff.test" in [e.get("text") for e in events]
