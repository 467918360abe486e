"""The HTTP control API over an in-process server: every endpoint, its errors and its guards."""

from __future__ import annotations

import base64
import http.client
import json
import re
import smtplib
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtpfake.control import SmtpFake
from smtpfake.http import ApiServer, listings
from smtpfake.http.app import MAX_BODY
from smtpfake.server import Server

from .conftest import PEM_TYPE, TIMEOUT, Answer, call


def send_one(server: Server, *, subject: str = "hello", body: bytes = b"Hi there.\r\n") -> None:
    data = f"From: a@x.test\r\nTo: b@y.test\r\nSubject: {subject}\r\n\r\n".encode() + body
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.sendmail("a@x.test", ["b@y.test", "c@y.test"], data)


def greeting(server: Server) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as sock:
        return sock.makefile("rb").readline(1000)


def get(api: ApiServer, path: str, **kw: object) -> Answer:
    return call(api.url, "GET", path, **kw)  # type: ignore[arg-type]


# -- health and scenario ---------------------------------------------------------------------------


def test_health_is_ready_with_the_smtp_address(api: ApiServer) -> None:
    got = get(api, "/api/health")
    assert got.status == 200
    assert got.body["status"] == "ready"
    assert got.body["smtp"] == {"host": api.server.host, "port": api.server.port}
    assert got.body["scenario"] == "default"


def test_health_is_503_until_smtp_listens() -> None:
    server = Server("default")  # not started
    with ApiServer(server) as api:
        got = get(api, "/api/health")
        assert (got.status, got.body["status"]) == (503, "unavailable")
        server.start()
        try:
            assert get(api, "/api/health").status == 200
        finally:
            server.stop()
        assert get(api, "/api/health").status == 503


def test_get_scenario_describes_the_active_one(api: ApiServer) -> None:
    got = get(api, "/api/scenario")
    assert got.status == 200
    assert got.body["name"] == "default"
    assert got.body["summary"].startswith("An RFC-correct server")
    assert got.body["expect"]
    assert got.body["source"].endswith("default.yaml")
    assert got.body["smtp"]["port"] == api.server.port
    assert got.body["rules"] == []


def test_put_scenario_by_name_is_in_force_when_the_call_returns(api: ApiServer) -> None:
    for _ in range(3):  # no window where the old scenario still answers
        got = call(api.url, "PUT", "/api/scenario", {"name": "421-at-greeting", "seed": 7})
        assert got.status == 200, got
        assert got.body["name"] == "421-at-greeting"
        assert got.body["seed"] == 7
        assert greeting(api.server).startswith(b"421 ")
        assert call(api.url, "PUT", "/api/scenario", {"name": "default"}).status == 200
        assert greeting(api.server).startswith(b"220 ")
    rules = call(api.url, "PUT", "/api/scenario", {"name": "421-at-greeting"}).body["rules"]
    assert rules[0]["on"] == ["connect"]
    assert rules[0]["faults"][0]["type"] == "reply"
    assert rules[0]["faults"][0]["params"]["code"] == 421


def test_put_unknown_name_is_400_naming_the_field_with_a_suggestion(api: ApiServer) -> None:
    got = call(api.url, "PUT", "/api/scenario", {"name": "421-at-greetin"})
    assert got.status == 400
    (problem,) = got.body["problems"]
    assert problem.startswith("name: no scenario named '421-at-greetin'; did you mean '421-at-gr")
    assert got.body["error"] == problem
    assert got.body["details"] == [{"field": "name", "message": problem.removeprefix("name: ")}]
    assert api.server.scenario.name == "default"


@pytest.mark.parametrize("name", ["/etc/passwd", "../x.yaml", "mine.yml", "a\\b"])
def test_put_refuses_paths_on_the_sidecars_disk(api: ApiServer, name: str) -> None:
    got = call(api.url, "PUT", "/api/scenario", {"name": name})
    assert got.status == 400
    assert "is a path, not a name" in got.body["error"]


