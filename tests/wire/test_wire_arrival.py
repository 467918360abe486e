"""When the client's lines arrived, on a real loopback socket (issue 7): lines a client sent before
it closed come before its close in the record, a line sent while a reply is paced is stamped
when it arrived and comes before that reply, a half-closed client still gets its answers, and
every face of the record (the journal, format(), the HTTP API, the event stream, serve's log)
shows the same entries in the same order."""

from __future__ import annotations

import io
import smtplib
import socket
import time
from collections.abc import Callable

import pytest

from smtpfake.http import ApiServer
from smtpfake.journal import SessionRecord
from smtpfake.logging_observer import EventLog, LoggingJournal
from smtpfake.server import Server

from ..sidecar.conftest import call
from ..support import TIMEOUT, scenario
from ..support.raw import Raw
from ..support.sse import Got, Stream
from ..support.waits import ended_sessions, kinds


def test_lines_sent_before_a_close_during_a_delayed_greeting_come_first(
    server: Server, raw: Callable[..., Raw]
) -> None:
    """Gap (a): the lines, at their arrival, judged early; then the greeting not delivered and
    the client's close."""
    server.use(scenario({"on": "connect", "delay": 2}))
    conn = raw()
    sent = time.time()
    conn.send(b"EHLO early\r\nMAIL FROM:<a@b>\r\n")
    time.sleep(0.5)
    closed = time.time()
    conn.close()
    (session,) = ended_sessions(server, 1, timeout=1.5)  # not the 2 s of the delay
    ehlo, mail, greeting, *replies, close = session.transcript
    # acted on after the close, so their replies are recorded, never sent (fresh14 F4)
    assert [(r.text.split("\n")[0], r.delivered, r.written) for r in replies] == [
        ("250-smtpfake.test", False, 0),
        ("250 2.1.0 Ok", False, 0),
    ]
    assert (ehlo.text, mail.text) == ("EHLO early", "MAIL FROM:<a@b>")
    assert sent - 0.05 <= ehlo.time <= mail.time < sent + 0.25  # when they came, not at the close
    assert greeting.text.startswith("220 ") and not greeting.delivered
    assert close.text == "(client closed the connection)" and close.time >= closed - 0.05
    assert greeting.time <= close.time
    assert kinds(session) == ["early-talker", "bad-pipelining"]  # and no no-quit: it waited


def test_a_line_sent_during_a_dripped_greeting_is_stamped_when_it_came(
    server: Server, raw: Callable[..., Raw]
) -> None:
    """Gap (b): EHLO after 4 octets of the built-in dripping-greeting comes before the 220, at
    its own time; the 220 at its last drip."""
    server.use("dripping-greeting")
    conn = raw()
    assert conn.sock.recv(4) == b"220 "
    sent = time.time()
    conn.send(b"EHLO c.test\r\n")
    assert conn.line() == b"smtpfake.test ESMTP smtpfake\r\n"  # the greeting's rest
    assert conn.reply()[0].startswith(b"250-")
    conn.command("QUIT")
    conn.close()
    (session,) = ended_sessions(server, 1)
    ehlo, greeting, *_ = session.transcript
    assert ehlo.text == "EHLO c.test" and greeting.text.startswith("220 ")
    assert ehlo.time < sent + 0.05 < greeting.time  # the greeting drips on for some 0.1 s
    assert kinds(session) == ["early-talker"]
    times = [e.time for e in session.transcript]
    assert times == sorted(times)
    shown = session.format()
    assert 0 < shown.index("  C: EHLO c.test") < shown.index("  S: 220 smtpfake.test ESMTP")


def test_smtplib_waits_for_the_dripped_greeting_and_is_recorded_after_it(server: Server) -> None:
    server.use("dripping-greeting")
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.sendmail("a@x.test", ["b@x.test"], "Subject: hi\r\n\r\nhi\r\n")
    (session,) = ended_sessions(server, 1)
    greeting, ehlo, *_ = session.transcript
    assert greeting.text.startswith("220 ") and ehlo.text.lower().startswith("ehlo ")
    assert greeting.time <= ehlo.time
    assert kinds(session) == []
    times = [e.time for e in session.transcript]
    assert times == sorted(times)


