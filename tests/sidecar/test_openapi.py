"""openapi.yaml against the running API: the same routes, and every answer as documented.

Each request below gets an answer whose status the spec lists for that operation and whose JSON
body validates against the schema the spec gives for that status. Every documented status of
every operation must be produced at least once, and the server has no route the spec lacks.
"""

from __future__ import annotations

import copy
import http.client
import json
import smtplib
import urllib.request
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import yaml

from smtpfake.http import ApiServer
from smtpfake.http.app import FLEET_ROUTES, MAX_BODY, ROUTES
from smtpfake.server import Server

from .conftest import REPO, TIMEOUT, Answer, call

TOKEN = "spec-token"
SPEC: dict[str, Any] = yaml.safe_load((REPO / "openapi.yaml").read_text(encoding="utf-8"))
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def resolve(node: Any) -> Any:
    """Inline every local $ref (the spec has no cycles)."""
    if isinstance(node, list):
        return [resolve(n) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = SPEC
        for part in ref[2:].split("/"):
            target = target[part]
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return resolve({**copy.deepcopy(target), **rest})
    return {k: resolve(v) for k, v in node.items()}


def operations() -> dict[tuple[str, str], Any]:
    return {
        (path, method.upper()): resolve(op)
        for path, item in SPEC["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


OPS = operations()


def test_the_spec_is_openapi_3_1_with_valid_schemas() -> None:
    assert SPEC["openapi"].startswith("3.1.")
    for schema in SPEC["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(resolve(schema))
    for (path, method), op in OPS.items():
        assert op.get("operationId"), (path, method)
        assert op["responses"], (path, method)
        for status, response in op["responses"].items():
            assert status.isdigit(), (path, method, status)
            assert response["content"], (path, method, status)
            for content in response["content"].values():
                schema = content["schema"]
                jsonschema.Draft202012Validator.check_schema(schema)
                if "example" in content:
                    jsonschema.validate(content["example"], schema)
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body and "example" in body:
            jsonschema.validate(body["example"], body["schema"])


def test_every_route_is_in_the_spec_and_every_spec_path_is_served() -> None:
    served = {
        ("/api" + path.replace("{mid}", "{id}").replace("{sid}", "{id}"), method)
        for table in (ROUTES, FLEET_ROUTES)
        for path, methods in table.items()
        for method in methods
    }
    assert served == set(OPS)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ApiServer, ApiServer]]:
    """A token-guarded API over a live server, and one over a server that is not listening."""
    live = Server("default").start()
    idle = Server("default")
    try:
        with ApiServer(live, token=TOKEN) as api, ApiServer(idle) as down:
            yield api, down
    finally:
        live.stop()


def example(path: str, method: str, ctype: str = "application/json") -> Any:
    return OPS[(path, method)]["requestBody"]["content"][ctype]["example"]


def send_mail(server: Server) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        body = b"Subject: spec\r\n\r\nbody\r\n"
        client.sendmail("a@x.test", ["b@y.test"], body, mail_options=["BODY=8BITMIME"])


def chunked(api: ApiServer, method: str, path: str) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=TIMEOUT)
    try:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
        conn.request(method, path, body=iter([b"{}"]), headers=headers)
        resp = conn.getresponse()
        return Answer(resp.status, dict(resp.getheaders()), json.loads(resp.read()))
    finally:
        conn.close()


def test_every_answer_is_documented_and_matches_its_schema(
    servers: tuple[ApiServer, ApiServer],
) -> None:
    api, down = servers
    server = api.server
    url = api.url
    auth: dict[str, Any] = {"token": TOKEN}
    seen: set[tuple[str, str, str]] = set()

    def check(path: str, method: str, answer: Answer, status: int) -> None:
        assert answer.status == status, (path, method, answer)
        op = OPS[(path, method)]
        documented = op["responses"]
        assert str(answer.status) in documented, f"{method} {path} -> {answer} not in the spec"
        content = documented[str(answer.status)]["content"]
        ctype = answer.headers["Content-Type"]
        assert ctype in content, f"{method} {path} -> {answer.status} as {ctype} not in the spec"
        jsonschema.validate(answer.body, content[ctype]["schema"])
        seen.add((path, method, str(answer.status)))

    def concrete(path: str) -> str:
        return path.replace("{id}", "main" if path.startswith("/api/servers") else "1")

    def check_at(path: str, method: str, answer: Answer, status: int, at: str) -> None:
        check(path, method, answer, status)
        assert at  # the concrete path asked

    server.reset()
    # guards on every operation
    for path, method in OPS:
        at = concrete(path)
        if "401" in OPS[(path, method)]["responses"]:
            check(path, method, call(url, method, at), 401)
        got = call(url, method, at, headers={"Origin": "https://page.example"}, **auth)
        check(path, method, got, 403)
        responses = OPS[(path, method)]["responses"]
        if "413" in responses:
            big = b"{" + b" " * MAX_BODY + b"}"
            check(path, method, call(url, method, at, raw=big, **auth), 413)
        if "415" in responses:
            got = call(url, method, at, raw=b"a=1", content_type="text/plain", **auth)
            check(path, method, got, 415)
        if "400" in responses and "requestBody" in OPS[(path, method)]:
            check(path, method, call(url, method, path, raw=b"{not json", **auth), 400)

    check("/api/health", "GET", call(url, "GET", "/api/health"), 200)
    check("/api/health", "GET", call(down.url, "GET", "/api/health"), 503)
    check("/api/scenario", "GET", call(url, "GET", "/api/scenario", **auth), 200)

    put = ("/api/scenario", "PUT")
    check(*put, call(url, "PUT", put[0], example(*put), **auth), 200)
    yaml_body = example(*put, "application/yaml").encode()
    got = call(url, "PUT", put[0], raw=yaml_body, content_type="application/yaml", **auth)
    check(*put, got, 200)
    got = call(
        url,
        "PUT",
        put[0],
        raw=b"summary: x\nexpect: y\nrules: [{on: rcptt, reply: 550}]\n",
        content_type="text/yaml",
        **auth,
    )
    check(*put, got, 400)
    assert got.body["problems"]
    # a parameter value the scenario does not take: the 400 also carries it as the caller's
    got = call(url, "PUT", put[0], {"name": "greylisting", "params": {"dealy": 5}}, **auth)
    check(*put, got, 400)
    assert got.body["settings"] == [
        "dealy=5: this scenario has no parameter named 'dealy'; did you mean 'delay'? "
        "(declared: delay)"
    ]
    got = call(url, "PUT", put[0], {"name": "no-such-scenario", "params": {"x": 1}}, **auth)
    check(*put, got, 400)
    assert got.body["details"][0]["field"] == "name"
    got = call(url, "PUT", put[0], {"name": "greylisting", "params": {"delay": "soon"}}, **auth)
    check(*put, got, 400)
    assert got.body["details"][0]["field"] == "params.delay"
    assert got.body["settings"][0].startswith("delay=soon: ")
    check(*put, call(url, "PUT", put[0], {"name": "default"}, **auth), 200)

    check("/api/scenarios", "GET", call(url, "GET", "/api/scenarios", **auth), 200)

    ca = ("/api/tls/ca", "GET")
    check(*ca, call(url, "GET", ca[0], **auth), 404)  # default: no TLS
    server.use("tls-required")
    check(*ca, call(url, "GET", ca[0], **auth), 200)
    server.use("default")

    send_mail(server)
    wait = ("/api/wait", "POST")
    check(*wait, call(url, "POST", wait[0], example(*wait), **auth), 200)
    check(*wait, call(url, "POST", wait[0], {"sessions": 1, "timeout": 2}, **auth), 200)
    check(*wait, call(url, "POST", wait[0], {"messages": 5, "timeout": 0}, **auth), 408)
    check("/api/sessions", "GET", call(url, "GET", "/api/sessions", **auth), 200)
    check("/api/sessions", "GET", call(url, "GET", "/api/sessions?order=sideways", **auth), 400)
    got = call(url, "GET", "/api/sessions?include=exchanges", **auth)
    check("/api/sessions", "GET", got, 200)
    assert got.body["sessions"][0]["exchanges"], "a session's exchanges were validated"
    check("/api/messages", "GET", call(url, "GET", "/api/messages", **auth), 200)
    got = call(url, "GET", "/api/journal", **auth)
    check("/api/journal", "GET", got, 200)
    assert got.body["counts"]["messages_accepted"] == 1
    got = call(url, "GET", "/api/sessions", **auth)
    assert got.body["sessions"][0]["messages"], "a session with a message was validated"
    check("/api/reset", "POST", call(url, "POST", "/api/reset", **auth), 200)
    check("/api/reset", "POST", call(url, "POST", "/api/reset", {}, **auth), 200)
    check("/api/reset", "POST", chunked(api, "POST", "/api/reset"), 200)

    # messages: list filters, one, raw, delete
    msgs = ("/api/messages", "GET")
    check(*msgs, call(url, "GET", "/api/messages?colour=red", **auth), 400)
    send_mail(server)
    (first,) = call(url, "GET", "/api/messages", **auth).body["messages"]
    assert "data" not in first
    assert first["mail_options"][-1] == "BODY=8BITMIME"  # a parameter was validated
    assert first["rcpt_options"] == [[]]
    with_data = call(url, "GET", "/api/messages?include=data", **auth)
    check(*msgs, with_data, 200)
    assert "data_base64" in with_data.body["messages"][0]
    check(*msgs, call(url, "GET", "/api/messages?include=body", **auth), 400)
    one = ("/api/messages/{id}", "GET")
    check(*one, call(url, "GET", f"/api/messages/{first['id']}", **auth), 200)
    check(*one, call(url, "GET", "/api/messages/x", **auth), 400)
    check(*one, call(url, "GET", "/api/messages/999", **auth), 404)
    raw = ("/api/messages/{id}/raw", "GET")
    check(*raw, call(url, "GET", "/api/messages/x/raw", **auth), 400)
    check(*raw, call(url, "GET", "/api/messages/999/raw", **auth), 404)
    with urllib.request.urlopen(
        urllib.request.Request(
            f"{url}/api/messages/{first['id']}/raw", headers={"Authorization": f"Bearer {TOKEN}"}
        ),
        timeout=TIMEOUT,
    ) as resp:
        assert resp.headers["Content-Type"] in OPS[raw]["responses"]["200"]["content"]
        seen.add((*raw, "200"))
    dele = ("/api/messages/{id}", "DELETE")
    check(*dele, call(url, "DELETE", f"/api/messages/{first['id']}", **auth), 200)
    check(*dele, call(url, "DELETE", "/api/messages/x", **auth), 400)
    check(*dele, call(url, "DELETE", f"/api/messages/{first['id']}", **auth), 404)
    check("/api/messages", "DELETE", call(url, "DELETE", "/api/messages", **auth), 200)

    # events: a stream; its 200 is read as one
    ev = ("/api/events", "GET")
    check(*ev, call(url, "GET", "/api/events?x=1", **auth), 400)
    with urllib.request.urlopen(
        urllib.request.Request(f"{url}/api/events", headers={"Authorization": f"Bearer {TOKEN}"}),
        timeout=TIMEOUT,
    ) as resp:
        assert resp.headers["Content-Type"] in OPS[ev]["responses"]["200"]["content"]
        assert resp.readline().startswith(b"retry:")
        seen.add((*ev, "200"))

    # the clock
    check("/api/clock", "GET", call(url, "GET", "/api/clock", **auth), 200)
    clock = ("/api/clock", "POST")
    check(*clock, call(url, "POST", "/api/clock", example(*clock), **auth), 200)
    check(*clock, call(url, "POST", "/api/clock", {"advance": -1}, **auth), 400)

    # servers on demand
    made = ("/api/servers", "POST")
    got = call(url, "POST", "/api/servers", example(*made), **auth)
    check(*made, got, 201)
    sid = got.body["id"]
    check(*made, call(url, "POST", "/api/servers", {"scenario": "nope"}, **auth), 400)
    check("/api/servers", "GET", call(url, "GET", "/api/servers", **auth), 200)
    one_server = ("/api/servers/{id}", "GET")
    check(*one_server, call(url, "GET", f"/api/servers/{sid}", **auth), 200)
    check(*one_server, call(url, "GET", "/api/servers/zz", **auth), 404)
    gone = ("/api/servers/{id}", "DELETE")
    check(*gone, call(url, "DELETE", "/api/servers/main", **auth), 400)
    check(*gone, call(url, "DELETE", f"/api/servers/{sid}", **auth), 200)
    check(*gone, call(url, "DELETE", f"/api/servers/{sid}", **auth), 404)
    api.fleet.ports = range(0)  # no port left: the 503
    check(*made, call(url, "POST", "/api/servers", {}, **auth), 503)
    api.fleet.ports = None

    documented = {
        (path, method, status) for (path, method), op in OPS.items() for status in op["responses"]
    }
    assert documented - seen == set(), "documented answers this test never produced"
    assert not server.errors, server.errors


def test_undocumented_paths_and_methods_answer_with_the_error_schema(
    servers: tuple[ApiServer, ApiServer],
) -> None:
    api, _ = servers
    error = resolve({"$ref": "#/components/schemas/Error"})
    for method, path, status in (
        ("GET", "/api/unknown", 404),
        ("PATCH", "/api/messages", 405),
        ("PUT", "/api/wait", 405),
    ):
        got = call(api.url, method, path, token=TOKEN)
        assert got.status == status
        jsonschema.validate(got.body, error)