MAX_SEED = 2**64 - 1


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"name": 3}, "name: must be a scenario name"),
        ({}, "name: must be a scenario name"),
        ({"name": "default", "seed": "x"}, "seed: must be a whole number"),
        ({"name": "default", "seed": True}, "seed: must be a whole number"),
        # the range a scenario's seed: and serve --seed take, not a signed 64-bit one
        ({"name": "default", "seed": -1}, f"seed: must be a whole number from 0 to {MAX_SEED}"),
        ({"name": "default", "seed": 2**64}, f"seed: must be a whole number from 0 to {MAX_SEED}"),
        ({"name": "default", "nmae": 1}, "unknown field(s): nmae"),
        ({"nam": "default"}, "unknown field(s): nam; did you mean 'name'? (known: name, params"),
    ],
)
def test_put_json_checks_its_fields(api: ApiServer, body: dict[str, object], needle: str) -> None:
    got = call(api.url, "PUT", "/api/scenario", body)
    assert got.status == 400, got
    assert needle in got.body["error"]


def test_put_takes_the_largest_seed_a_scenario_takes(api: ApiServer) -> None:
    got = call(api.url, "PUT", "/api/scenario", {"name": "default", "seed": MAX_SEED})
    assert (got.status, got.body["seed"]) == (200, MAX_SEED)


def test_put_bad_json_and_non_objects(api: ApiServer) -> None:
    assert call(api.url, "PUT", "/api/scenario", raw=b"{nope").status == 400
    got = call(api.url, "PUT", "/api/scenario", raw=b'["default"]')
    assert (got.status, got.body["error"]) == (400, "expected a JSON object, got an array")
    got = call(api.url, "PUT", "/api/scenario", raw=b"null")
    assert (got.status, got.body["error"]) == (400, "expected a JSON object, got null")


def test_put_other_content_types_is_415(api: ApiServer) -> None:
    got = call(api.url, "PUT", "/api/scenario", raw=b"name=default", content_type="text/plain")
    assert got.status == 415
    assert "application/json" in got.body["error"]


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_yaml_sent_without_its_content_type_says_how_to_send_it(
    api: ApiServer, content_type: str
) -> None:
    # curl -X PUT --data-binary @my.yaml "$API/api/scenario?name=my" sends a form type
    got = call(api.url, "PUT", "/api/scenario?name=mine", raw=YAML, content_type=content_type)
    assert got.status == 415
    assert got.body["error"] == (
        "expected a JSON body (Content-Type: application/json) or a YAML scenario "
        f"(Content-Type: application/yaml), got {content_type.split(';')[0]!r}"
    )
    assert call(api.url, "GET", "/api/scenario").body["name"] == "default"


@pytest.mark.parametrize("content_type", [None, "application/octet-stream"])
def test_yaml_sent_with_no_content_type_says_how_to_send_it(
    api: ApiServer, content_type: str | None
) -> None:
    """curl -T my.yaml sends no Content-Type (aiohttp reads application/octet-stream): was a
    400 "the body is not valid JSON" that did not say YAML needs its type (new-user pass)."""
    where = urllib.parse.urlsplit(api.url)
    conn = http.client.HTTPConnection(where.hostname or "", where.port, timeout=10)
    headers = {} if content_type is None else {"Content-Type": content_type}
    conn.request("PUT", "/api/scenario?name=mine", body=YAML, headers=headers)
    got = conn.getresponse()
    body = json.loads(got.read())
    conn.close()
    assert got.status == 415
    assert body["error"] == (
        "expected a JSON body (Content-Type: application/json) or a YAML scenario "
        "(Content-Type: application/yaml); the body came without a Content-Type and is not a "
        "JSON object"
    )
    # a JSON object without its type is still taken
    ok = call(
        api.url,
        "PUT",
        "/api/scenario",
        raw=b'{"name": "default"}',
        content_type="application/octet-stream",
    )
    assert ok.status == 200


def test_a_query_on_a_json_put_says_the_call_takes_none(api: ApiServer) -> None:
    got = call(api.url, "PUT", "/api/scenario?name=default", {"name": "default"})
    assert got.status == 400
    assert (
        got.body["error"]
        == "unknown query parameter(s): name (this call takes no query parameters)"
    )


YAML = b"""\
summary: Refuse one recipient.
expect: The client reports the refusal.
rules:
  - on: rcpt
    match: "bad@*"
    reply: 550 5.1.1 no such user
"""


