"""A request that chooses a scenario names each bad field by its own key path (issue 11 items 6, 9).

``scenario: no scenario named 'nope'``, ``params.delay: expected a duration ...``, never a
made-up ``nope:1:1:`` or a line of the sidecar's installed scenario file; every problem at once,
400, on PUT /api/scenario and POST /api/servers, under /api/servers/{id} too; curl as the README
shows it, and the Python client surfacing the problems as the API says them.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtpfake.http import ApiServer
from smtpfake.remote import RemoteSmtpFake
from smtpfake.scenario import ScenarioError

from ..support.sidecar import own_sidecar
from .conftest import REPO, Sidecar, call

DURATION = "expected a duration (seconds, or with a unit: 250ms, 30s, 5m, 1h), got str 'soon'"


@pytest.fixture
def fleet_api() -> Iterator[ApiServer]:
    with own_sidecar() as api:
        yield api


@pytest.fixture
def server_url(fleet_api: ApiServer) -> Iterator[str]:
    """A server on demand's own base URL (``/api/servers/sN``), deleted afterwards."""
    made = call(fleet_api.url, "POST", "/api/servers", {"scenario": "default"})
    assert made.status == 201, made
    yield str(made.body["url"])
    call(fleet_api.url, "DELETE", f"/api/servers/{made.body['id']}")


def fields(answer_body: dict[str, object]) -> list[tuple[str, str]]:
    details = answer_body["details"]
    assert isinstance(details, list)
    return [(d["field"], d["message"]) for d in details]


def test_put_names_the_parameter_not_the_installed_file(api: ApiServer) -> None:
    got = call(
        api.url, "PUT", "/api/scenario", {"name": "greylisting", "params": {"delay": "soon"}}
    )
    assert got.status == 400, got
    assert got.body["problems"] == [f"params.delay: {DURATION}"]
    assert got.body["error"] == f"params.delay: {DURATION}"
    assert fields(got.body) == [("params.delay", DURATION)]
    assert "greylisting.yaml" not in json.dumps(got.body)
    assert api.server.scenario.name == "default"  # unchanged


def test_every_problem_of_a_request_at_once(fleet_api: ApiServer) -> None:
    body = {"scenario": {"rules": []}, "seed": "x", "params": [1]}
    got = call(fleet_api.url, "POST", "/api/servers", body)
    assert got.status == 400, got
    assert [f for f, _ in fields(got.body)] == ["scenario", "seed", "params"]
    scenario, seed, params = got.body["problems"]
    assert scenario.startswith('scenario: must be a scenario name, e.g. {"scenario": "default"}')
    assert "upload a scenario of your own as YAML" in scenario  # a dict was sent
    assert seed == "seed: must be a whole number from 0 to 18446744073709551615, got 'x'"
    assert params == "params: must be an object of NAME: VALUE, got [1]"
    assert got.body["error"] == f"3 problems: {scenario}; {seed}; {params}"


def test_unknown_and_misspelt_parameters_each_named(fleet_api: ApiServer) -> None:
    body = {"scenario": "greylisting", "params": {"dealy": 5, "delay": "soon"}}
    got = call(fleet_api.url, "POST", "/api/servers", body)
    assert got.status == 400, got
    assert fields(got.body) == [
        ("params.dealy", "this scenario has no parameter named 'dealy'; did you mean 'delay'? "
         "(declared: delay)"),
        ("params.delay", DURATION),
    ]  # fmt: skip
    assert got.body["settings"] == [
        "dealy=5: this scenario has no parameter named 'dealy'; did you mean 'delay'? "
        "(declared: delay)",
        f"delay=soon: {DURATION}",
    ]
    assert call(fleet_api.url, "GET", "/api/servers").body["count"] == 1  # none was made


def test_a_server_on_demand_answers_the_same(server_url: str) -> None:
    got = call(server_url, "PUT", "/scenario", {"name": "nope", "seed": -1})
    assert got.status == 400, got
    (name, seed) = got.body["problems"]
    assert name.startswith("name: no scenario named 'nope' (known: ")
    assert seed.startswith("seed: must be a whole number from 0 to ")
    got = call(server_url, "PUT", "/scenario", {"name": "default", "params": {"x": 1}})
    assert got.body["problems"] == [
        "params.x: this scenario declares no parameters named 'x' (declared: none)"
    ]