def test_a_half_closed_client_gets_the_answer_to_its_last_whole_line_only(
    server: Server, raw: Callable[..., Raw]
) -> None:
    """As ``printf 'EHLO x\\r\\nQUIT' | nc -N`` does: the QUIT its close cut short was never
    sent (RFC 5321 §2.3.8): recorded, judged, not answered; the server closes."""
    conn = raw()
    conn.reply()
    conn.send(b"EHLO c.test\r\n")
    assert conn.reply()[0].startswith(b"250-")
    conn.send(b"QUIT")
    conn.sock.shutdown(socket.SHUT_WR)
    assert conn.rest() == b""  # the server's close, no 221
    conn.close()
    (session,) = ended_sessions(server, 1)
    assert [e.text for e in session.transcript][-2:] == [
        "QUIT",
        "(client closed the connection)",
    ]
    assert kinds(session) == ["unterminated-line", "no-quit"]
    # each judged at the time of what it is about: the line, the close (not the session's end)
    quit, close = session.transcript[-2:]
    assert [v.time for v in session.violations] == [quit.time, close.time]


def test_a_half_closed_client_gets_every_answer_to_a_long_pipelined_group(
    server: Server, raw: Callable[..., Raw]
) -> None:
    """300 commands and QUIT in one write, then the client's EOF: the server answers them in
    turns (other sessions get the loop between), the EOF landing between two of them. All are
    answered; the close entry comes after the last line and the record stays in time order."""
    conn = raw()
    conn.reply()
    assert conn.command("EHLO c.test")[-1].startswith(b"250 ")
    conn.send(b"RSET\r\n" * 300 + b"QUIT\r\n")
    conn.sock.shutdown(socket.SHUT_WR)
    answers = conn.rest()
    assert answers.count(b"250 2.0.0 Ok\r\n") == 300 and answers.endswith(b"221 2.0.0 Bye\r\n")
    conn.close()
    (session,) = ended_sessions(server, 1)
    texts = [e.text for e in session.transcript]
    assert session.commands[-1] == "QUIT" and len(session.commands) == 302
    assert texts.index("(client closed the connection)") > texts.index("QUIT")
    times = [e.time for e in session.transcript]
    assert times == sorted(times)
    assert kinds(session) == []


def test_every_face_of_the_record_shows_the_same_order() -> None:
    """The dripped greeting with an early EHLO as the journal, format(), GET /api/sessions, the
    event stream and serve's log show it: the same entries, times and order."""
    server = Server("dripping-greeting").start()
    out = io.StringIO()
    event_log = EventLog(out, delay=0)
    server.journal = LoggingJournal(event_log)  # as `smtpfake serve` logs
    try:
        with ApiServer(server) as api:
            stream = Stream(api.url + "/api/events", closed, TIMEOUT)
            conn = Raw(server)
            assert conn.sock.recv(4) == b"220 "
            conn.send(b"EHLO c.test\r\n")
            assert conn.line() == b"smtpfake.test ESMTP smtpfake\r\n"  # the greeting's rest
            assert conn.reply()[0].startswith(b"250-")
            conn.command("QUIT")
            conn.close()
            got = stream.join()
            (record,) = ended_sessions(server, 1)
            answer = call(api.url, "GET", "/api/sessions")
            event_log.flush()
    finally:
        server.stop()
    said = [(e.time, e.text) for e in record.transcript]
    assert said[0][1] == "EHLO c.test" and said[1][1].startswith("220 ")
    streamed = [(e["time"], e["text"]) for e in got if e["event"] in ("command", "reply")]
    assert streamed == said
    (listed,) = answer.body["sessions"]
    assert [(e["time"], e["text"]) for e in listed["transcript"]] == said
    for text in (record.format(), out.getvalue()):
        shows_in_order(text, record)
    assert streamed_sequence(got) == logged_sequence(out.getvalue())
    # the early EHLO's violation: at the EHLO's arrival (not when the engine judged it, after
    # the greeting's last drip), the same time in every face
    (early,) = record.violations
    assert early.kind == "early-talker" and early.time == said[0][0] < said[1][0]
    assert [(e["time"], e["kind"]) for e in got if e["event"] == "violation"] == [
        (early.time, "early-talker")
    ]
    assert [(v["time"], v["kind"]) for v in listed["violations"]] == [(early.time, "early-talker")]
    stamp = event_log.stamp(early.time)  # serve's log: the line's stamp, to the millisecond
    for said_there in ("! early-talker", "C: EHLO c.test"):
        (line,) = [line for line in out.getvalue().splitlines() if said_there in line]
        assert line.startswith(stamp)