@pytest.mark.parametrize("ctype", ["application/yaml", "text/yaml", "application/x-yaml"])
def test_put_yaml_body(api: ApiServer, ctype: str) -> None:
    got = call(api.url, "PUT", "/api/scenario?name=refuse-bad", raw=YAML, content_type=ctype)
    assert got.status == 200, got
    assert got.body["name"] == "refuse-bad"
    assert got.body["source"] == "<refuse-bad>"
    with smtplib.SMTP(api.server.host, api.server.port, timeout=TIMEOUT) as client:
        client.ehlo("x.test")
        client.mail("a@x.test")
        assert client.rcpt("bad@y.test")[0] == 550
        assert client.rcpt("good@y.test")[0] == 250


def test_a_misspelt_query_parameter_of_a_yaml_upload_is_named_with_param_name(
    api: ApiServer,
) -> None:
    got = call(api.url, "PUT", "/api/scenario?params.delay=5", raw=YAML, content_type="text/yaml")
    assert got.status == 400, got
    assert got.body["error"] == (
        "unknown query parameter(s): params.delay "
        "(known: name, param.NAME, require_docs, seed, source)"
    )


def test_put_invalid_yaml_answers_every_problem_and_keeps_the_scenario(api: ApiServer) -> None:
    text = b"summary: x\nexpect: y\nrules:\n  - on: rcptt\n    reply: 550 no\n  - on: mail\n"
    query = "?source=" + urllib.parse.quote("mine.yaml")
    got = call(api.url, "PUT", "/api/scenario" + query, raw=text, content_type="application/yaml")
    assert got.status == 400, got
    problems = got.body["problems"]
    assert len(problems) >= 2
    assert any(p.startswith("mine.yaml:4:9: ") and "did you mean 'rcpt'" in p for p in problems)
    assert any(p.startswith("mine.yaml:6:") for p in problems)
    assert got.body["details"][0]["file"] == "mine.yaml"
    assert api.server.scenario.name == "default"
    assert greeting(api.server).startswith(b"220 ")


def test_yaml_problems_are_named_by_the_uploads_name(api: ApiServer) -> None:
    text = b"summary: x\nexpect: y\nrules:\n  - on: rcptt\n    reply: 550 no\n"
    got = call(api.url, "PUT", "/api/scenario?name=orders", raw=text, content_type="text/yaml")
    assert got.status == 400, got
    assert got.body["problems"][0].startswith("<orders>:4:9: "), got
    assert got.body["details"][0]["file"] == "<orders>"
    unnamed = call(api.url, "PUT", "/api/scenario", raw=text, content_type="text/yaml")
    assert unnamed.body["problems"][0].startswith("request-body:4:9: "), unnamed


def test_put_yaml_that_is_not_yaml(api: ApiServer) -> None:
    got = call(
        api.url, "PUT", "/api/scenario", raw=b"summary: [unclosed\n", content_type="text/yaml"
    )
    assert got.status == 400
    assert got.body["problems"][0].startswith("request-body:")
    assert "invalid YAML" in got.body["problems"][0]


def test_yaml_without_docs_when_asked(api: ApiServer) -> None:
    text = b"rules:\n  - on: connect\n    reply: 554 go away\n"
    strict = call(api.url, "PUT", "/api/scenario", raw=text, content_type="text/yaml")
    assert strict.status == 400
    assert any("summary" in p for p in strict.body["problems"])
    loose = call(
        api.url,
        "PUT",
        "/api/scenario?require_docs=false&seed=5",
        raw=text,
        content_type="text/yaml",
    )
    assert loose.status == 200, loose
    assert loose.body["seed"] == 5
    assert greeting(api.server).startswith(b"554 ")


def test_list_scenarios(api: ApiServer) -> None:
    got = get(api, "/api/scenarios")
    assert got.status == 200
    names = {s["name"]: s for s in got.body["scenarios"]}
    assert {"default", "421-at-greeting", "strict-503-ordering"} <= set(names)
    assert names["421-at-greeting"]["summary"].startswith("Every connection is greeted with 421")
    assert got.body["active"] == "default"


