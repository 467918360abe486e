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

from smtpfake.http import ApiServer
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
    ehlo, mail, greeting, close = session.transcript
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


def test_a_half_closed_client_gets_the_answer_to_its_last_line(
    server: Server, raw: Callable[..., Raw]
) -> None:
    """As ``printf 'EHLO x\\r\\nNOOP' | nc -N`` does: the EOF ends the last line; it is answered
    after the EOF, and the client reads the answer, then the server's close."""
    conn = raw()
    conn.reply()
    conn.send(b"EHLO c.test\r\n")
    assert conn.reply()[0].startswith(b"250-")
    conn.send(b"NOOP")
    conn.sock.shutdown(socket.SHUT_WR)
    assert conn.line() == b"250 2.0.0 Ok\r\n"
    assert conn.recv() == b""  # then the server closes
    conn.close()
    (session,) = ended_sessions(server, 1)
    assert [e.text for e in session.transcript][-3:] == [
        "NOOP",
        "(client closed the connection)",
        "250 2.0.0 Ok",
    ]
    assert session.transcript[-1].delivered
    assert kinds(session) == ["unterminated-line", "no-quit"]


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

            def closed(got: Got) -> bool:
                return any(e["event"] == "closed" for e in got)

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
    lines = [
        ("C: " if e.side == "client" else "S: ") + e.text.split("\n")[0] for e in record.transcript
    ]
    for text in (record.format(), out.getvalue()):
        at = 0
        for line in lines:  # each after the one before it (index() raises if it is not)
            at = text.index(line, at) + len(line)