def test_a_line_cut_by_a_half_close_is_in_time_order_in_every_face() -> None:
    """The README's half-close, ``EHLO x\\r\\nQUIT`` in one write then SHUT_WR: the QUIT never
    ended, so it is recorded, unfinished, when its octets came (with the EHLO's), before the
    EHLO's 250; the journal, format(), GET /api/sessions and serve's log show the same time
    order, and no-quit names no command."""
    server = Server().start()
    out = io.StringIO()
    event_log = EventLog(out, delay=0)
    server.journal = LoggingJournal(event_log)  # as `smtpfake serve` logs
    try:
        with ApiServer(server) as api:
            stream = Stream(api.url + "/api/events", closed, TIMEOUT)
            conn = Raw(server)
            conn.reply()
            conn.send(b"EHLO x\r\nQUIT")
            conn.sock.shutdown(socket.SHUT_WR)
            assert conn.rest().startswith(b"250-")  # the EHLO's answer, then the close
            conn.close()
            got = stream.join()
            (record,) = ended_sessions(server, 1)
            answer = call(api.url, "GET", "/api/sessions")
            event_log.flush()
    finally:
        server.stop()
    said = [(e.time, e.text) for e in record.transcript]
    assert [text.split("\n")[0] for _, text in said] == [
        "220 smtpfake.test ESMTP smtpfake",
        "EHLO x",
        "QUIT",
        "250-smtpfake.test",
        "(client closed the connection)",
    ]
    assert [t for t, _ in said] == sorted(t for t, _ in said)
    assert said[1][0] == said[2][0]  # the QUIT's octets came with the EHLO's
    assert not record.transcript[2].delivered  # unfinished: its CRLF never came
    (listed,) = answer.body["sessions"]
    assert [(e["time"], e["text"]) for e in listed["transcript"]] == said
    assert listed["transcript"][2]["delivered"] is False
    assert "C: QUIT   (unfinished: no line ending)" in out.getvalue()
    unterminated, no_quit = record.violations
    assert unterminated.time == said[2][0] and no_quit.time == said[4][0]
    assert str(no_quit) == "no-quit: the client closed the connection without QUIT"
    for text in (record.format(), out.getvalue()):
        assert "(on '')" not in text
        shows_in_order(text, record)
    stamps = [line[:24] for line in out.getvalue().splitlines() if line[:1].isdigit()]
    assert len(stamps) >= len(said) and stamps == sorted(stamps)  # serve's log in time order
    # the event stream: the same entries, and the violations where the log has them
    streamed = [(e["time"], e["text"]) for e in got if e["event"] in ("command", "reply")]
    assert streamed == said
    assert streamed_sequence(got) == logged_sequence(out.getvalue())
    assert [e["time"] for e in got] == sorted(e["time"] for e in got)


