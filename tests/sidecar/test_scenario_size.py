"""A scenario uploaded to ``PUT /api/scenario`` meets one size limit, the scenario's own (as for
a file: ``MAX_SCENARIO_BYTES``), told in the loader's words, not the API's 1 MiB body limit
first; other bodies keep that limit."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

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
    # a YAML scenario that came without its type (curl -T) meets this limit: told its own
    assert got.body["error"] == (
        f"body too large (at most {MAX_BODY} bytes as JSON); a YAML scenario sent with "
        f"Content-Type: application/yaml may be up to {MAX_SCENARIO_BYTES:,} bytes"
    )
    got = call(api.url, "POST", "/api/wait", raw=big)  # any other body: the API's limit
    assert (got.status, got.body["error"]) == (413, f"body too large (at most {MAX_BODY} bytes)")


def test_sessions_go_on_while_an_upload_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a scenario is pure Python (20,000 rules took 4 s): it ran on the event loop that
    `smtpfake serve` shares between the API and every SMTP session, so an open session's NOOP
    waited for the whole load (new-user pass). Arranged as serve does (one loop), the load is
    held until the NOOP's reply came: with the load on the loop, that reply never comes."""
    import asyncio
    import smtplib
    import threading

    from smtpfake.http import scenario_api
    from smtpfake.server import Server

    loading, release = threading.Event(), threading.Event()
    real = scenario_api.load_text

    def held_load(*args: object, **kwargs: object) -> object:
        loading.set()
        assert release.wait(TIMEOUT)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(scenario_api, "load_text", held_load)
    server = Server("default")
    api = ApiServer(server)
    up = threading.Event()
    stop: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def serve() -> None:  # as `smtpfake serve --api-port` runs them: one loop
        stopping = asyncio.Event()
        stop.append((asyncio.get_running_loop(), stopping))
        await api.open()
        try:
            await server.serve(stopping, up.set)
        finally:
            await api.aclose()

    runner = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    runner.start()
    assert up.wait(TIMEOUT)
    answers: list[int] = []
    try:
        with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
            upload = threading.Thread(
                target=lambda: answers.append(
                    call(
                        api.url, "PUT", "/api/scenario", raw=padded(200), content_type="text/yaml"
                    ).status
                )
            )
            upload.start()
            try:
                assert loading.wait(TIMEOUT)
                client.sock.settimeout(2.0)  # bounded: a loop held by the load never answers
                assert client.noop()[0] == 250
            finally:
                release.set()
                upload.join(TIMEOUT)
    finally:
        loop, stopping = stop[0]
        loop.call_soon_threadsafe(stopping.set)
        runner.join(TIMEOUT)
    assert answers == [200]
    assert server.scenario.rules[0].label == "rule 1 (on rcpt)"


def test_a_big_upload_through_the_remote_client_waits_for_the_load(
    api: ApiServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The sidecar answers once the scenario is loaded (40,000 rules: 16 s): RemoteSmtpFake's
    request timeout failed the call while the sidecar went on to switch (new-user pass). An
    upload gets time by its size; here the load is held 0.6 s, past the client's 0.3 s."""
    import threading

    from smtpfake.http import scenario_api
    from smtpfake.remote import RemoteSmtpFake

    real = scenario_api.load_text
    held = threading.Event()

    def slow_load(*args: object, **kwargs: object) -> object:
        held.wait(0.6)  # never set: a load that takes 0.6 s
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(scenario_api, "load_text", slow_load)
    path = tmp_path / "big.yaml"
    path.write_bytes(padded(300_000))  # 3 s more than the client's own timeout
    RemoteSmtpFake(api.url, timeout=0.3).use(path)
    assert api.server.scenario.name == "big"
