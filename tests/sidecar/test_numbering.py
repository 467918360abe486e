"""Session numbers over the HTTP API after a scenario switch: unique until a reset, so
``?session=`` finds one session's messages (the user's trial found two session 1s)."""

from __future__ import annotations

import smtplib

from smtpfake.http import ApiServer

from .conftest import TIMEOUT, call


def send(api: ApiServer, subject: str) -> None:
    server = api.server
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.sendmail("a@x.test", ["b@y.test"], f"Subject: {subject}\r\n\r\nhi\r\n")


def test_messages_by_session_after_a_switch(api: ApiServer) -> None:
    send(api, "before")
    assert call(api.url, "PUT", "/api/scenario", {"name": "default"}).status == 200
    send(api, "after")
    assert call(api.url, "POST", "/api/wait", {"sessions": 2, "timeout": 2}).status == 200
    for session, queue_id in ((1, "SF000001"), (2, "SF000002")):
        got = call(api.url, "GET", f"/api/messages?session={session}").body["messages"]
        assert [(m["session"], m["queue_id"]) for m in got] == [(session, queue_id)]
    sessions = call(api.url, "GET", "/api/sessions").body["sessions"]
    assert [s["index"] for s in sessions] == [1, 2]
