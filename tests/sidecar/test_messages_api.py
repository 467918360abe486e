"""Messages as Mailpit users expect them: detail, raw, delete, filters and paging."""

from __future__ import annotations

import smtplib
import time
import urllib.request
from email.message import EmailMessage

from smtpfake.control import SmtpFake
from smtpfake.http import ApiServer

from .conftest import TIMEOUT, call


def send(api: ApiServer, subject: str, to: str = "b@y.test", sender: str = "a@x.test") -> None:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("the text part\n")
    msg.add_alternative("<p>the <b>html</b> part</p>", subtype="html")
    msg.add_attachment(b"0123456789", maintype="application", subtype="pdf", filename="r.pdf")
    server = api.server
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.send_message(msg)


def test_one_message_in_detail(api: ApiServer) -> None:
    send(api, "Detail")
    (summary,) = call(api.url, "GET", "/api/messages").body["messages"]
    got = call(api.url, "GET", f"/api/messages/{summary['id']}")
    assert got.status == 200
    body = got.body
    (m,) = api.server.messages
    assert m.mail_options[0].startswith("size=")  # smtplib declares the size (RFC 1870)
    assert body["envelope"] == {
        "mail_from": "a@x.test",
        "rcpt_tos": ["b@y.test"],
        "mail_options": list(m.mail_options),
        "rcpt_options": [[]],
    }
    assert body["subject"] == "Detail"
    assert ["Subject", "Detail"] in body["headers"]
    assert body["text"].splitlines() == ["the text part"]  # CRLF, as on the wire
    assert body["html"].strip() == "<p>the <b>html</b> part</p>"
    assert body["attachments"] == [
        {
            "name": "r.pdf",
            "type": "application/pdf",
            "size": 10,
            "inline": False,
            "content_id": None,
        }
    ]


def test_mail_and_rcpt_parameters_in_the_listing_and_the_detail(api: ApiServer) -> None:
    api.server.use({"summary": "dsn", "expect": "deliver", "server": {"extensions_add": ["DSN"]}})
    server = api.server
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.ehlo("c.test")
        assert client.mail("a@x.test", ["SMTPUTF8", "BODY=8BITMIME", "RET=HDRS"])[0] == 250
        assert client.rcpt("b@y.test")[0] == 250
        assert client.rcpt("ç@y.test", ["NOTIFY=SUCCESS,DELAY", "ORCPT=utf-8;ç@y.test"])[0] == 250
        assert client.data(b"Subject: p\r\n\r\nx\r\n")[0] == 250
    (summary,) = call(api.url, "GET", "/api/messages").body["messages"]
    mail = ["SMTPUTF8", "BODY=8BITMIME", "RET=HDRS"]
    rcpt = [[], ["NOTIFY=SUCCESS,DELAY", "ORCPT=utf-8;ç@y.test"]]
    assert (summary["rcpt_tos"], summary["mail_options"]) == (["b@y.test", "ç@y.test"], mail)
    assert summary["rcpt_options"] == rcpt
    envelope = call(api.url, "GET", f"/api/messages/{summary['id']}").body["envelope"]
    assert (envelope["mail_options"], envelope["rcpt_options"]) == (mail, rcpt)
    (session,) = call(api.url, "GET", "/api/sessions").body["sessions"]
    assert session["messages"][0]["rcpt_options"] == rcpt


def test_raw_is_the_eml_as_received(api: ApiServer) -> None:
    send(api, "Raw")
    (m,) = api.server.messages
    (summary,) = call(api.url, "GET", "/api/messages").body["messages"]
    req = urllib.request.Request(f"{api.url}/api/messages/{summary['id']}/raw?download=1")
    with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
        assert resp.headers["Content-Type"] == "message/rfc822"
        assert resp.headers["Content-Disposition"].startswith("attachment; filename=")
        assert resp.read() == m.data


def test_unknown_and_bad_ids(api: ApiServer) -> None:
    assert call(api.url, "GET", "/api/messages/99").status == 404
    got = call(api.url, "GET", "/api/messages/abc")
    assert (got.status, "'id'" in got.body["error"]) == (400, True)
    got = call(api.url, "GET", "/api/messages/" + "9" * 4301)
    assert (got.status, "'id'" in got.body["error"]) == (400, True)


