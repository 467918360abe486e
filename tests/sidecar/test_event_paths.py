"""What publishing events costs the SMTP side: nothing made per event and the journal's quick and
direct transcript paths in use while nobody listens; every event, in order, once someone does
(sessions of a burst, and a session that began before the subscriber came)."""

from __future__ import annotations

import asyncio
import io
import smtplib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from smtpfake.engine import records
from smtpfake.engine.records import SessionInfo, TranscriptEntry
from smtpfake.http import ApiServer, events
from smtpfake.journal import SessionRecord
from smtpfake.logging_observer import EventLog, LoggingJournal
from smtpfake.scenario import load_text
from smtpfake.server import Server

from ..support.raw import Raw
from ..support.sidecar import own_sidecar
from ..support.sse import Got, Stream
from ..support.waits import wait_until
from .conftest import TIMEOUT, call


def closed(count: int) -> Callable[[Got], bool]:
    return lambda got: sum(e["event"] == "closed" for e in got) >= count


def entries(got: Got, session: int) -> list[tuple[str, str]]:
    """The command and reply events of one session: (``command``/``reply``, text)."""
    kinds = ("command", "reply")
    return [
        (e["event"], e["text"]) for e in got if e.get("session") == session and e["event"] in kinds
    ]


def said(record: SessionRecord, after: int = 0) -> list[tuple[str, str]]:
    """The session's transcript as those events name it (from entry ``after`` on)."""
    return [
        ("command" if e.side == "client" else "reply", e.text) for e in record.transcript[after:]
    ]


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kind of every event a journal makes, and ``subject`` for every Subject parsed."""
    out: list[str] = []

    class Counted(events.Event):
        __slots__ = ()

        def __init__(self, kind: str, *args: Any) -> None:
            super().__init__(kind, *args)
            out.append(kind)

    subject = records.Message.subject

    def counted_subject(message: records.Message) -> str:
        out.append("subject")
        return subject.fget(message)  # type: ignore[attr-defined,no-any-return]

    monkeypatch.setattr(events, "Event", Counted)
    monkeypatch.setattr(records.Message, "subject", property(counted_subject))
    return out


@pytest.fixture
def sidecar() -> Iterator[ApiServer]:
    """Its own API: no subscriber left over from another test."""
    with own_sidecar() as api:
        yield api


def send(server: Server, n: int) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.sendmail(f"a{n}@x.test", [f"b{n}@y.test"], f"Subject: burst {n}\r\n\r\nhi\r\n")


def test_with_nobody_listening_nothing_is_made_and_the_fast_paths_stay(
    sidecar: ApiServer, made: list[str]
) -> None:
    journal = sidecar.server.journal
    assert isinstance(journal, events.EventJournal)
    # the journal's quickest way in: the session appends its entries itself
    assert journal.direct_transcript is not None and journal.quick_transcript is not None
    for n in range(3):
        send(sidecar.server, n)
    assert journal.wait_for_sessions(3, TIMEOUT)
    assert made == []  # no event, no Subject parsed
    assert all(("command", "QUIT") in said(s) for s in journal.sessions())  # all recorded

    # someone listens: sessions from now on take the quick path, each entry published as it comes
    stream = Stream(sidecar.url + "/api/events", closed(1), TIMEOUT)
    assert journal.direct_transcript is None and journal.quick_transcript is not None
    send(sidecar.server, 3)
    got = stream.join()
    assert entries(got, 4) == said(journal.sessions()[3])
    assert next(e for e in got if e["event"] == "message")["subject"] == "burst 3"
    assert made.count("subject") == 1  # parsed once, by the stream


def test_a_burst_of_sessions_reaches_a_subscriber_whole_and_in_order(sidecar: ApiServer) -> None:
    sessions = 12
    stream = Stream(sidecar.url + "/api/events", closed(sessions), TIMEOUT)
    threads = [threading.Thread(target=send, args=(sidecar.server, n)) for n in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    got = stream.join()
    ids = [e["id"] for e in got]
    assert ids == sorted(set(ids))
    records_ = sidecar.server.journal.sessions()
    assert len(records_) == sessions
    for record in records_:
        mine = [e for e in got if e["session"] == record.index]
        assert (mine[0]["event"], mine[-1]["event"]) == ("connected", "closed")
        assert entries(got, record.index) == said(record)
        (message,) = [e for e in mine if e["event"] == "message"]
        n = message["mail_from"][1:].split("@")[0]
        assert (message["subject"], message["rcpt_tos"]) == (f"burst {n}", [f"b{n}@y.test"])
        assert message["message_id"] >= 1 and message["size"] > 0


def test_a_session_begun_before_the_subscriber_is_followed_live(sidecar: ApiServer) -> None:
    journal = sidecar.server.journal
    assert journal.direct_transcript is not None  # nobody listens: the session appends itself
    server = sidecar.server
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.ehlo()
        # greeting, EHLO, its reply: nobody's. A reply is recorded once the socket took it, which
        # can be just after the client read it: wait for it to be in the record
        wait_until(lambda: len(journal.sessions()[0].transcript) == 3, TIMEOUT, "EHLO's reply")
        before = len(journal.sessions()[0].transcript)
        stream = Stream(sidecar.url + "/api/events", closed(1), TIMEOUT)
        client.noop()
        # seen while the session is open and does nothing more: the hub looks for itself
        assert stream.wait_for(lambda got: len(entries(got, 1)) == 2), stream.got
        assert [kind for kind, _ in entries(stream.got, 1)] == ["command", "reply"]
        client.sendmail("a@x.test", ["b@y.test"], b"Subject: late\r\n\r\nhi\r\n")
    got = stream.join()
    (record,) = journal.sessions()
    assert entries(got, 1) == said(record, before)
    assert entries(got, 1)[0][1].upper() == "NOOP"  # smtplib sends it lower-case
    kinds = [e["event"] for e in got]
    # each event after what the session sent before it
    assert kinds.index("message") > kinds.index("command") and kinds[-1] == "closed"
    assert next(e for e in got if e["event"] == "message")["subject"] == "late"


def test_serve_s_log_and_the_events_both_keep_the_quick_path(made: list[str]) -> None:
    """``smtpfake serve --api-port``: the logging journal, published; its log sees every entry,
    through the quick path (no entry object made), and so does a subscriber."""
    server = Server("default").start()
    out = io.StringIO()
    server.journal = LoggingJournal(EventLog(out, delay=0))
    try:
        with ApiServer(server) as api:
            journal = server.journal
            assert isinstance(journal, events.LoggingEventJournal)
            assert journal.quick_transcript is not None
            assert journal.direct_transcript is None  # the log must see every entry
            send(server, 1)
            assert journal.wait_for_sessions(1, TIMEOUT)
            assert made == []
            stream = Stream(api.url + "/api/events", closed(1), TIMEOUT)
            send(server, 2)
            got = stream.join()
    finally:
        server.stop()
    first, second = journal.sessions()
    assert entries(got, 2) == said(second)
    log = out.getvalue()
    for entry in (*first.transcript, *second.transcript):
        assert str(entry).split("\n")[0] in log  # C:/S: a line, C*/S* the engine's note


def test_a_journal_that_does_more_per_entry_sees_every_entry() -> None:
    class Told(events.EventJournal):
        def transcript(self, info: SessionInfo, entry: TranscriptEntry) -> None:
            super().transcript(info, entry)

    hub = events.EventHub()
    assert Told(hub=hub).quick_transcript is None and Told(hub=hub).direct_transcript is None
    out = io.StringIO()
    logging = events.LoggingEventJournal(EventLog(out), hub=hub)
    assert logging.quick_transcript is not None
    info = SessionInfo(1, "127.0.0.1:1", time.time())
    logging.started(info)
    quick = logging.quick_transcript
    assert quick is not None
    quick(info, time.time(), "client", "NOOP", None)
    assert logging.sessions()[0].commands == ("NOOP",)
    logging.log.flush()
    assert "C: NOOP" in out.getvalue()


def test_a_wait_with_nobody_subscribed_wakes_on_the_message(
    sidecar: ApiServer, made: list[str]
) -> None:
    """POST /api/wait re-checks on each batch of events: the ``message`` and ``closed`` events are
    made for it (and nothing per transcript entry)."""
    answers: list[Any] = []
    waiter = threading.Thread(
        target=lambda: answers.append(
            call(sidecar.url, "POST", "/api/wait", {"messages": 1, "timeout": TIMEOUT})
        )
    )
    waiter.start()
    wait_until(lambda: sidecar.hub.wanted, TIMEOUT, "the wait to begin")
    assert not sidecar.hub.listening
    send(sidecar.server, 1)
    waiter.join(TIMEOUT)
    (answer,) = answers
    assert answer.status == 200, answer
    assert "message" in made and not {"connected", "command", "reply"} & set(made)


def test_a_reset_is_streamed_before_the_sessions_it_carries_over(sidecar: ApiServer) -> None:
    # A session open at POST /api/reset goes on in the new journal with the reset's 421 and
    # its close: a subscriber gets the reset first, then those, as it happened (they used to
    # come first, as if the 421 belonged to the journal the reset cleared).
    stream = Stream(
        sidecar.url + "/api/events",
        lambda got: any(e["event"] == "reset" for e in got) and closed(1)(got),
        TIMEOUT,
    )
    with Raw(sidecar.server) as conn:
        assert conn.code() == 220
        assert conn.command_code("NOOP") == 250
        assert stream.wait_for(lambda got: ("reply", "250 2.0.0 Ok") in entries(got, 1))
        assert call(sidecar.url, "POST", "/api/reset").status == 200
        assert conn.rest().startswith(b"421 4.3.2 ")
    got = stream.join()
    kinds = [e["event"] for e in got]
    at = kinds.index("reset")
    assert kinds[:at] == ["connected", "reply", "command", "reply"]  # the old journal's
    assert kinds[at + 1] == "connected" and kinds[-1] == "closed"  # the new journal's session
    replies = [e["text"] for e in got[at:] if e["event"] == "reply"]
    assert replies[0].startswith("421 4.3.2 ")
    (record,) = sidecar.server.journal.sessions()  # and the journal holds just that, as streamed
    assert entries(got[at:], record.index) == said(record)


def test_a_message_event_waits_for_its_place_but_a_wait_counts_the_message_at_once() -> None:
    """While someone listens, a message event waits for the session's next entry at or after
    its time (event_order: the 250 that accepts it); a wait for messages (POST /api/wait) looks
    again at once though no event came (the hub is woken), not at its next re-check."""

    async def main() -> None:
        hub = events.EventHub()
        hub.bind(asyncio.get_running_loop())
        journal = events.EventJournal(hub=hub)
        queue = hub.subscribe()
        info = SessionInfo(1, "127.0.0.1:1", 1.0)
        journal.started(info)
        quick = journal.quick_transcript
        assert quick is not None
        quick(info, 2.0, "client", ".", None)
        waited = asyncio.ensure_future(
            hub.until(lambda: journal.counts().messages_accepted >= 1, 30.0)
        )
        await settle(lambda: queue.qsize() == 2)  # connected, the "."
        assert not waited.done()
        journal.message(info, records.Message("a@x.test", ("b@y.test",), b"x\r\n", 1, 2.0, "Q1"))
        await settle(waited.done)
        assert waited.result() is True
        assert [queue.get_nowait().kind for _ in range(2)] == ["connected", "command"]
        assert queue.empty()  # the message's event waits for the 250
        quick(info, 2.5, "server", "250 2.0.0 Ok: queued as Q1", None)
        await settle(lambda: queue.qsize() == 2)
        assert [queue.get_nowait().kind for _ in range(2)] == ["message", "reply"]
        hub.close()

    async def settle(done: Callable[[], bool]) -> None:
        """Let the loop run a few rounds (no clock involved) until ``done()``."""
        for _ in range(20):
            if done():
                return
            await asyncio.sleep(0)
        assert done()

    asyncio.run(main())


def test_an_entry_not_delivered_whole_is_streamed_as_the_api_gives_it() -> None:
    """A reply the client left before it was written and a line its close cut short (no LF):
    their events say ``delivered: false`` and ``written`` as the API's entries do, so a test
    waiting on events never takes them for a whole command and a delivered reply."""
    delayed = load_text(
        "summary: s\nexpect: e\nrules:\n  - on: noop\n    delay: 30\n", source="delayed-noop"
    )
    with own_sidecar(delayed) as api:  # type: ignore[arg-type]  # a Scenario, not a name
        stream = Stream(api.url + "/api/events", closed(1), TIMEOUT)
        with Raw(api.server) as client:
            client.reply()
            client.command("EHLO x.test")
            client.send(b"NOOP\r\nQUI")  # NOOP's 250 waits 30 s; QUI never gets its CRLF
            assert stream.wait_for(lambda got: ("command", "NOOP") in entries(got, 1))
        got = stream.join()
        (record,) = api.server.journal.sessions()
    mine = [e for e in got if e["session"] == 1 and e["event"] in ("command", "reply")]
    assert [(e["text"], e.get("delivered", True), e.get("written")) for e in mine] == [
        (e.text, e.delivered, e.written) for e in record.transcript
    ]
    flags = {e["text"]: (e.get("delivered"), e.get("written", "-")) for e in mine}
    assert flags["QUI"] == (False, None)
    assert next(v for k, v in flags.items() if k.startswith("250 ")) == (False, 0)


def test_message_text_after_the_close_is_streamed_as_the_api_gives_it() -> None:
    """Text the client sends after the idle timeout's 421 cut its message: the stream has the
    note that labels it and its lines, as the API's record has them (note flags included)."""
    idle = load_text("summary: s\nexpect: e\nserver:\n  idle_timeout: 0.3\n", source="idle")
    with own_sidecar(idle) as api:  # type: ignore[arg-type]  # a Scenario, not a name
        stream = Stream(api.url + "/api/events", closed(1), TIMEOUT)
        with Raw(api.server) as client:
            client.reply()
            for command in ("EHLO x.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "DATA"):
                client.command(command)
            client.send(b"Subject: slow\r\n\r\nt: sl")
            assert client.reply()[0].startswith(b"421 4.4.2 ")
            client.send(b"ow\r\n.\r\nQUIT\r\n")
            assert stream.wait_for(lambda got: ("command", "QUIT") in entries(got, 1))
        got = stream.join()
        (record,) = api.server.journal.sessions()
    mine = [e for e in got if e["session"] == 1 and e["event"] in ("command", "reply")]
    assert [(e["text"], e.get("note", False)) for e in mine] == [
        (e.text, e.note) for e in record.transcript
    ]
    assert ("(message text after the close)", True) in [(e.text, e.note) for e in record.transcript]