def test_an_uploads_query_is_named_as_sent(api: ApiServer) -> None:
    upload = b"summary: s\nexpect: e\nparams:\n  d: {type: int, default: 1}\n" + (
        b"rules:\n  - on: connect\n    delay: ${d}\n"
    )
    got = call(
        api.url,
        "PUT",
        "/api/scenario?name=mine&seed=-1&require_docs=maybe",
        raw=upload,
        content_type="application/yaml",
    )
    assert got.body["problems"] == [
        "seed: must be a whole number from 0 to 18446744073709551615, got '-1'",
        "require_docs: must be true or false, got 'maybe'",
    ]
    got = call(
        api.url,
        "PUT",
        "/api/scenario?name=mine&param.d=x&param.e=2",
        raw=upload,
        content_type="application/yaml",
    )
    assert got.status == 400, got
    assert got.body["problems"] == [
        "param.d: expected a whole number, got str 'x'",
        "param.e: this scenario has no parameter named 'e' (declared: d)",
    ]
    # the upload's own mistakes keep their place in it
    got = call(
        api.url, "PUT", "/api/scenario?name=mine", raw=upload + b"  - on: mial\n    close: true\n",
        content_type="application/yaml",
    )  # fmt: skip
    assert got.body["problems"][0].startswith("<mine>:8:9: rules[2].on: unknown stage"), got
    assert got.body["details"][0] | {"message": ""} == {
        "file": "<mine>", "line": 8, "column": 9, "message": ""
    }  # fmt: skip


def test_a_broken_file_of_a_scenario_directory_keeps_its_place(tmp_path: Path) -> None:
    from smtpfake.server import Server

    (tmp_path / "broken.yaml").write_text("summary: s\nexpect: e\nrules: [{on: mial}]\n")
    server = Server("default", scenario_dirs=[tmp_path]).start()
    try:
        with ApiServer(server) as sidecar:
            got = call(sidecar.url, "PUT", "/api/scenario", {"name": "broken"})
    finally:
        server.stop()
    assert got.status == 400, got
    assert got.body["problems"][0].startswith(f"{tmp_path / 'broken.yaml'}:3:"), got


def readme_example() -> tuple[list[str], object]:
    """The README's curl line for a bad parameter, and the answer it shows."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        command, _, shown = block.partition("\n")
        if command.startswith("$ curl") and '"soon"' in command:
            return shlex.split(command[2:]), json.loads(shown)
    raise AssertionError("the README lost its example of a bad parameter")


def test_the_readmes_curl_example_is_what_the_sidecar_answers(sidecar: Sidecar) -> None:
    args, shown = readme_example()
    args = [a.replace("http://127.0.0.1:8025", sidecar.url) for a in args]
    done = subprocess.run(
        [*args, "--max-time", "10"], capture_output=True, timeout=20, stdin=subprocess.DEVNULL
    )
    if done.returncode == 2 and b"--json" in done.stderr:  # curl before 7.82
        pytest.skip("this curl has no --json")
    assert done.returncode == 0, done
    assert json.loads(done.stdout) == shown


def test_the_python_client_surfaces_the_problems_as_the_api_says_them(sidecar: Sidecar) -> None:
    remote = RemoteSmtpFake(sidecar.url)
    with pytest.raises(ScenarioError) as caught:
        remote.use("nope")
    assert str(caught.value).startswith("name: no scenario named 'nope' (known: ")
    assert ":1:1" not in str(caught.value)
    with pytest.raises(ScenarioError) as caught:
        remote.use("greylisting", params={"delay": "soon"})
    assert [str(p) for p in caught.value.problems] == [f"params.delay: {DURATION}"]
    with pytest.raises(ScenarioError) as caught:
        remote.new_server("greylisting", params={"delay": "soon"})
    assert [str(p) for p in caught.value.problems] == [f"params.delay: {DURATION}"]
    with pytest.raises(ScenarioError) as caught:
        remote.new_server("nope")
    assert str(caught.value).startswith("scenario: no scenario named 'nope'")
    made = remote.new_server("greylisting", params={"delay": "5m"})
    try:
        (delay,) = made.scenario()["params"]
        assert (delay["name"], delay["value"]) == ("delay", 300)
    finally:
        made.delete_server()