def test_delete_one_and_all(api: ApiServer) -> None:
    for n in range(3):
        send(api, f"m{n}")
    ids = [m["id"] for m in call(api.url, "GET", "/api/messages").body["messages"]]
    assert len(set(ids)) == 3
    assert call(api.url, "DELETE", f"/api/messages/{ids[0]}").body == {"deleted": 1}
    assert call(api.url, "GET", f"/api/messages/{ids[0]}").status == 404
    left = call(api.url, "GET", "/api/messages").body
    assert [m["id"] for m in left["messages"]] == ids[1:]
    assert call(api.url, "DELETE", "/api/messages").body == {"deleted": 2}
    assert call(api.url, "GET", "/api/messages").body["total"] == 0
    # ids are never reused: the next message gets a new one
    send(api, "after")
    (fresh,) = call(api.url, "GET", "/api/messages").body["messages"]
    assert fresh["id"] not in ids


def test_filters_and_paging(api: ApiServer) -> None:
    send(api, "Invoice 1", to="alice@y.test")
    send(api, "Welcome", to="bob@y.test", sender="news@x.test")
    mark = time.time()
    send(api, "Invoice 2", to="alice@y.test")

    def subjects(query: str) -> list[str]:
        got = call(api.url, "GET", "/api/messages?" + query)
        assert got.status == 200, got
        return [m["subject"] for m in got.body["messages"]]

    assert subjects("to=ALICE@") == ["Invoice 1", "Invoice 2"]
    assert subjects("from=news") == ["Welcome"]
    assert subjects("subject=invoice&to=alice") == ["Invoice 1", "Invoice 2"]
    assert subjects("session=2") == ["Welcome"]
    assert subjects(f"since={mark}") == ["Invoice 2"]
    assert subjects("since=2000-01-01T00:00:00Z") == ["Invoice 1", "Welcome", "Invoice 2"]
    assert subjects("limit=1&offset=1") == ["Welcome"]
    page = call(api.url, "GET", "/api/messages?subject=invoice&limit=1").body
    assert (page["count"], page["matching"], page["total"]) == (1, 2, 3)


def test_bad_filters_are_400_naming_them(api: ApiServer) -> None:
    for query, named in (
        ("recipient=x", "recipient"),
        ("limit=-1", "limit"),
        ("limit=1e400", "limit"),
        ("offset=" + "9" * 4301, "offset"),
        ("session=NaN", "session"),
        ("since=nan", "since"),
        ("since=yesterday", "since"),
    ):
        got = call(api.url, "GET", "/api/messages?" + query)
        assert got.status == 400, (query, got)
        assert named in got.body["error"], (query, got)


def test_message_ids_never_hold_a_message_the_journal_dropped() -> None:
    # the ids once held every message until 20,000 were numbered: 30 MiB messages past
    # the journal's byte bound stayed in memory for ever
    import gc
    import weakref

    from smtpfake.engine.records import Message, SessionInfo
    from smtpfake.http import events

    journal = events.EventJournal(hub=events.EventHub(), max_messages=3)
    info = SessionInfo(1, "peer", 0.0)
    journal.started(info)
    made = [Message("a@x", ("b@y",), b"x" * 1000, 1, float(n), f"Q{n}") for n in range(10)]
    for message in made:
        journal.message(info, message)
    # the journal keeps the last 3; each keeps the id it was given, the newest included
    assert [journal.message_id(m) for m in journal.messages()] == [8, 9, 10]
    assert journal.message_id(made[0]) == 1  # still alive here: still known by its id
    dropped = [weakref.ref(m) for m in made[:7]]
    del made, message
    gc.collect()
    assert [ref() for ref in dropped] == [None] * 7
    assert [journal.message_id(m) for m in journal.messages()] == [8, 9, 10]
    stranger = Message("a@x", ("b@y",), b"x", 1, 0.0, "Q")
    assert journal.message_id(stranger) == 0


def test_sessions_and_messages_page_newest_first(api: ApiServer) -> None:
    for n in range(3):
        send(api, f"m{n}")
    got = call(api.url, "GET", "/api/messages?order=newest&limit=2").body
    assert [m["subject"] for m in got["messages"]] == ["m2", "m1"]
    SmtpFake(api.server).wait_for_sessions(3)
    got = call(api.url, "GET", "/api/sessions?order=newest&offset=1&limit=1").body
    assert (got["count"], got["total"], got["offset"], got["limit"]) == (1, 3, 1, 1)
    assert got["sessions"][0]["index"] == 2
    assert call(api.url, "GET", "/api/sessions?order=up").status == 400
