"""The record's judgement on a real loopback socket, on each event loop: an over-long command line
is judged as a command (the next one is not an early talker), lines sent before a reply that
closes are judged as pipelined, only whole lines hold off the idle timeout, a line the server's
own close cut short is recorded at its octets, unfinished, and not judged (issue 7), and the
lines after the one forgiven behind an unasked 421 are sent-after-close (those ahead of it are
judged as the pipelined commands they are)."""

from __future__ import annotations

import asyncio
import shutil
import smtplib
import socket
import subprocess
import time

import aiosmtplib
import pytest

from smtpfake.server import Server

from ..support import SHARED_GRACE, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds


def test_an_over_long_command_line_does_not_make_the_next_an_early_talker(fresh: Server) -> None:
    with Raw(fresh) as conn:
        assert conn.code() == 220
        time.sleep(0.1)  # the greeting is well out: nothing after it is early
        conn.send(b"EHLO " + b"x" * 1000 + b"\r\nNOOP\r\nQUIT\r\n")
        replies = conn.rest()
    assert replies.startswith(b"500 5.5.6 Line too long\r\n250 2.0.0 Ok\r\n221 ")
    (session,) = ended_sessions(fresh, 1)
    assert kinds(session) == ["line-too-long", "pipelining-without-extension"]
    assert "NOOP was sent before the reply to EHLO" in session.violations[1].detail


@pytest.mark.parametrize(
    ("scen", "data", "expected"),
    [
        pytest.param(
            scenario({"on": "ehlo", "reply": "421 4.3.2 go away"}),
            b"EHLO x\r\nNOOP\r\n",
            ["pipelining-without-extension"],
            id="a rule's 421",
        ),
        pytest.param(
            scenario(bare_lf="disconnect"),
            b"EHLO x\nNOOP\r\n",
            ["bare-lf", "pipelining-without-extension"],
            id="bare_lf disconnect",
        ),
    ],
)
def test_lines_pipelined_behind_a_closing_reply_are_judged(
    fresh: Server, scen: dict[str, object], data: bytes, expected: list[str]
) -> None:
    fresh.use(scen)
    with Raw(fresh) as conn:
        assert conn.code() == 220
        conn.send(data)
        assert conn.code() in (421, 521)
        assert conn.rest() == b""  # the server's close (EOF), no reply to NOOP
        conn.send(b"RSET\r\n")  # after the close was read: sent after it
        conn.sock.shutdown(socket.SHUT_WR)
    (session,) = ended_sessions(fresh, 1)
    assert kinds(session) == [*expected, "sent-after-close"]
    assert [e.text for e in session.transcript][1:3] == [
        data.split(b"\n")[0].decode().strip(),
        "NOOP",
    ]


def test_octets_without_a_line_end_do_not_hold_off_the_idle_timeout(fresh: Server) -> None:
    # 1 s: the first octet must come before the timeout; with 0.5 s a client held up under
    # CI's load sent it after the 421 once
    fresh.use(scenario(idle_timeout=1.0))
    with Raw(fresh, timeout=0.1) as conn:
        assert conn.code() == 220
        got = b""
        for _ in range(40):  # a slowloris: an octet every 0.1 s for up to 4 s, never a LF
            conn.send(b"z")
            try:
                got = conn.sock.recv(100)
            except TimeoutError:
                continue
            break
    assert got.startswith(b"421 4.4.2 smtpfake.test Error: timeout exceeded")
    (session,) = ended_sessions(fresh, 1)
    line, timeout = session.transcript[1:3]
    assert line.text.strip("z") == "" and not line.delivered  # unfinished, before the 421
    assert line.time < timeout.time and timeout.text.startswith("421 4.4.2 ")
    assert session.violations == ()  # the server cut it off: no unterminated-line


def test_a_line_sent_during_a_delayed_greeting_is_early_talk_though_close_after_ends_it(
    fresh: Server,
) -> None:
    fresh.use(scenario({"on": "connect", "delay": 5}, close_after=0.3))
    with Raw(fresh) as conn:
        conn.send(b"EHLO early.test\r\n")  # no greeting yet: early
        assert conn.code() == 421
        assert conn.rest() == b""
    (session,) = ended_sessions(fresh, 1)
    assert kinds(session) == ["early-talker"]
    assert not session.transcript[1].delivered  # the 220 never reached the wire