def test_list_scenarios_shows_invalid_files(tmp_path: Path) -> None:
    folder = tmp_path
    (folder / "broken.yaml").write_text("summary: x\nrules: 3\n")
    with Server("default", scenario_dirs=[folder]) as server, ApiServer(server) as api:
        items = {s["name"]: s for s in get(api, "/api/scenarios").body["scenarios"]}
        assert items["broken"]["summary"] is None
        assert items["broken"]["problems"][0].startswith(str(folder / "broken.yaml") + ":")
        got = call(api.url, "PUT", "/api/scenario", {"name": "broken"})
        assert got.status == 400
        assert got.body["problems"]


# -- the journal -----------------------------------------------------------------------------------


def test_sessions_have_transcripts_violations_and_times(api: ApiServer) -> None:
    call(api.url, "PUT", "/api/scenario", {"name": "strict-503-ordering"})
    with socket.create_connection((api.server.host, api.server.port), timeout=TIMEOUT) as sock:
        f = sock.makefile("rb")
        f.readline()
        sock.sendall(b"MAIL FROM:<a@x.test>\r\n")
        assert f.readline().startswith(b"503 ")
        sock.sendall(b"QUIT\r\n")
        assert f.readline().startswith(b"221 ")
    got = call(api.url, "POST", "/api/wait", {"sessions": 1, "timeout": 2})
    assert got.status == 200, got
    (session,) = got.body["sessions"]
    assert session["peer"].startswith("127.0.0.1:")
    assert session["started"] <= session["ended"]
    sides = [(e["side"], e["text"][:4]) for e in session["transcript"]]
    assert sides[:3] == [("server", "220 "), ("client", "MAIL"), ("server", "503 ")]
    assert all(isinstance(e["time"], float) for e in session["transcript"])
    assert [v["kind"] for v in session["violations"]] == ["bad-sequence"]
    assert session["violations"][0]["command"] == "MAIL"


def test_transcript_names_the_rule_that_fired(api: ApiServer) -> None:
    call(api.url, "PUT", "/api/scenario", {"name": "421-at-greeting"})
    greeting(api.server)
    (session,) = call(api.url, "POST", "/api/wait", {"sessions": 1, "timeout": 2}).body["sessions"]
    first = session["transcript"][0]
    assert first["text"].startswith("421 ")
    assert first["rule"]


def test_messages_carry_envelope_headers_and_exact_bytes(api: ApiServer) -> None:
    body = "Grüße, caf\xe9.\r\n".encode("latin-1")  # not UTF-8: only base64 keeps it exact
    send_one(api.server, subject="=?utf-8?q?h=C3=A9llo?=", body=body)
    got = call(api.url, "POST", "/api/wait", {"messages": 1, "timeout": 2})
    assert got.status == 200, got
    assert got.body["count"] == 1
    (msg,) = got.body["messages"]
    assert msg["mail_from"] == "a@x.test"
    assert msg["rcpt_tos"] == ["b@y.test", "c@y.test"]
    assert (msg["subject"], msg["to"], msg["from"]) == ("héllo", "b@y.test", "a@x.test")
    assert ["To", "b@y.test"] in msg["headers"]
    assert "data" not in msg and "data_base64" not in msg  # a summary: data on demand
    assert msg["queue_id"] == api.server.messages[0].queue_id
    assert msg["session"] == 1
    assert get(api, "/api/messages").body == got.body

    # the data, when asked for: streamed, as text and as the exact bytes
    (whole,) = get(api, "/api/messages?include=data").body["messages"]
    raw = base64.b64decode(whole["data_base64"])
    assert raw == api.server.messages[0].data
    assert raw.endswith(body)
    assert whole["size"] == msg["size"] == len(raw)
    assert whole["data"].startswith("From: a@x.test\r\n")
    assert whole["data"] == raw.decode("utf-8", "replace")
    assert {k: v for k, v in whole.items() if not k.startswith("data")} == msg


