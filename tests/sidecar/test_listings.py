"""Listings are summaries, small whatever the messages' size; data comes on demand (``/raw``,
``?include=data``), streamed. ``GET /api/messages`` once embedded every message's data twice
(5 x 30 MiB: 1.3 GiB at peak, SMTP stalled for seconds)."""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import pickle
import smtplib

import pytest

from smtpfake.control import SmtpFake
from smtpfake.engine.records import Message
from smtpfake.http import ApiServer, inputs, listings
from smtpfake.remote import RemoteError, RemoteMessage, RemoteSmtpFake
from smtpfake.server import Server

from .conftest import TIMEOUT, call

MiB = 1 << 20


def big(n: int, size: int = 2 * MiB) -> bytes:
    """A message of about ``size`` bytes whose body lines begin with dots (dot-stuffed on the
    wire, RFC 5321 §4.5.2) and carry its number, so a mix-up of two messages shows."""
    head = f"From: a{n}@x.test\r\nTo: b@y.test\r\nSubject: big {n}\r\n\r\n".encode()
    line = f".{n:04d} ".encode() + b"z" * 69 + b"\r\n"
    return head + line * (size // len(line))


def fetch(api: ApiServer, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=TIMEOUT)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, dict(resp.headers), resp.read()
    finally:
        conn.close()


def send(api: ApiServer, data: bytes, to: str = "b@y.test") -> None:
    with smtplib.SMTP(api.server.host, api.server.port, timeout=TIMEOUT) as client:
        client.sendmail("a@x.test", [to], data)


def test_a_listing_of_large_messages_is_small_and_raw_is_every_byte(api: ApiServer) -> None:
    sent = [big(n) for n in range(3)]
    for data in sent:
        send(api, data)
    SmtpFake(api.server).wait_for_sessions(3)

    status, headers, body = fetch(api, "/api/messages")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert len(body) < 16 * 1024, len(body)  # 6 MiB of messages, a few kB of listing
    listed = json.loads(body)
    assert (listed["count"], listed["matching"], listed["total"]) == (3, 3, 3)
    for n, (data, summary) in enumerate(zip(sent, listed["messages"], strict=True)):
        assert not {"data", "data_base64"} & set(summary)
        assert (summary["size"], summary["from"], summary["to"]) == (
            len(data),
            f"a{n}@x.test",
            "b@y.test",
        )
        status, headers, raw = fetch(api, f"/api/messages/{summary['id']}/raw")
        assert (status, headers["Content-Type"]) == (200, "message/rfc822")
        assert int(headers["Content-Length"]) == len(raw)
        assert raw == data  # after dot-unstuffing, exactly what was sent

    status, _, body = fetch(api, "/api/sessions")
    assert status == 200 and len(body) < 64 * 1024, len(body)
    sessions = json.loads(body)["sessions"]
    ids = [m["id"] for s in sessions for m in s["messages"]]
    assert ids == [m["id"] for m in listed["messages"]]
    assert not any("data" in m for s in sessions for m in s["messages"])


def test_include_data_streams_whole_messages_and_paging_and_filters_hold(
    api: ApiServer,
) -> None:
    sent = [big(n, size=MiB // 2) for n in range(4)]
    for n, data in enumerate(sent):
        send(api, data, to=f"r{n % 2}@y.test")
    got = call(api.url, "GET", "/api/messages?include=data&to=r1@&order=newest&limit=1")
    assert got.status == 200, got
    assert (got.body["count"], got.body["matching"], got.body["total"]) == (1, 2, 4)
    (one,) = got.body["messages"]
    assert one["subject"] == "big 3"
    assert base64.b64decode(one["data_base64"]) == sent[3]
    assert one["data"] == sent[3].decode("ascii")
    page = call(api.url, "GET", "/api/messages?include=data&offset=1&limit=2").body
    assert [m["subject"] for m in page["messages"]] == ["big 1", "big 2"]
    assert [base64.b64decode(m["data_base64"]) for m in page["messages"]] == sent[1:3]
    assert call(api.url, "GET", "/api/messages?include=everything").status == 400


def test_data_that_is_not_utf8_streams_as_replaced_text_and_exact_base64(
    api: ApiServer,
) -> None:
    # a two-byte character split across the streamer's slices, and bytes that are no UTF-8
    head = b"Subject: bytes\r\n\r\n"
    from smtpfake.http.message_data import SLICE

    body = b"a" * (SLICE - len(head) - 1) + "é".encode() + b"\xff\xfe\r\n"
    with smtplib.SMTP(api.server.host, api.server.port, timeout=TIMEOUT) as client:
        client.ehlo()
        client.sendmail("a@x.test", ["b@y.test"], head + body, mail_options=["BODY=8BITMIME"])
    (one,) = call(api.url, "GET", "/api/messages?include=data").body["messages"]
    assert base64.b64decode(one["data_base64"]) == head + body
    assert one["data"] == (head + body).decode("utf-8", "replace")
    assert "é" in one["data"]


def test_one_large_message_in_detail(api: ApiServer) -> None:
    data = big(7)
    send(api, data)
    (summary,) = call(api.url, "GET", "/api/messages").body["messages"]
    # (parsing 2 MiB and sending it back as JSON: seconds when CI's machine is busy)
    got = call(api.url, "GET", f"/api/messages/{summary['id']}", timeout=60)
    assert got.status == 200, got
    assert got.body["size"] == len(data)
    assert got.body["text"] == data.split(b"\r\n\r\n", 1)[1].decode()


def test_the_remote_client_fetches_data_on_first_read(api: ApiServer) -> None:
    sent = [big(n, size=MiB // 4) for n in range(2)]
    for data in sent:
        send(api, data)
    remote = RemoteSmtpFake(api.url)
    waited = remote.wait_for_messages(2, timeout=TIMEOUT)
    listed = remote.messages
    assert all(isinstance(m, RemoteMessage) for m in (*waited, *listed))
    assert [m.data for m in listed] == sent
    assert [m.subject for m in waited] == ["big 0", "big 1"]
    assert listed == waited  # equal records, data included
    (session,) = [s for s in remote.sessions if s.messages][:1]
    assert session.messages[0].data == sent[0]

    # a message deleted before its data was read: the error says so
    unread = remote.messages[1]
    assert isinstance(unread, RemoteMessage)
    assert call(api.url, "DELETE", f"/api/messages/{unread.id}").status == 200
    with pytest.raises(RemoteError) as caught:
        _ = unread.data
    assert caught.value.status == 404
    assert f"no message {unread.id}" in str(caught.value)


def test_the_remote_client_reads_every_page(
    api: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page holds at most 10,000 and a sidecar may keep more (serve --journal-messages): the
    remote client's messages and sessions were the first page only, silently."""
    monkeypatch.setattr(inputs, "MAX_LIMIT", 2)
    for n in range(5):
        send(api, f"Subject: page {n}\r\n\r\nx\r\n".encode())
    remote = RemoteSmtpFake(api.url)
    assert [s.index for s in remote.wait_for_sessions(5, timeout=TIMEOUT)] == [1, 2, 3, 4, 5]
    assert len(remote.wait_for_messages(5, timeout=TIMEOUT)) == 5
    assert len(call(api.url, "GET", "/api/messages").body["messages"]) == 2  # one page
    assert [m.subject for m in remote.messages] == [f"page {n}" for n in range(5)]
    assert [s.index for s in remote.sessions] == [1, 2, 3, 4, 5]


def test_a_remote_message_shows_and_pickles_as_the_record_it_stands_for(api: ApiServer) -> None:
    """Its repr made a request for the data: a message reset since raised RemoteError from
    repr() (a failing assert's report, a log line); pickling it failed on the client's lock."""
    sent = big(3, size=MiB // 8)
    send(api, sent)
    remote = RemoteSmtpFake(api.url)
    (listed,) = remote.wait_for_messages(1, timeout=TIMEOUT)
    assert isinstance(listed, RemoteMessage)
    copied = pickle.loads(pickle.dumps(listed))
    assert type(copied) is Message and copied.data == sent
    assert dataclasses.astuple(copied) == dataclasses.astuple(listed)
    (unread,) = remote.messages
    assert isinstance(unread, RemoteMessage)
    remote.reset()
    shown = repr(unread)  # no request: the sidecar no longer has it
    assert shown.startswith(f"RemoteMessage(id={unread.id}, mail_from='a@x.test', ")
    assert f"data=<{len(sent)} octets, not read yet>" in shown
    assert "data=b'From: a3@x.test" in repr(listed)  # read above: shown as read
    with pytest.raises(RemoteError):
        pickle.dumps(unread)  # the data is needed, and gone: said, not pickled without it


def test_a_bug_midway_through_a_listing_cuts_it_and_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = listings.session_to_json
    made: list[int] = []

    def fails_second(record: object, message: object, **_: object) -> object:
        made.append(1)
        if len(made) == 2:
            raise ZeroDivisionError("boom")
        return real(record, message)  # type: ignore[arg-type]

    with Server("default") as server, ApiServer(server) as api:
        for _ in range(3):
            with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
                client.noop()
        SmtpFake(server).wait_for_sessions(3)
        monkeypatch.setattr(listings, "session_to_json", fails_second)
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=TIMEOUT)
        try:
            conn.request("GET", "/api/sessions")
            resp = conn.getresponse()
            assert resp.status == 200  # the first session went out before the bug
            with pytest.raises((http.client.IncompleteRead, ConnectionError)):
                resp.read()  # never a short answer that parses as whole
        finally:
            conn.close()
        assert len(server.errors) == 1
        assert "boom" in server.errors[0].traceback


def test_the_parse_worker_answers_a_bug_as_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from smtpfake.http import parse_worker

    def broken(numbered: object) -> bytes:
        raise ZeroDivisionError("boom")

    data = big(1, size=4096)
    head = {"id": 3, "mail_from": "a@x.test", "rcpt_tos": ["b@y.test"], "session": 1}
    head |= {"time": 1.0, "queue_id": "Q3", "size": len(data)}
    head |= {"mail_options": ["BODY=8BITMIME"], "rcpt_options": [["NOTIFY=NEVER"]]}
    asked = (json.dumps(head).encode() + b"\n" + data) * 2
    answers = io.BytesIO()
    parse_worker.serve(io.BytesIO(asked), answers)  # two questions: a good one ...
    first, rest = answers.getvalue().split(b"\n", 1)
    size = json.loads(first)["size"]
    assert json.loads(first)["ok"] is True
    detail = json.loads(rest[:size])
    assert detail["subject"] == "big 1"
    assert detail["envelope"]["mail_options"] == ["BODY=8BITMIME"]
    assert detail["envelope"]["rcpt_options"] == [["NOTIFY=NEVER"]]

    monkeypatch.setattr(parse_worker, "detail_bytes", broken)
    answers = io.BytesIO()
    parse_worker.serve(io.BytesIO(asked[: len(asked) // 2]), answers)  # ... and a bug
    first, rest = answers.getvalue().split(b"\n", 1)
    assert json.loads(first)["ok"] is False
    assert b"ZeroDivisionError: boom" in rest


@pytest.mark.parametrize("path", ["/api/messages", "/api/sessions", "/api/messages/{id}/raw"])
def test_head_of_a_streamed_answer_has_no_body(api: ApiServer, path: str) -> None:
    # a streamed body after a HEAD answer would be read as the next answer's status line
    send(api, big(1, size=4096))
    (summary,) = call(api.url, "GET", "/api/messages").body["messages"]
    target = path.format(id=summary["id"])
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=TIMEOUT)
    try:
        conn.request("HEAD", target)
        head = conn.getresponse()
        assert (head.status, head.read()) == (200, b"")
        conn.request("GET", target)  # the same connection: still in step
        got = conn.getresponse()
        assert got.status == 200
        assert len(got.read()) > 0
    finally:
        conn.close()


def test_deletions_before_a_reset_outside_the_api_do_not_hold_a_wait_back(api: ApiServer) -> None:
    """The API counted every message it ever deleted against later waits: after a reset that
    did not come through it (the embedding code's server.reset(), a test fixture's), a wait for
    N messages saw N - 1 and timed out."""
    send(api, b"Subject: before\r\n\r\nx\r\n")
    (first,) = RemoteSmtpFake(api.url).wait_for_messages(1, timeout=TIMEOUT)
    assert isinstance(first, RemoteMessage)
    assert call(api.url, "DELETE", f"/api/messages/{first.id}").status == 200
    api.server.reset()
    for n in range(2):
        send(api, f"Subject: after {n}\r\n\r\nx\r\n".encode())
    got = call(api.url, "POST", "/api/wait", {"messages": 2, "timeout": 2})
    assert got.status == 200, got
    assert [m["subject"] for m in got.body["messages"]] == ["after 0", "after 1"]