@pytest.mark.parametrize(
    ("scen", "read", "last"),
    [
        pytest.param(scenario(idle_timeout=0.5), b"zzz", "421 4.4.2 ", id="idle_timeout"),
        pytest.param(scenario(), b"QUIT\r\nNOO", "221 2.0.0 ", id="221 after QUIT"),
        pytest.param(
            scenario({"on": "mail", "reply": "421 4.3.2 go away"}),
            b"MAIL FROM:<a@x.test>\r\nRCP",
            "421 4.3.2 go away",
            id="a rule's 421",
        ),
    ],
)
def test_a_line_the_servers_close_cuts_short_is_recorded_at_its_octets(
    fresh: Server, scen: dict[str, object], read: bytes, last: str
) -> None:
    fresh.use(scen)
    with Raw(fresh) as conn:
        assert conn.code() == 220
        assert conn.command("EHLO x")[-1].startswith(b"250 ")
        conn.send(read)  # no line end after the last piece; the socket stays open
        assert conn.reply()[-1].decode().startswith(last)
        assert conn.rest() == b""  # the server's half-close: EOF, nothing answered after it
        (session,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2)  # the grace period ran out
    fragment = read.split(b"\n")[-1].decode()
    texts = [e.text for e in session.transcript]
    line = session.transcript[texts.index(fragment)]
    reply = [e for e in session.transcript if e.text.startswith(last)][-1]
    assert not line.delivered  # unfinished: its line ending never came
    assert texts.index(fragment) < session.transcript.index(reply)  # before the server's reply
    assert line.time <= reply.time < session.ended  # at its octets, not at the grace's end
    times = [e.time for e in session.transcript]
    assert times == sorted(times)
    assert kinds(session) == []  # not unterminated-line: the server cut it off
    assert "(unfinished: no line ending)" in session.format()


def test_lines_ahead_of_close_after_s_421_are_judged_as_pipelined(fresh: Server) -> None:
    """close_after's 421 replaces a delayed reply with lines pipelined behind it (fresh10 F9):
    they came before the 421 existed, so they are judged as the pipelined commands they are
    (none wrong here), not sent-after-close; the first command after the 421 is the one RFC
    5321 §3.8 forgives, the next is sent-after-close."""
    fresh.use(scenario({"on": "mail", "delay": 5}, close_after=0.4))
    with Raw(fresh) as conn:
        assert conn.code() == 220
        assert conn.command("EHLO x")[-1].startswith(b"250 ")
        conn.send(b"MAIL FROM:<a@x.test>\r\nRSET\r\nRSET\r\nNOOP\r\n")  # behind MAIL's delay
        assert conn.reply()[0].startswith(b"421 4.3.2 ")
        conn.send(b"QUIT\r\n")  # after reading the 421: forgiven
        conn.send(b"NOOP\r\n")
        assert conn.rest() == b""
        (session,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2)
    assert [(v.kind, v.command) for v in session.violations] == [("sent-after-close", "NOOP")]


# -- real clients after a reply that closes: the record's verdicts, exactly ---------------------

CLOSING_STAGES = ["mail", "rcpt", "data", "end_of_data"]


@pytest.mark.parametrize("stage", CLOSING_STAGES)
def test_smtplib_after_a_421_is_judged_for_what_it_sends(fresh: Server, stage: str) -> None:
    """smtplib closes after a 421 to MAIL, RCPT or the final "." (sendmail's own check), but a
    421 to DATA raises from data() before that check, and the with block's exit then writes
    QUIT into the closed connection: sent-after-close, the bug the record must show."""
    fresh.use(scenario({"on": stage, "reply": "421 4.3.2 go away"}))
    with (
        pytest.raises(smtplib.SMTPException),
        smtplib.SMTP(fresh.host, fresh.port, timeout=5) as smtp,
    ):
        smtp.sendmail("a@x.test", ["b@x.test", "c@x.test"], b"Subject: x\r\n\r\nhi\r\n")
    (session,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2)
    expected = [("sent-after-close", "QUIT")] if stage == "data" else []
    assert [(v.kind, v.command) for v in session.violations] == expected
    assert session.transcript[-1].text == "(client closed the connection)"


