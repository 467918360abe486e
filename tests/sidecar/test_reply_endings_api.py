"""A reply's line endings through the HTTP API (fresh10 F6): ``GET /api/sessions``, the event
stream's ``reply`` and ``RemoteSmtpFake`` carry ``endings`` on a reply whose lines did not all
end in CRLF, and only there, as openapi.yaml documents."""

from __future__ import annotations

import socket
from typing import Any

import jsonschema
import yaml

from smtpfake.http import ApiServer
from smtpfake.remote import RemoteSmtpFake

from ..support.sse import Stream
from .conftest import REPO, TIMEOUT, call

SCHEMAS: dict[str, Any] = yaml.safe_load((REPO / "openapi.yaml").read_text(encoding="utf-8"))[
    "components"
]["schemas"]


def test_the_api_the_events_and_the_remote_record_carry_a_reply_s_endings(
    api: ApiServer,
) -> None:
    server = api.server
    server.use({"rules": [{"on": "noop", "raw": "250-a\n250 b"}]})
    stream = Stream(api.url + "/api/events", lambda got: got[-1]["event"] == "closed", TIMEOUT)
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as client:
        reader = client.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        client.sendall(b"NOOP\r\n")
        assert reader.read(11) == b"250-a\n250 b"
        client.sendall(b"QUIT\r\n")
        assert reader.readline() == b"221 2.0.0 Bye\r\n"
        reader.close()
    stream.thread.join(TIMEOUT)
    assert server.settle(TIMEOUT)

    replies = [e for e in stream.got if e["event"] == "reply"]
    assert [e.get("endings") for e in replies] == [None, ["lf", "none"], None, None]
    for event in replies:
        jsonschema.validate(event, SCHEMAS["Event"])

    got = call(api.url, "GET", "/api/sessions")
    (session,) = got.body["sessions"]
    server_side = [e for e in session["transcript"] if e["side"] == "server"]
    assert [e.get("endings") for e in server_side] == [None, ["lf", "none"], None, None]
    for entry in session["transcript"]:
        jsonschema.validate(entry, SCHEMAS["TranscriptEntry"])

    (remote,) = RemoteSmtpFake(api.url).sessions
    (entry,) = [e for e in remote.transcript if e.endings]
    assert (entry.text, entry.endings) == ("250-a\n250 b", ("lf", "none"))
    assert str(entry) == "S: 250-a   (bare LF)\nS: 250 b   (unfinished: no line ending)" + (
        "   [rule 1 (on noop)]"
    )
