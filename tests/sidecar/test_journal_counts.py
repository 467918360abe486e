"""The journal's limits and dropped counts reach the user over HTTP: ``GET /api/journal``,
each session's ``dropped_entries``, and ``counts`` on the remote transport, as in-process."""

from __future__ import annotations

import smtplib

from smtpfake.control import SmtpFake
from smtpfake.http import ApiServer
from smtpfake.journal import JournalLimits
from smtpfake.remote import RemoteSmtpFake
from smtpfake.serialize import session_from_json
from smtpfake.server import Server

from .conftest import TIMEOUT, Sidecar, call


def _mail(server: Server, n: int, noops: int = 0) -> None:
    for i in range(n):
        with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
            for _ in range(noops):
                client.noop()
            client.sendmail("a@x.test", ["b@y.test"], f"Subject: {i}\r\n\r\nbody\r\n")


def test_dropped_counts_and_limits_over_http_and_both_transports() -> None:
    limits = JournalLimits(sessions=2, messages=2, entries=8)
    with Server(journal_limits=limits) as server, ApiServer(server) as api:
        _mail(server, 3, noops=6)
        fake = SmtpFake(server)
        assert fake.wait_for_sessions(3)
        got = call(api.url, "GET", "/api/journal")
        assert got.status == 200
        assert got.body["limits"] == {**got.body["limits"], "sessions": 2, "messages": 2}
        counts = got.body["counts"]
        assert (counts["messages_accepted"], counts["messages_dropped"]) == (3, 1)
        assert (counts["sessions_ended"], counts["sessions_dropped"]) == (3, 1)
        assert counts["entries_dropped"] > 0
        assert got.body["deleted"] == 0

        remote = RemoteSmtpFake(api.url)
        assert remote.counts == fake.counts == server.journal.counts()
        assert remote.counts.dropped().startswith("the journal did not keep everything: 1 session")

        sessions = call(api.url, "GET", "/api/sessions").body["sessions"]
        assert [s["dropped_entries"] for s in sessions] == [
            s.dropped_entries for s in server.sessions
        ]
        assert all(s["dropped_entries"] > 0 for s in sessions)
        # messages in a session are summaries, named by queue id (data on demand)
        kept = {m.queue_id: m for s in server.sessions for m in s.messages}
        again = session_from_json(sessions[0], message=lambda m: kept[m["queue_id"]])
        assert again == server.sessions[0]
        (remote_message,) = remote.sessions[0].messages
        assert remote_message.data == server.sessions[0].messages[0].data
        assert "earlier entries not kept" in remote.transcript()

        remote.reset()
        assert remote.counts.dropped() == ""
        assert fake.counts.messages_accepted == 0


def test_a_server_on_demand_answers_for_its_own_journal_with_the_sidecars_limits() -> None:
    with Server(journal_limits=JournalLimits(messages=7)) as server, ApiServer(server) as api:
        made = call(api.url, "POST", "/api/servers", {})
        assert made.status == 201
        sid = made.body["id"]
        _mail(server, 1)
        assert SmtpFake(server).wait_for_messages(1)
        own = call(api.url, "GET", f"/api/servers/{sid}/journal").body
        main = call(api.url, "GET", "/api/journal").body
        assert own["limits"] == main["limits"]
        assert main["limits"]["messages"] == 7
        assert (own["counts"]["messages_accepted"], main["counts"]["messages_accepted"]) == (0, 1)


def test_serve_journal_flags_hold_behind_the_api() -> None:
    """The sidecar wrapped its journal to publish events and lost ``--journal-*`` on the way."""
    sidecar = Sidecar("--port", "0", "--api-port", "0", "--journal-messages", "1").wait_ready()
    try:
        with smtplib.SMTP(sidecar.smtp_host, sidecar.smtp_port, timeout=TIMEOUT) as client:
            for i in range(2):
                client.sendmail("a@x.test", ["b@y.test"], f"Subject: {i}\r\n\r\nbody\r\n")
        waited = call(sidecar.url, "POST", "/api/wait", {"messages": 2, "timeout": TIMEOUT})
        assert waited.status == 200 and waited.body["total"] == 1
        body = call(sidecar.url, "GET", "/api/journal").body
        assert body["limits"]["messages"] == 1
        assert (body["counts"]["messages_accepted"], body["counts"]["messages_dropped"]) == (2, 1)
    finally:
        sidecar.stop()
