"""What a closing connection leaves unfinished (issue 7), on the FakeClock: message text the
client's close cut short is recorded as unfinished message data at its last octet's time; a
command line without its CRLF is recorded and judged but never carried out; an over-long line
without its LF is recorded and judged as one with it; nothing the client sent is placed after
the close that ended it. No sockets, no sleeps."""

from __future__ import annotations

from typing import Any

import pytest

from smtpfake.engine.connection import LINE_LIMIT

from ..support.engine import Engine
from ..support.pipe import Pipe

IN_DATA = ("EHLO c.test", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>", "DATA")


def pipe(ref: Any = "default") -> Pipe:
    return Pipe(Engine(ref))


def in_data() -> Pipe:
    p = pipe()
    p.connect()
    for line in IN_DATA:
        p.feed(line)
    assert p.wire.endswith(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    return p


def since(p: Pipe, t0: float) -> list[tuple[float, str]]:
    return [(round(e.time - t0, 6), e.text) for e in p.record.transcript]


def kinds(p: Pipe) -> list[str]:
    return [v.kind for v in p.record.violations]


def in_order(p: Pipe) -> bool:
    times = [e.time for e in p.record.transcript]
    return times == sorted(times)


# -- E1: the client closes in the middle of the message ----------------------------------------


def test_a_close_mid_message_records_the_text_it_got_at_the_close() -> None:
    """The message ends at the close that cut it short (a whole one ends at its ".")."""
    p = in_data()
    t0 = p.engine.clock.now()
    p.feed(b"Subject: x\r\n\r\nline one\r\n")
    p.engine.advance(0.5)
    p.feed(b"partial")  # no line ending: still message text
    p.engine.advance(0.25)
    assert p.eof() == b""
    p.finish()
    assert since(p, t0)[-2:] == [
        (0.75, "(message data, 31 bytes, unfinished)"),  # 24 + 7, the last octet at 0.5
        (0.75, "(client closed the connection)"),
    ]
    assert p.engine.journal.messages() == ()  # not accepted
    assert kinds(p) == ["no-quit"]
    assert in_order(p)


def test_a_close_after_whole_lines_of_text_records_them_unfinished() -> None:
    p = in_data()
    t0 = p.engine.clock.now()
    p.engine.advance(0.1)
    p.feed(b"Subject: x\r\n\r\nbody\r\n")
    p.engine.advance(0.4)
    p.lost(reset=True)
    assert since(p, t0)[-2:] == [
        (0.5, "(message data, 20 bytes, unfinished)"),  # the lines came at 0.1
        (0.5, "(client reset the connection)"),
    ]
    assert p.engine.journal.messages() == ()


def test_a_close_right_after_the_354_records_no_message_data() -> None:
    """The client sent nothing after the 354: no text entry (none was sent); the close says it."""
    p = in_data()
    t0 = p.engine.clock.now()
    p.engine.advance(1.0)
    p.eof()
    p.finish()
    assert since(p, t0)[-2:] == [
        (0.0, "354 End data with <CR><LF>.<CR><LF>"),
        (1.0, "(client closed the connection)"),
    ]
    assert kinds(p) == ["no-quit"]


def test_a_server_stop_right_after_the_354_records_no_message_data() -> None:
    p = in_data()
    p._carry(p.conn.shutting_down("stop", 0.0), False)
    p.finish()
    texts = [e.text for e in p.record.transcript]
    assert texts[-3:] == [
        "354 End data with <CR><LF>.<CR><LF>",
        "421 4.3.2 smtpfake.test Service not available, closing transmission channel",
        "(connection closed: server stopping)",
    ]


def test_an_empty_line_after_the_354_is_text() -> None:
    """An empty line is two octets of text (its CRLF): the message is unfinished, not empty."""
    p = in_data()
    p.feed(b"\r\n")
    p.eof()
    p.finish()
    assert p.record.transcript[-2].text == "(message data, 2 bytes, unfinished)"


@pytest.mark.parametrize(
    ("sent", "text"),
    [
        (b"a\r\n.", "(message data, 3 bytes, unfinished)"),
        (b"a\r\n.\r", "(message data, 3 bytes, unfinished)"),  # the CR is the "."'s, not text
        (b".", "(message data, 0 bytes, unfinished)"),  # something came: the "." begun
        (b".\r", "(message data, 0 bytes, unfinished)"),
        (b"a\r\n..", "(message data, 4 bytes, unfinished)"),  # a stuffed dot is text
        (b"a\r\nb\r", "(message data, 5 bytes, unfinished)"),  # a text line's CR is text
    ],
)
def test_the_final_dot_begun_is_not_counted_as_text(sent: bytes, text: str) -> None:
    """Octets of text the client sent, dot-unstuffed, as a whole message counts them: the
    final "." line it began (".", ".\r") is the end of the text, not text."""
    p = in_data()
    p.feed(sent)
    p.eof()
    p.finish()
    assert p.record.transcript[-2].text == text
    assert p.engine.journal.messages() == ()
    assert "bare-cr" not in kinds(p)


def test_a_lone_dot_without_its_line_ending_does_not_end_the_message() -> None:
    """RFC 5321 §4.1.1.4: the message ends with <CRLF>.<CRLF>; a "." the close cut short is
    the start of a line (dot-unstuffed: no octets), the message unfinished."""
    p = in_data()
    p.feed(b"hello\r\n.")
    assert p.eof() == b""
    p.finish()
    assert p.record.transcript[-2].text == "(message data, 7 bytes, unfinished)"
    assert p.engine.journal.messages() == ()


def test_text_the_client_pipelined_behind_a_delayed_354_then_closed() -> None:
    """The lines wait while the 354 is written; the close gives it up; they are still read into
    the unfinished message, recorded before the close."""
    p = pipe({"rules": [{"on": "data", "delay": 2}]})
    p.connect()
    for line in IN_DATA[:3]:
        p.feed(line)
    t0 = p.engine.clock.now()
    p.feed(b"DATA\r\nSubject: x\r\n\r\nhi\r\n", hold=True)  # the 354 waits 2 s
    p.engine.advance(0.5)
    p.eof()
    p.finish()
    texts = [text for _, text in since(p, t0)]
    assert texts[-3:] == [
        "(message data, 18 bytes, unfinished)",
        "354 End data with <CR><LF>.<CR><LF>",
        "(client closed the connection)",
    ]
    assert not p.record.transcript[-2].delivered
    assert in_order(p)


# -- E2: a command line without its CRLF is never carried out ----------------------------------


def test_an_unterminated_command_is_recorded_and_judged_not_answered() -> None:
    p = pipe()
    p.connect()
    t0 = p.engine.clock.now()
    p.feed(b"QUI")
    p.engine.advance(0.5)
    assert p.eof() == b""  # no 500 for "QUI"
    p.finish()
    # stamped when its last octet came, marked unfinished (its CRLF never came)
    assert since(p, t0)[-2:] == [(0.0, "QUI"), (0.5, "(client closed the connection)")]
    assert not p.record.transcript[-2].delivered
    assert str(p.record.transcript[-2]) == "C: QUI   (unfinished: no line ending)"
    assert [(v.kind, round(v.time - t0, 6)) for v in p.record.violations] == [
        ("unterminated-line", 0.0),
        ("no-quit", 0.5),
    ]


def test_an_unterminated_auth_response_is_masked_and_not_answered() -> None:
    from ..auth.helpers import auth_scenario

    p = pipe(auth_scenario())
    p.connect()
    p.feed("EHLO c.test")
    assert p.feed("AUTH LOGIN").startswith(b"334 ")
    p.feed(b"c2VjcmV0")
    assert p.eof() == b""
    p.finish()
    texts = [e.text for e in p.record.transcript]
    assert texts[-2:] == ["(auth response)", "(client closed the connection)"]
    assert "c2VjcmV0" not in str(p.record)
    assert "unterminated-line" in kinds(p)


def test_a_reset_mid_message_counts_the_waiting_fragment_before_the_421() -> None:
    p = in_data()
    p.feed(b"Subject: x\r\n\r\nline one\r\npart")
    p._carry(p.conn.shutting_down("reset", 1.0), False)
    p.fire("grace")
    p.finish()
    texts = [e.text for e in p.record.transcript]
    assert texts[-3:] == [
        "(message data, 28 bytes, unfinished)",  # 24 + "part"
        "421 4.3.2 smtpfake.test Service not available, closing transmission channel",
        "(connection closed: server reset)",
    ]
    assert in_order(p)


def test_a_stop_without_grace_mid_message_counts_the_fragment_too() -> None:
    p = in_data()
    p.feed(b"half a message")
    p._carry(p.conn.shutting_down("stop", 0.0), False)
    p.finish()
    texts = [e.text for e in p.record.transcript]
    assert texts[-3:] == [
        "(message data, 14 bytes, unfinished)",
        "421 4.3.2 smtpfake.test Service not available, closing transmission channel",
        "(connection closed: server stopping)",
    ]


def test_the_idle_timeout_mid_message_counts_the_fragment() -> None:
    p = Pipe(Engine({"server": {"idle_timeout": 5}}))
    p.connect()
    for line in IN_DATA:
        p.feed(line)
    p.feed(b"abc")
    p.fire("idle")
    assert p.record.transcript[-3].text == "(message data, 3 bytes, unfinished)"
    assert p.record.transcript[-2].text.startswith("421 4.4.2 ")


# -- E3: an over-long line the close cut short ---------------------------------------------------


def test_an_over_long_line_without_its_lf_is_recorded_and_judged_at_the_close() -> None:
    p = pipe()
    p.connect()
    t0 = p.engine.clock.now()
    for _ in range(300):  # 300,000 octets in reads of 1,000: discarded as they come
        p.feed(b"X" * 1000)
        p.engine.advance(0.001)
    assert p.wire.count(b"\r\n") == 1  # the greeting only: nothing answered yet
    p.engine.advance(0.5)
    assert p.eof() == b""
    p.finish()
    (when, line), closed = since(p, t0)[-2:]
    assert line == "X" * 512 + "... (over-long line of 300,000 octets, discarded)"
    assert when == 0.299 and closed == (0.8, "(client closed the connection)")  # its last octet
    assert not p.record.transcript[-2].delivered
    assert kinds(p) == ["unterminated-line", "line-too-long", "no-quit"]
    assert "300000 octets" in p.record.violations[1].detail


def test_an_over_long_line_with_its_lf_is_recorded_the_same_way_and_answered() -> None:
    p = pipe()
    p.connect()
    p.feed(b"NOOP " + b"y" * 2000)
    assert p.feed(b"y" * 995 + b"\r\n") == b"500 5.5.6 Line too long\r\n"
    line = p.record.transcript[-2].text
    assert line == "NOOP " + "y" * 507 + "... (over-long line of 3,002 octets, discarded)"
    assert [(v.kind, v.command) for v in p.record.violations] == [("line-too-long", "NOOP")]


def test_an_over_long_line_buffered_behind_a_reply_is_judged_at_the_close() -> None:
    p = pipe({"rules": [{"on": "helo", "delay": 2}]})
    p.connect()
    p.feed(b"EHLO c.test\r\n" + b"Z" * (LINE_LIMIT + 10), hold=True)  # read while EHLO waits
    p.lost(reset=True)
    texts = [e.text for e in p.record.transcript]
    assert texts[-1] == "(client reset the connection)"
    # its octets came with the EHLO's, before the 250 went out, and it never ended: before it
    assert texts[-3] == "Z" * 512 + f"... (over-long line of {LINE_LIMIT + 10:,} octets, discarded)"
    assert texts[-2].startswith("250-") and not p.record.transcript[-3].delivered
    assert "line-too-long" in kinds(p) and "unterminated-line" in kinds(p)
    assert in_order(p)


# -- the close's time for what it cut short keeps the record in time order ---------------------


def test_a_half_closed_line_is_stamped_at_its_octets_before_the_reply_behind_it() -> None:
    """``EHLO x\\r\\nQUIT`` in one read, then the EOF: the EHLO's 250 goes out later than the
    QUIT's octets came; the QUIT never ended, so it is recorded at its last octet, before that
    250, which waits in the record until the line is cut (README's half-close)."""
    p = pipe({"rules": [{"on": "ehlo", "delay": 0.2}]})
    p.connect()
    t0 = p.engine.clock.now()
    p.feed(b"EHLO x\r\nQUIT")  # the 250 waits 0.2 s
    p.engine.advance(0.5)
    assert p.eof() == b""  # no 221: the QUIT was never sent
    p.finish()
    assert [(t, text.split("\n")[0]) for t, text in since(p, t0)[-4:]] == [
        (0.0, "EHLO x"),
        (0.0, "QUIT"),
        (0.2, "250-smtpfake.test"),
        (0.7, "(client closed the connection)"),
    ]
    assert in_order(p)
    assert [e.delivered for e in p.record.transcript[-4:]] == [True, False, True, True]
    assert [(v.kind, round(v.time - t0, 6)) for v in p.record.violations] == [
        ("unterminated-line", 0.0),
        ("no-quit", 0.7),
    ]


def test_a_fragment_of_text_behind_a_paced_354_ends_the_message_at_the_close() -> None:
    """DATA, text and a last piece without its LF in one read; the 354 goes out later than the
    text came; the unfinished message ends at the close, after the 354."""
    p = pipe({"rules": [{"on": "data", "delay": 0.2}]})
    p.connect()
    for line in IN_DATA[:3]:
        p.feed(line)
    t0 = p.engine.clock.now()
    p.feed(b"DATA\r\nSubject: x\r\n\r\npart")
    p.engine.advance(0.5)
    p.eof()
    p.finish()
    assert since(p, t0)[-4:] == [
        (0.0, "DATA"),
        (0.2, "354 End data with <CR><LF>.<CR><LF>"),
        (0.7, "(message data, 18 bytes, unfinished)"),
        (0.7, "(client closed the connection)"),
    ]
    assert in_order(p)


def test_a_violation_about_no_command_names_none() -> None:
    p = pipe()
    p.connect()
    p.feed(b"EHLO x\r\nMAIL FROM:<a@x>\r\nNOOP\r\n")
    p.eof()
    p.finish()
    no_quit = p.record.violations[-1]
    assert no_quit.kind == "no-quit" and no_quit.command == ""
    assert str(no_quit) == "no-quit: the client closed the connection without QUIT"
    assert "(on '')" not in p.record.format()
    assert str(p.record.violations[0]).endswith("(on 'MAIL')")  # one about a command names it