def test_reset_forgets_journal_and_counters(api: ApiServer) -> None:
    call(api.url, "PUT", "/api/scenario", {"name": "421-at-greeting-once"})
    assert greeting(api.server).startswith(b"421 ")
    assert greeting(api.server).startswith(b"220 ")
    send_one(api.server)
    assert len(get(api, "/api/sessions").body["sessions"]) >= 2
    got = call(api.url, "POST", "/api/reset")
    assert got.status == 200
    assert got.body == {"status": "reset", "scenario": "421-at-greeting-once"}
    assert get(api, "/api/sessions").body["sessions"] == []
    assert get(api, "/api/messages").body["messages"] == []
    assert get(api, "/api/messages").body["total"] == 0
    assert greeting(api.server).startswith(b"421 ")  # connection counter back at 1


def test_wait_returns_as_soon_as_the_message_arrives(api: ApiServer) -> None:
    sender = threading.Timer(0.2, send_one, args=(api.server,))
    sender.start()
    started = time.monotonic()
    try:
        got = call(api.url, "POST", "/api/wait", {"messages": 1, "timeout": 5})
    finally:
        sender.join(5)
    assert got.status == 200, got
    assert time.monotonic() - started < 2.0
    assert got.body["messages"][0]["subject"] == "hello"


def test_wait_times_out_with_408(api: ApiServer) -> None:
    send_one(api.server)
    started = time.monotonic()
    got = call(api.url, "POST", "/api/wait", {"messages": 2, "timeout": 0.3})
    elapsed = time.monotonic() - started
    assert got.status == 408
    assert "for 2 message(s), got 1" in got.body["error"]
    assert got.body["count"] == 1
    assert 0.25 < elapsed < 2.0
    got = call(api.url, "POST", "/api/wait", {"sessions": 3, "timeout": 0})
    assert got.status == 408
    assert "3 finished session(s), got 1" in got.body["error"]


@pytest.mark.parametrize("timeout", ["300ms", "0.3s", "0.3"])
def test_wait_takes_a_duration_as_the_clock_and_scenarios_do(api: ApiServer, timeout: str) -> None:
    started = time.monotonic()
    got = call(api.url, "POST", "/api/wait", {"messages": 1, "timeout": timeout})
    assert got.status == 408, got  # waited the 0.3 s asked for, not the 5 s default
    # the error says how long it did wait (a loaded machine may say 0.4s): bounded, not exact
    said = re.fullmatch(r"waited (\d+\.\d)s for 1 message\(s\), got 0", got.body["error"])
    assert said is not None, got.body
    assert 0.25 <= float(said.group(1)) < 4.0
    assert time.monotonic() - started < 4.0
    send_one(api.server)
    got = call(api.url, "POST", "/api/wait", {"messages": 1, "timeout": "1m"})
    assert got.status == 200, got


@pytest.mark.parametrize("timeout", ["5 minutes", "-1s", "6m", "1e3", True])
def test_wait_refuses_what_is_no_duration_or_too_long(api: ApiServer, timeout: object) -> None:
    got = call(api.url, "POST", "/api/wait", {"messages": 1, "timeout": timeout})
    assert got.status == 400, got
    assert got.body["error"].startswith("'timeout' must be a duration from 0 to 300 seconds")
    assert "250ms, 30s, 5m, 1h" in got.body["error"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messages": 1, "sessions": 1},
        {"messages": -1},
        {"messages": 1.5},
        {"messages": 1, "timeout": -1},
        {"messages": 1, "timeout": "five"},
        {"messages": 1, "timeout": 301},
        {"messages": 1, "until": 3},
    ],
)
def test_wait_checks_its_arguments(api: ApiServer, body: dict[str, object]) -> None:
    got = call(api.url, "POST", "/api/wait", body)
    assert got.status == 400, got
    assert got.body["error"]


def test_a_pending_wait_does_not_block_other_calls(api: ApiServer) -> None:
    results: list[Answer] = []
    waiter = threading.Thread(
        target=lambda: results.append(
            call(api.url, "POST", "/api/wait", {"messages": 1, "timeout": 3})
        )
    )
    waiter.start()
    try:
        time.sleep(0.1)
        started = time.monotonic()
        assert get(api, "/api/health").status == 200
        assert time.monotonic() - started < 0.5
        send_one(api.server)
    finally:
        waiter.join(5)
    assert results[0].status == 200


# -- errors and guards -----------------------------------------------------------------------------


