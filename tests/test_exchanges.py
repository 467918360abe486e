"""SessionRecord.exchanges(): each line the client sent with the reply that answered it, found by
counting (RFC 5321 §4.2, RFC 2920 §3.1), on sessions the engine played on the FakeClock (no
sockets, no sleeps); end_of_data(message): the "." (or BDAT LAST) and the 250 that accepted it.
The README's example runs the same on a real socket with smtplib (tests/test_readme.py), and
tests/sidecar/test_remote.py reads them back from a sidecar."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from smtpfake.engine.records import TranscriptEntry
from smtpfake.exchanges import Exchange, pair
from smtpfake.journal import SessionRecord

from .support import scenario
from .support.engine import Engine
from .support.pipe import Pipe


def paired(record: SessionRecord) -> list[tuple[str, str | None]]:
    """(the line, its reply's first line or None) for each exchange."""
    return [
        (x.command.text, x.reply.lines[0] if x.reply is not None else None)
        for x in record.exchanges()
    ]


def session(ref: object = "default", **kw: object) -> Pipe:
    p = Pipe(Engine(ref), **kw)  # type: ignore[arg-type]
    p.connect()
    return p


def test_a_pipelined_group_s_replies_come_after_its_lines_and_pair_in_order() -> None:
    p = session()
    p.feed("EHLO c.test")
    p.feed(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n")
    p.feed(b"Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    texts = [e.text.split("\n")[0] for e in p.record.transcript]
    assert texts.index("MAIL FROM:<a@x.test>") + 4 == texts.index("250 2.1.0 Ok")  # the group
    assert paired(p.record) == [
        ("EHLO c.test", "250-smtpfake.test"),
        ("MAIL FROM:<a@x.test>", "250 2.1.0 Ok"),
        ("RCPT TO:<b@x.test>", "250 2.1.5 Ok"),
        ("RCPT TO:<c@x.test>", "250 2.1.5 Ok"),
        ("DATA", "354 End data with <CR><LF>.<CR><LF>"),
        (".", "250 2.0.0 Ok: queued as SF000001"),  # the message text is no command
        ("QUIT", "221 2.0.0 Bye"),
    ]
    exchange = p.record.exchanges()[1]
    assert isinstance(exchange, Exchange) and exchange.code == 250
    assert str(exchange) == "C: MAIL FROM:<a@x.test> -> 250 2.1.0 Ok"


def test_an_early_talker_s_line_before_the_greeting_is_answered_after_it() -> None:
    p = Pipe(Engine("dripping-greeting"))
    assert p.connect(hold=True) == b"220 "
    p.feed("EHLO early.test")  # during the greeting's drip: recorded before the 220
    p.release()
    p.feed("QUIT")
    assert p.record.transcript[0].text == "EHLO early.test"
    assert paired(p.record) == [("EHLO early.test", "250-smtpfake.test"), ("QUIT", "221 2.0.0 Bye")]


def test_each_auth_line_has_its_own_reply() -> None:
    p = session(scenario(auth={"mechanisms": ["LOGIN"], "users": {"ann": "secret"}}))
    p.feed("EHLO c.test")
    p.feed("AUTH LOGIN")
    p.feed(base64.b64encode(b"ann").decode())
    p.feed(base64.b64encode(b"secret").decode())
    assert paired(p.record)[1:] == [
        ("AUTH LOGIN", "334 VXNlcm5hbWU6"),
        ("(auth response)", "334 UGFzc3dvcmQ6"),
        ("(auth response)", "235 2.7.0 Authentication successful"),
    ]


def test_bdat_chunks_are_no_command_and_each_bdat_has_its_reply() -> None:
    p = session(scenario(extensions_add=["CHUNKING"]))
    p.feed("EHLO c.test")
    p.feed(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nBDAT 3\r\nabcBDAT 2 LAST\r\nde")
    assert "(chunk data, 3 octets)" in [e.text for e in p.record.transcript]
    assert paired(p.record)[3:] == [
        ("BDAT 3", "250 2.0.0 Ok: 3 octets received"),
        ("BDAT 2 LAST", "250 2.0.0 Ok: queued as SF000001"),
    ]
    (message,) = p.record.messages
    end = p.record.end_of_data(message)
    assert end is not None and end.command.text == "BDAT 2 LAST" and end.code == 250
    assert end.command.time <= message.time <= end.reply.time  # type: ignore[union-attr]


def test_a_reply_the_client_left_still_answers_its_command() -> None:
    p = session(scenario({"on": "noop", "delay": 5}))
    p.feed("EHLO c.test")
    p.feed("NOOP", hold=True)  # its 250 waits 5 s
    p.lost()  # the client resets meanwhile
    (_, noop) = p.record.exchanges()
    assert noop.command.text == "NOOP" and noop.code == 250
    assert noop.reply is not None and not noop.reply.delivered


def test_lines_after_the_server_s_last_reply_and_a_cut_line_are_never_answered() -> None:
    p = session()
    p.feed(b"EHLO c.test\r\nQUIT\r\nNOOP\r\n")  # NOOP after QUIT: in the grace period
    p.feed(b"RSET")  # no CRLF: cut short by the close
    p.eof()
    assert paired(p.record) == [
        ("EHLO c.test", "250-smtpfake.test"),
        ("QUIT", "221 2.0.0 Bye"),
        ("NOOP", None),
        ("RSET", None),
    ]


def test_an_unsolicited_421_answers_no_command() -> None:
    """RFC 5321 §3.8: the client "will normally read the 421 response code after sending its
    next command": that command has no reply of its own."""
    p = session(scenario(idle_timeout=30))
    p.feed("EHLO c.test")
    p.fire("idle")
    p.feed("MAIL FROM:<a@x.test>")
    record = p.record
    assert [e.rule for e in record.transcript if e.text.startswith("421")] == ["server.idle"]
    assert paired(record) == [("EHLO c.test", "250-smtpfake.test"), ("MAIL FROM:<a@x.test>", None)]


def test_a_command_a_close_fault_never_answered_has_none() -> None:
    p = session(scenario({"on": "rcpt", "disconnect": True}))
    p.feed("EHLO c.test")
    p.feed("MAIL FROM:<a@x.test>")
    p.feed("RCPT TO:<b@x.test>")
    assert paired(p.record)[-1] == ("RCPT TO:<b@x.test>", None)


def test_a_client_line_that_looks_like_a_note_is_still_a_command() -> None:
    """A note is told by its flag (TranscriptEntry.note), not its text: a client may send
    anything."""
    p = session()
    p.feed("(message data, 5 bytes)")
    p.feed("(hello)")
    assert [x.code for x in p.record.exchanges()] == [500, 500]


def test_a_transcript_whose_start_was_dropped_pairs_what_is_kept() -> None:
    """Past the journal's entries limit the oldest go: the first kept reply is no greeting,
    and a reply to a command no longer kept is left out."""
    p = session()
    p.feed("EHLO c.test")
    p.feed("NOOP")
    p.feed("RSET")
    whole = p.record.transcript
    kept = whole[4:]  # from the NOOP's reply on (the EHLO, its reply and the NOOP are gone)
    assert [e.text for e in kept[:2]] == ["250 2.0.0 Ok", "RSET"]
    assert [(x.command.text, x.code) for x in pair(kept, whole=False)] == [("RSET", 250)]


def test_end_of_data_finds_each_message_s_dot_and_250() -> None:
    p = session()
    p.feed("EHLO c.test")
    for subject in ("one", "two"):
        p.feed(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n")
        p.feed(f"Subject: {subject}\r\n\r\nhi\r\n.\r\n".encode())
    p.feed("QUIT")
    record = p.record
    first, second = record.messages
    ends = [record.end_of_data(m) for m in (first, second)]
    dots = [x for x in record.exchanges() if x.command.text == "."]
    assert ends == dots
    for message, end in zip((first, second), ends, strict=True):
        assert end is not None and end.reply is not None
        assert end.reply.text == f"250 2.0.0 Ok: queued as {message.queue_id}"
        assert message.time == end.command.time
    other = replace(first, queue_id="SF999999", data=b"x")
    with pytest.raises(ValueError, match="SF999999 is not one of session 1's"):
        record.end_of_data(other)


def test_a_refused_message_end_is_not_an_acceptance() -> None:
    p = session(scenario({"on": "end_of_data", "nth": 1, "reply": "451 4.3.0 try later"}))
    p.feed("EHLO c.test")
    for _ in range(2):
        p.feed(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n")
        p.feed(b"Subject: x\r\n\r\nhi\r\n.\r\n")
    record = p.record
    (message,) = record.messages  # the second
    end = record.end_of_data(message)
    assert [x.code for x in record.exchanges() if x.command.text == "."] == [451, 250]
    assert end is not None and end.code == 250 and end.command.time == message.time


def test_an_exchange_is_frozen_data() -> None:
    entry = TranscriptEntry(1.0, "client", "NOOP")
    exchange = Exchange(entry, None)
    assert exchange.code is None and str(exchange) == "C: NOOP"
    with pytest.raises(AttributeError):
        exchange.reply = entry  # type: ignore[misc]


def test_starttls_s_note_is_no_reply() -> None:
    """RFC 3207: STARTTLS gets its 220, then the handshake ("(TLS established: ...)", a note
    of the server's, no reply), then the client greets again."""
    engine = Engine(scenario(tls=True))
    d = engine.open()
    d.connect()
    d.send("EHLO c.test")
    d.send("STARTTLS")
    d.event(d.session.tls_started("TLSv1.3", "TLS_AES_128_GCM_SHA256"))
    d.send("EHLO c.test")
    (record,) = engine.journal.sessions()
    assert "(TLS established: TLSv1.3, TLS_AES_128_GCM_SHA256)" in record.replies
    assert [(x.command.text, x.code) for x in record.exchanges()] == [
        ("EHLO c.test", 250),
        ("STARTTLS", 220),
        ("EHLO c.test", 250),
    ]


def test_a_line_cut_short_is_never_answered_even_by_a_reply_after_it() -> None:
    """An unfinished line (delivered False: its line ending never came) is never a command the
    server answered, so a reply on no command after it (smtpfake's own 451, say) is not its."""
    entries = [
        TranscriptEntry(0.0, "server", "220 ready"),
        TranscriptEntry(0.1, "client", "NOOP"),
        TranscriptEntry(0.1, "server", "250 2.0.0 Ok"),
        TranscriptEntry(0.2, "client", "QUI", delivered=False),
        TranscriptEntry(0.3, "server", "451 4.3.0 smtpfake internal error"),
    ]
    assert [(x.command.text, x.code) for x in pair(entries)] == [("NOOP", 250), ("QUI", None)]