@pytest.mark.parametrize("logged", [True, False], ids=["serve's journal", "direct path"])
def test_the_stream_and_the_log_place_a_message_and_a_violation_alike(logged: bool) -> None:
    """Where the faces used to differ: the message's text, its ".", NOOP and QUIT in one write
    (a pipelined group; QUIT after NOOP, which must end a group, is bad-pipelining) while the 250
    is delayed: the NOOP and QUIT are read, and the QUIT judged, after the message was accepted
    and before the 250 goes out. The event stream shows serve's log's sequence, in time order:
    the message just after its ".", the violation just after the QUIT it judges, both before the
    delayed 250. Without a log, a session that began before the subscriber came records its
    entries itself (the journal's direct path, published by a poll): the same places."""
    server = Server(scenario({"on": "end_of_data", "delay": 0.2})).start()
    out = io.StringIO()
    event_log = EventLog(out, delay=0)
    if logged:
        server.journal = LoggingJournal(event_log)
    try:
        with ApiServer(server) as api:
            if logged:
                stream = Stream(api.url + "/api/events", closed, TIMEOUT)
            conn = Raw(server)
            conn.reply()
            conn.command("EHLO c.test")
            if not logged:  # the session is on the direct path: nobody listened when it began
                stream = Stream(api.url + "/api/events", closed, TIMEOUT)
            conn.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
            assert [conn.code() for _ in range(3)] == [250, 250, 354]
            conn.send(b"Subject: x\r\n\r\nhi\r\n.\r\nNOOP\r\nQUIT\r\n")
            assert [conn.code() for _ in range(3)] == [250, 250, 221]
            conn.close()
            got = stream.join()
            (record,) = ended_sessions(server, 1)
            event_log.flush()
    finally:
        server.stop()
    sequence = streamed_sequence(got)
    if logged:
        assert sequence == logged_sequence(out.getvalue())
    assert [e["time"] for e in got] == sorted(e["time"] for e in got)
    (message,) = record.messages
    (violation,) = record.violations
    assert violation.kind == "bad-pipelining" and violation.command == "QUIT"
    at = sequence.index("C* (message data, 18 bytes)")  # the engine's note, flagged in both
    assert sequence[at : at + 7] == [
        "C* (message data, 18 bytes)",
        "C: .",
        f"accepted message {message.queue_id}",
        "C: NOOP",
        "C: QUIT",
        "! bad-pipelining",
        f"S: 250 2.0.0 Ok: queued as {message.queue_id}",
    ]


def closed(got: Got) -> bool:
    return any(e["event"] == "closed" for e in got)


def streamed_sequence(got: Got) -> list[str]:
    """The event stream as serve's text log words it: ``C: ...``/``S: ...`` a line each (a
    multi-line reply's lines; ``C* ``/``S* `` for the engine's note), ``! KIND``, ``accepted
    message QUEUE-ID``."""
    out: list[str] = []
    for e in got:
        if e["event"] in ("command", "reply"):
            arrow = ("C" if e["event"] == "command" else "S") + ("* " if e.get("note") else ": ")
            out += [arrow + line for line in e["text"].split("\n")]
        elif e["event"] == "violation":
            out.append(f"! {e['kind']}")
        elif e["event"] == "message":
            out.append(f"accepted message {e['queue_id']}")
    return out


def logged_sequence(text: str) -> list[str]:
    """serve's text log in :func:`streamed_sequence`'s words (the stamp and session cut off;
    a line's text is cut at three spaces, where the log's tags begin)."""
    out: list[str] = []
    for line in text.splitlines():
        said = line.split(" ", 3)[3]  # STAMP session N ...
        if said.startswith(("C: ", "S: ", "C* ", "S* ")):
            out.append(said.split("   ")[0])  # without a rule's tag or "(not delivered...)"
        elif said.startswith("! "):
            out.append(said.split(":")[0])
        elif said.startswith("accepted message "):
            out.append(" ".join(said.split(" ")[:3]))
    return out


def shows_in_order(text: str, record: SessionRecord) -> None:
    """``text`` (format(), serve's log) shows each transcript entry's first line after the one
    before it (index() raises if it is not there)."""
    at = 0
    for e in record.transcript:
        line = str(e).split("\n")[0].split("   ")[0]  # C:/S: or C*/S* (a note), no tags
        at = text.index(line, at) + len(line)