def test_unknown_path_is_404_and_lists_the_endpoints(api: ApiServer) -> None:
    got = get(api, "/api/nope")
    assert got.status == 404
    assert "/api/messages" in got.body["error"]
    assert get(api, "/nope").status == 404


def test_trailing_slash_is_tolerated_and_unknown_query_parameters_are_not(api: ApiServer) -> None:
    assert get(api, "/api/health/").status == 200
    got = get(api, "/api/sessions?x=1")
    assert got.status == 400
    assert "unknown query parameter(s): x" in got.body["error"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("DELETE", "/api/reset", "POST"), ("POST", "/api/scenario", "GET, HEAD, PUT")],
)
def test_wrong_method_is_405_with_allow(api: ApiServer, method: str, path: str, allow: str) -> None:
    got = call(api.url, method, path, {})
    assert got.status == 405
    assert got.headers["Allow"] == allow


def test_origin_is_refused(api: ApiServer) -> None:
    for method, path in (("GET", "/api/messages"), ("POST", "/api/reset"), ("GET", "/api/health")):
        got = call(api.url, method, path, headers={"Origin": "https://evil.example"})
        assert got.status == 403, (method, path)
        assert "Origin" in got.body["error"]
    got = call(api.url, "OPTIONS", "/api/reset", headers={"Origin": "http://localhost:3000"})
    assert got.status == 403
    # another port on the same host is another origin, and "null" (a sandboxed frame) is none
    for origin in (f"http://127.0.0.1:{api.port + 1}", "null", f"https://127.0.0.1:{api.port}"):
        got = call(api.url, "POST", "/api/reset", headers={"Origin": origin})
        assert got.status == 403, origin


def test_the_sidecars_own_page_may_call_it(api: ApiServer) -> None:
    own = f"http://127.0.0.1:{api.port}"
    got = call(api.url, "POST", "/api/reset", headers={"Origin": own})
    assert got.status == 200
    got = call(api.url, "PUT", "/api/scenario", {"name": "default"}, headers={"Origin": own})
    assert got.status == 200


def test_dns_names_are_refused_on_loopback(api: ApiServer) -> None:
    got = get(api, "/api/messages", headers={"Host": f"evil.example:{api.port}"})
    assert got.status == 403
    assert "DNS rebinding" in got.body["error"]
    for host in (f"localhost:{api.port}", f"127.0.0.1:{api.port}", "127.0.0.1"):
        assert get(api, "/api/messages", headers={"Host": host}).status == 200


@pytest.fixture
def token_api(shared_server: Server) -> Iterator[ApiServer]:
    with ApiServer(shared_server, token="s3cret") as api:
        yield api


def test_token_is_required_except_for_health(token_api: ApiServer) -> None:
    got = get(token_api, "/api/messages")
    assert got.status == 401
    assert got.headers["WWW-Authenticate"].startswith("Bearer")
    assert get(token_api, "/api/messages", token="wrong").status == 401
    assert get(token_api, "/api/messages", token="s3cret").status == 200
    assert call(token_api.url, "POST", "/api/reset").status == 401
    basic = {"Authorization": "Basic czNjcmV0"}
    assert get(token_api, "/api/messages", headers=basic).status == 401
    assert get(token_api, "/api/health").status == 200
    # Origin is refused even with the right token
    assert get(token_api, "/api/messages", token="s3cret", headers={"Origin": "x"}).status == 403


# -- the CA of a TLS scenario ----------------------------------------------------------------------


def test_tls_ca_is_the_pem_that_verifies_the_generated_certificate(api: ApiServer) -> None:
    api.server.use("tls-required")
    got = get(api, "/api/tls/ca")
    assert got.status == 200
    assert got.headers["Content-Type"] == PEM_TYPE
    assert got.headers["Cache-Control"] == "no-store"
    assert got.body == api.server.tls_ca_pem
    assert got.body.startswith("-----BEGIN CERTIFICATE-----")
    # trusting only this PEM, a client verifies the server, hostname checks on
    context = ssl.create_default_context(cadata=got.body)
    assert context.check_hostname
    with smtplib.SMTP(api.server.host, api.server.port, timeout=TIMEOUT) as client:
        client.starttls(context=context)
        client.sendmail("a@x.test", ["b@y.test"], b"Subject: tls\r\n\r\nhi\r\n")
    (session,) = api.server.journal.wait(lambda j: [s for s in j.sessions() if s.ended], TIMEOUT)
    assert session.tls
    assert get(api, "/api/sessions").body["sessions"][0]["tls"] is True