@pytest.mark.parametrize("stage", CLOSING_STAGES)
def test_aiosmtplib_after_a_421_is_judged_for_what_it_sends(fresh: Server, stage: str) -> None:
    """aiosmtplib (5.x sends each command after the previous reply, PIPELINING or not) closes on
    a 421 to MAIL or RCPT and sends nothing more. A 421 to DATA or to the final "." raises from
    data() without that close, and sendmail() then resets the envelope: it writes RSET into the
    closed connection unless it has seen the server's EOF by then (a race between the two
    reads; either happens on both loops). The record holds exactly what it sent, judged."""

    async def send() -> None:
        smtp = aiosmtplib.SMTP(hostname=fresh.host, port=fresh.port, timeout=5, start_tls=False)
        async with smtp:
            await smtp.sendmail("a@x.test", ["b@x.test", "c@x.test"], b"Subject: x\r\n\r\nhi\r\n")

    fresh.use(scenario({"on": stage, "reply": "421 4.3.2 go away"}))
    with pytest.raises(aiosmtplib.SMTPException):
        asyncio.run(send())
    (session,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2)
    texts = [e.text for e in session.transcript]
    closed = texts.index("(connection closed)")
    assert texts[closed - 1] == "421 4.3.2 go away"
    after = texts[closed + 1 : -1]  # what it sent after the close (the last: its own close)
    assert after in ([], ["RSET"]) if stage in ("data", "end_of_data") else after == []
    expected = [("sent-after-close", "RSET")] if after else []
    assert [(v.kind, v.command) for v in session.violations] == expected
    assert texts[-1] == "(client closed the connection)"


@pytest.mark.skipif(
    shutil.which("swaks") is None, reason="swaks is not installed (.ci/sidecar-deps)"
)
def test_swaks_writes_quit_after_a_421_to_data(fresh: Server) -> None:
    """swaks --pipeline sends MAIL, RCPT and DATA in one write; DATA's 421 closes, and swaks then
    sends QUIT into the closed connection: the record says so (the pipelined group before the 421
    is no violation: PIPELINING was advertised and DATA ends the group)."""
    fresh.use(scenario({"on": "data", "reply": "421 4.3.2 go away"}))
    done = subprocess.run(
        [
            "swaks",
            "--server",
            f"{fresh.host}:{fresh.port}",
            "--pipeline",
            "--timeout",
            "5",
            "--from",
            "a@x.test",
            "--to",
            "b@x.test",
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0  # it reports the failure
    (session,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2)
    assert [(v.kind, v.command) for v in session.violations] == [("sent-after-close", "QUIT")]
    texts = [e.text for e in session.transcript]
    assert texts[-4:] == [
        "421 4.3.2 go away",
        "(connection closed)",
        "QUIT",
        "(client closed the connection)",
    ]


def test_a_half_close_after_quit_during_a_dripped_221_still_gets_it(fresh: Server) -> None:
    """QUIT, then SHUT_WR while the 221 drips: the client still reads, so the 221 is written
    whole and recorded as delivered; the client's EOF is an entry at its time; no no-quit."""
    fresh.use(scenario({"on": "quit", "drip": {"bytes": 4, "interval": 0.05}}))
    with Raw(fresh) as conn:
        assert conn.code() == 220
        assert conn.command("EHLO x")[-1].startswith(b"250 ")
        conn.send(b"QUIT\r\n")
        conn.sock.shutdown(socket.SHUT_WR)
        assert conn.rest() == b"221 2.0.0 Bye\r\n"  # all of it, then the server's close
    (session,) = ended_sessions(fresh, 1)
    texts = [e.text for e in session.transcript]
    assert texts[-4:] == [
        "QUIT",
        "(client closed the connection)",
        "221 2.0.0 Bye",
        "(connection closed)",
    ]
    assert session.transcript[-2].delivered
    assert session.violations == ()


def test_a_message_whose_delayed_250_close_after_cuts_is_kept_its_250_not_delivered(
    fresh: Server,
) -> None:
    """fresh21 F3, as the close_after row says: the server accepted the message (a rule
    delays its 250) before close_after's 421 came, so it is queued, as on a real server (a
    retrying client sends it twice, RFC 1047); the record says the 250 never went out."""
    fresh.use(scenario({"on": "end_of_data", "delay": 5}, close_after=0.5))
    with Raw(fresh) as conn:
        assert conn.code() == 220
        assert conn.command("EHLO x")[-1].startswith(b"250 ")
        assert conn.command("MAIL FROM:<a@x.test>")[-1].startswith(b"250 ")
        assert conn.command("RCPT TO:<b@x.test>")[-1].startswith(b"250 ")
        assert conn.command("DATA")[-1].startswith(b"354 ")
        conn.send(b"Subject: s\r\n\r\nbody\r\n.\r\n")
        assert conn.reply()[0].startswith(b"421 4.3.2 ")  # no 250 came first
    (session,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 2)
    (message,) = session.messages
    accepted = session.end_of_data(message)
    assert accepted is not None and accepted.reply is not None
    assert accepted.reply.text.startswith("250 ") and not accepted.reply.delivered
