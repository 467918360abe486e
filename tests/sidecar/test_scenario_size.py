"""A scenario uploaded to ``PUT /api/scenario`` meets one size limit, the scenario's own (as for
a file: ``MAX_SCENARIO_BYTES``), told in the loader's words, not the API's 1 MiB body limit
first; other bodies keep that limit."""

from __future__ import annotations

import http.client
import json

from smtpfake.http import ApiServer
from smtpfake.http.app import MAX_BODY
from smtpfake.scenario.limits import MAX_SCENARIO_BYTES

from .conftest import TIMEOUT, call

#: a scenario with one rule, padded with a comment to ``size`` bytes
HEAD = "summary: s\nexpect: e\nrules:\n  - {on: rcpt, reply: '550 5.1.1 padded'}\n"


def padded(size: int) -> bytes:
    return (HEAD + "#" + "x" * (size - len(HEAD) - 2) + "\n").encode()


def test_an_upload_may_be_as_big_as_a_scenario_file(api: ApiServer) -> None:
    data = padded(MAX_BODY * 2)
    got = call(api.url, "PUT", "/api/scenario", raw=data, content_type="text/yaml")
    assert got.status == 200, got
    assert api.server.scenario.rules[0].label == "rule 1 (on rcpt)"
    # the largest a scenario may be is taken, a byte more is not
    assert (
        call(
            api.url,
            "PUT",
            "/api/scenario",
            raw=padded(MAX_SCENARIO_BYTES),
            content_type="text/yaml",
        ).status
        == 200
    )


def test_a_bigger_one_is_told_the_scenario_limit_and_what_to_do(api: ApiServer) -> None:
    size = MAX_SCENARIO_BYTES + 1
    got = call(api.url, "PUT", "/api/scenario", raw=padded(size), content_type="text/yaml")
    assert got.status == 413
    assert got.body["error"] == (
        f"the scenario is {size:,} bytes; a scenario is at most 8,388,608 bytes (8 MiB, uploaded "
        "or as a file: smtpfake's own limit, not a setting): make it smaller, e.g. split its rules "
        "over scenarios of their own"
    )
    assert api.server.scenario.name == "default"


def test_without_a_content_length_too(api: ApiServer) -> None:
    data = padded(MAX_SCENARIO_BYTES + 1)
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=TIMEOUT)
    try:
        pieces = (data[i : i + 1 << 20] for i in range(0, len(data), 1 << 20))
        conn.request("PUT", "/api/scenario", body=pieces, headers={"Content-Type": "text/yaml"})
        resp = conn.getresponse()
        status, body = resp.status, resp.read()
    finally:
        conn.close()
    assert status == 413
    assert json.loads(body)["error"].startswith(
        "the scenario is over 8,388,608 bytes; a scenario is at most 8,388,608 bytes (8 MiB, "
    )


def test_other_bodies_keep_the_api_limit(api: ApiServer) -> None:
    big = b" " * (MAX_BODY + 1)
    got = call(api.url, "PUT", "/api/scenario", raw=big)  # JSON: a name, not a scenario
    assert got.status == 413
    assert got.body["error"] == f"body too large (at most {MAX_BODY} bytes)"