def test_tls_ca_is_404_without_tls(api: ApiServer) -> None:
    got = get(api, "/api/tls/ca")
    assert (got.status, got.body["reason"]) == (404, "no-tls")
    assert "'default' has no server.tls" in got.body["error"]


def test_tls_ca_is_404_with_the_scenarios_own_certificate(api: ApiServer, tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    cert = trustme.CA().issue_cert("localhost", "127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    api.server.use({"server": {"tls": {"certificate": str(tmp_path / "server.pem")}}})
    got = get(api, "/api/tls/ca")
    assert (got.status, got.body["reason"]) == (404, "own-certificate")
    assert str(tmp_path / "server.pem") in got.body["error"]


def raw_http(api: ApiServer, data: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", api.port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        out = b""
        for _ in range(100):
            chunk = sock.recv(65536)
            if not chunk:
                break
            out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_body_limits(api: ApiServer) -> None:
    # (a YAML scenario may be bigger: test_scenario_size.py)
    big = b"x" * (MAX_BODY + 1)
    status, body = raw_http(
        api,
        b"PUT /api/scenario HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(big)}\r\n\r\n".encode()
        + big,
    )
    assert status == 413
    assert b"too large" in body


def chunked(api: ApiServer, path: str, pieces: list[bytes]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=TIMEOUT)
    try:
        headers = {"Content-Type": "application/json"}
        conn.request("POST", path, body=iter(pieces), headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_chunked_bodies_are_read(api: ApiServer) -> None:
    status, body = chunked(api, "/api/wait", [b'{"sessions": ', b'0, "timeout": 1}'])
    assert (status, body.count(b'"count": 0')) == (200, 1)
    status, body = chunked(api, "/api/reset", [b"x" * 65536] * (MAX_BODY // 65536 + 1))
    assert status == 413
    assert b"too large" in body
    status, body = raw_http(
        api,
        b"POST /api/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\n{}\r\n0\r\n\r\n",
    )
    assert status == 400, body


def test_malformed_requests_get_a_400_and_a_close(api: ApiServer) -> None:
    # raw_http reads to the end: these return only because the server closes the connection
    status, body = raw_http(api, b"GET /a b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert status == 400
    status, body = raw_http(api, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: x\r\n\r\n")
    assert (status, b"Duplicate 'Host'" in body) == (400, True)
    status, body = raw_http(api, b"BREW /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert status == 400
    assert not api.server.errors


def test_a_bug_in_a_handler_is_a_500_and_reaches_the_server_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Server("default") as server, ApiServer(server) as api:

        def broken(record: object, message: object = None, **_: object) -> object:
            raise ZeroDivisionError("boom")

        with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
            client.noop()
        SmtpFake(server).wait_for_sessions(1)
        monkeypatch.setattr(listings, "session_to_json", broken)
        got = get(api, "/api/sessions")
        assert got.status == 500
        assert "ZeroDivisionError: boom" in got.body["error"]
        assert len(server.errors) == 1
        assert "boom" in server.errors[0].traceback


def test_head_answers_like_get_without_a_body(api: ApiServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=TIMEOUT)
    try:
        conn.request("HEAD", "/api/health")
        resp = conn.getresponse()
        assert (resp.status, resp.headers["Content-Type"]) == (200, "application/json")
        assert resp.read() == b""
    finally:
        conn.close()


def test_a_tls_scenario_without_trustme_is_a_problem_not_a_bug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "trustme", None)  # as if not installed
    server = Server("default").start()
    try:
        with ApiServer(server) as fresh:  # a fresh CA: none made yet
            got = call(fresh.url, "PUT", "/api/scenario", {"name": "tls-required"})
            assert got.status == 400, got
            assert "trustme" in got.body["problems"][0]
            assert server.scenario.name == "default"
            assert not server.errors
    finally:
        server.stop()
