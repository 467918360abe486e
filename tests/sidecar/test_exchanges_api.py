"""``GET /api/sessions?include=exchanges``: each line the client sent with the reply that answered
it, as ``SessionRecord.exchanges()`` pairs them in-process, over real HTTP; the Python client's
sessions pair the same (their transcripts come whole)."""

from __future__ import annotations

import smtplib
import socket

from smtpfake.http import ApiServer
from smtpfake.remote import RemoteSmtpFake
from smtpfake.serialize import exchange_to_json

from .conftest import call


def _send_one(api: ApiServer) -> None:
    with smtplib.SMTP(api.server.host, api.server.port, timeout=5) as client:
        client.sendmail("a@example.test", ["b@example.test"], b"Subject: hi\r\n\r\nbody\r\n")
    assert api.server.settle(timeout=5)


def test_each_command_comes_with_its_reply(api: ApiServer) -> None:
    _send_one(api)
    got = call(api.url, "GET", "/api/sessions?include=exchanges")
    assert got.status == 200, got
    (session,) = got.body["sessions"]
    pairs = [(e["command"]["text"], e["code"]) for e in session["exchanges"]]
    assert [text.split(" ")[0] for text, _ in pairs] == [
        "ehlo", "mail", "rcpt", "data", ".", "QUIT"
    ]  # fmt: skip
    assert [code for _, code in pairs] == [250, 250, 250, 354, 250, 221]
    assert session["exchanges"][-1]["reply"]["text"].startswith("221 2.0.0")
    (record,) = api.server.sessions
    assert session["exchanges"] == [exchange_to_json(e) for e in record.exchanges()]


def test_a_line_nothing_answered_has_a_null_reply(api: ApiServer) -> None:
    with socket.create_connection(api.server.address, timeout=5) as sock:
        sock.recv(1000)  # the greeting: it answers no command
        sock.sendall(b"QUIT\r\n")
        assert sock.recv(1000).startswith(b"221 ")
        sock.sendall(b"NOOP\r\n")  # after the server's last reply: read, never answered
    assert api.server.settle(timeout=5)
    got = call(api.url, "GET", "/api/sessions?include=exchanges")
    exchanges = got.body["sessions"][0]["exchanges"]
    assert [(e["command"]["text"], e["code"]) for e in exchanges] == [("QUIT", 221), ("NOOP", None)]
    assert exchanges[1]["reply"] is None


def test_without_include_a_listing_is_as_before_and_a_bad_include_is_a_400(
    api: ApiServer,
) -> None:
    _send_one(api)
    plain = call(api.url, "GET", "/api/sessions")
    assert "exchanges" not in plain.body["sessions"][0]
    bad = call(api.url, "GET", "/api/sessions?include=data")
    assert bad.status == 400, bad
    assert bad.body["error"] == "'include' may be exchanges, got 'data'"


def test_the_python_clients_sessions_pair_as_in_process(api: ApiServer) -> None:
    _send_one(api)
    (remote,) = RemoteSmtpFake(api.url).sessions
    (local,) = api.server.sessions
    assert remote.exchanges() == local.exchanges()
    assert [e.code for e in remote.exchanges()] == [250, 250, 250, 354, 250, 221]
