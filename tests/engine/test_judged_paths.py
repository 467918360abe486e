"""Every way a line is answered is judged the same way: the next command's pipelining is judged
against it, and a line sent before the reply that closes is judged as the pipelined command it
is, not as sent after the close. On the FakeClock through the engine's Connection (no sockets)."""

from __future__ import annotations

from typing import Any

import pytest

from smtpfake.engine.session import IDLE_TIMER

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

LONG = b"EHLO " + b"x" * 1000 + b"\r\n"  # more than the reader holds (1001 octets): discarded
AUTH = {"users": {"alice": "a"}}
CHUNKING = ["CHUNKING"]
TRANSACTION = ("EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>")

# (id, scenario, lines sent one by one first, reads (fed while any pacing holds), the
# violations, the command the pipelining violation names as the one whose reply was not awaited)
PATHS: list[tuple[str, dict[str, Any], tuple[str, ...], tuple[bytes, ...], list[str], str]] = [
    (
        "over-long line, discarded",
        scenario(),
        (),
        (LONG + b"NOOP\r\nQUIT\r\n",),
        ["line-too-long", "pipelining-without-extension"],
        "EHLO",
    ),
    (
        "over-long line in two reads",
        scenario(),
        (),
        (LONG[:700], LONG[700:] + b"NOOP\r\n"),
        ["line-too-long", "pipelining-without-extension"],
        "EHLO",
    ),
    (
        "over-long line the reader holds",
        scenario(),
        (),
        (b"EHLO " + b"x" * 600 + b"\r\nNOOP\r\n",),
        ["line-too-long", "pipelining-without-extension"],
        "EHLO",
    ),
    (
        # with PIPELINING, a command behind MAIL is no mistake; judged against EHLO it would be
        "over-long MAIL after EHLO",
        scenario(),
        ("EHLO c.test",),
        (b"MAIL FROM:<" + b"x" * 1000 + b">\r\nNOOP\r\n",),
        ["line-too-long"],
        "",
    ),
    (
        "bare LF refused",
        scenario(bare_lf="reject"),
        (),
        (b"EHLO c.test\nNOOP\r\n",),
        ["bare-lf", "pipelining-without-extension"],
        "EHLO",
    ),
    (
        "bare LF disconnect",
        scenario(bare_lf="disconnect"),
        (),
        (b"EHLO c.test\nNOOP\r\n",),
        ["bare-lf", "pipelining-without-extension"],
        "EHLO",
    ),
    (
        "unknown command",
        scenario(),
        (),
        (b"FOO\r\nNOOP\r\n",),
        ["pipelining-without-extension"],
        "FOO",
    ),
    (
        "over-long AUTH response before the 334",
        scenario(auth=AUTH),
        ("EHLO c.test",),
        (b"AUTH LOGIN\r\n" + b"x" * 1200 + b"\r\nNOOP\r\n",),
        ["bad-pipelining"],
        "",
    ),
    (
        "BDAT chunk",
        scenario(extensions_add=CHUNKING),
        TRANSACTION,
        (b"BDAT 5 LAST\r\nhelloNOOP\r\n",),
        [],
        "",
    ),
    (
        "a line during a delayed reply",
        scenario({"on": "noop", "delay": 2}),
        (),
        (b"NOOP\r\n", b"RSET\r\n"),
        ["pipelining-without-extension"],
        "NOOP",
    ),
]


@pytest.mark.parametrize(
    ("scen", "before", "reads", "expected", "previous"),
    [pytest.param(*case[1:], id=case[0]) for case in PATHS],
)
def test_each_way_a_line_is_answered_is_judged_alike(
    scen: dict[str, Any],
    before: tuple[str, ...],
    reads: tuple[bytes, ...],
    expected: list[str],
    previous: str,
) -> None:
    p = Pipe(Engine(scen))  # type: ignore[arg-type]
    p.connect()
    for line in before:
        assert p.feed(line)[:1] in (b"2", b"3")
    for data in reads:
        p.feed(data, hold=True)
    p.release()
    violations = p.record.violations
    assert [v.kind for v in violations] == expected  # never early-talker: the greeting was out
    for v in violations:
        if "pipelining" in v.kind and previous:
            assert f"before the reply to {previous}" in v.detail, v.detail


# -- lines behind a reply that closes ------------------------------------------------------------

# (id, scenario, lines first, one read, violations)
CLOSING: list[tuple[str, dict[str, Any], tuple[str, ...], bytes, list[str]]] = [
    (
        # the 421 replaced the EHLO reply, so PIPELINING was never offered
        "a rule's 421 to EHLO",
        scenario({"on": "ehlo", "reply": "421 4.3.2 go away"}),
        (),
        b"EHLO x\r\nNOOP\r\n",
        ["pipelining-without-extension"],
    ),
    (
        "bare_lf disconnect",
        scenario(bare_lf="disconnect"),
        (),
        b"EHLO x\nNOOP\r\nRSET\r\n",
        ["bare-lf", "pipelining-without-extension"],
    ),
    ("QUIT's 221", scenario(), ("EHLO c.test",), b"QUIT\r\nNOOP\r\n", ["bad-pipelining"]),
    (
        # RCPT may follow MAIL in a group (RFC 2920 §3.1): nothing to hold against the client
        "a rule's 421 to MAIL, pipelined as allowed",
        scenario({"on": "mail", "reply": "421 4.3.2 go away"}),
        ("EHLO c.test",),
        b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n",
        [],
    ),
]


@pytest.mark.parametrize(
    ("scen", "before", "data", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CLOSING],
)
def test_lines_sent_before_a_closing_reply_are_judged_as_pipelined(
    scen: dict[str, Any], before: tuple[str, ...], data: bytes, expected: list[str]
) -> None:
    p = Pipe(Engine(scen))  # type: ignore[arg-type]
    p.connect()
    for line in before:
        p.feed(line)
    p.feed(data)
    assert p.half_closed
    assert [v.kind for v in p.record.violations] == expected
    p.feed("NOOP")  # after the close was on the wire: sent after it
    assert [v.kind for v in p.record.violations] == [*expected, "sent-after-close"]


def test_lines_ahead_of_an_unsolicited_421_keep_rfc_5321_3_8s_exception() -> None:
    p = Pipe(Engine(scenario(idle_timeout=5)))
    p.connect()
    p.feed(b"NO")  # part of a line when the timer runs out
    p.engine.advance(5)
    assert p.fire(IDLE_TIMER).startswith(b"421 4.4.2 ")
    p.feed(b"OP\r\n")  # the one command it may send before reading the 421
    assert p.record.violations == ()
    p.feed("RSET")
    assert [v.kind for v in p.record.violations] == ["sent-after-close"]


def test_message_text_ahead_of_a_cut_is_not_judged_as_commands() -> None:
    p = Pipe(Engine(scenario({"on": "data", "cut_body": {"after_bytes": 4, "how": "close"}})))
    p.connect()
    for line in TRANSACTION:
        p.feed(line)
    p.feed("DATA")
    p.feed(b"Subject: a\r\n\r\nhello\r\n.\r\n")
    assert p.half_closed
    assert p.record.violations == ()
