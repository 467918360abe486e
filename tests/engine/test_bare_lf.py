"""A bare LF (RFC 5321 §2.3.8) and ``server.bare_lf`` (engine/bare_lf.py), on the FakeClock: what
ends the message under each policy (the 2023 "SMTP smuggling" shapes), that ``bare-lf`` is
recorded in every case, and the refusals of ``reject`` and ``disconnect``. No sockets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe
from .test_split_property import split

TRANSACTION = ("EHLO c.test", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>", "DATA")
#: after the first message's text: a second transaction, smuggled if the first has ended
SMUGGLED = b"MAIL FROM:<evil@x.test>\r\nRCPT TO:<v@d.test>\r\nDATA\r\nsmuggled\r\n.\r\n"
#: the message's text then a final "." that is not <CRLF>.<CRLF>
SHAPES = [b"x\n.\r\n", b"x\r\n\n.\n", b"x\r\n.\n", b"\n.\n"]
REFUSED = b"550 5.5.2 smtpfake.test Error: bare <LF> received\r\n"


def in_data(policy: str | None = None, bare_cr: str = "accept") -> Pipe:
    p = Pipe(Engine(scenario(bare_lf=policy, bare_cr=bare_cr) if policy else "default"))
    p.connect()
    for line in TRANSACTION:
        p.feed(line)
    assert p.wire.endswith(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    return p


def kinds(p: Pipe) -> list[str]:
    return [v.kind for v in p.record.violations]


@pytest.mark.parametrize("shape", SHAPES)
def test_by_default_a_dot_line_with_a_bare_lf_ends_the_message_and_is_recorded(
    shape: bytes,
) -> None:
    """The lenient default (Postfix before 3.9): the message ends there, and the smuggled
    lines run as commands: two messages, the client's bare LF in the record."""
    p = in_data()
    out = p.feed(shape + SMUGGLED + b"QUIT\r\n")
    assert out.count(b"250 2.0.0 Ok: queued as") == 2 and out.endswith(b"221 2.0.0 Bye\r\n")
    assert len(p.engine.journal.messages()) == 2
    assert "bare-lf" in kinds(p)


@pytest.mark.parametrize("policy", ["normalize", "reject", "disconnect"])
@pytest.mark.parametrize("shape", SHAPES)
def test_with_a_policy_only_crlf_dot_crlf_ends_the_message(policy: str, shape: bytes) -> None:
    """The smuggled transaction is text of the first message, up to its <CRLF>.<CRLF>."""
    p = in_data(policy)
    out = p.feed(shape + SMUGGLED)
    messages = p.engine.journal.messages()
    if policy == "normalize":
        assert out == b"250 2.0.0 Ok: queued as SF000001\r\n"
        (message,) = messages
        assert b"MAIL FROM:<evil@x.test>\r\n" in message.data  # text, kept as sent
        assert message.data.startswith(shape.replace(b"\n.", b"\n"))  # dot-unstuffed
    else:
        assert out == REFUSED.replace(b"550", b"521" if policy == "disconnect" else b"550")
        assert messages == ()
    assert kinds(p) == ["bare-lf"]


def test_normalize_accepts_bare_lf_lines_ended_properly() -> None:
    p = in_data("normalize")
    assert p.feed(b"Subject: x\n\nbody\n.\r\n") == b""  # "\n.\r\n": not the end yet
    assert p.feed(b"more\r\n.\r\n") == b"250 2.0.0 Ok: queued as SF000001\r\n"
    (message,) = p.engine.journal.messages()
    assert message.data == b"Subject: x\n\nbody\n\r\nmore\r\n"
    assert kinds(p) == ["bare-lf"]


def test_the_end_after_a_long_line_split_between_its_cr_and_lf() -> None:
    """A line over the reader's limit comes in pieces; its CRLF split between two pieces is
    still a CRLF: the "." after it ends the message."""
    p = in_data("normalize")
    assert p.feed(b"y" * 1000 + b"\r") == b""  # one piece (LINE_LIMIT octets), no LF yet
    assert p.feed(b"\n.\r\n") == b"250 2.0.0 Ok: queued as SF000001\r\n"
    assert "bare-lf" not in kinds(p)


@pytest.mark.parametrize("split", [False, True])
def test_a_message_in_one_block_or_line_by_line_ends_alike(split: bool) -> None:
    """The connection's block path (several lines at once) and its line path agree."""
    p = in_data("reject")
    text = b"a\r\nb\nc\r\n.\r\n"
    pieces = [bytes([octet]) for octet in text] if split else [text]
    assert b"".join(p.feed(piece) for piece in pieces) == REFUSED


@pytest.mark.parametrize("policy", ["accept", "normalize"])
def test_a_command_with_a_bare_lf_is_carried_out_and_recorded(policy: str) -> None:
    p = Pipe(Engine(scenario(bare_lf=policy)))
    p.connect()
    assert p.feed(b"EHLO c.test\n").startswith(b"250-smtpfake.test")
    assert kinds(p) == ["bare-lf"]


def test_reject_refuses_a_command_with_a_bare_lf_and_goes_on() -> None:
    p = Pipe(Engine(scenario(bare_lf="reject")))
    p.connect()
    assert p.feed(b"EHLO c.test\n") == REFUSED
    assert p.feed(b"EHLO c.test\r\n").startswith(b"250-smtpfake.test")
    assert p.feed(b"MAIL FROM:<a@b.test>\n") == REFUSED  # not carried out: no transaction
    assert p.feed(b"RCPT TO:<c@d.test>\r\n").startswith(b"503 5.5.1 ")
    assert kinds(p) == ["bare-lf", "bad-sequence"]  # bare-lf told once a session in commands


def test_disconnect_answers_521_and_closes_without_blaming_the_client() -> None:
    p = Pipe(Engine(scenario(bare_lf="disconnect")))
    p.connect()
    assert p.feed(b"EHLO c.test\nQUIT\r\n") == REFUSED.replace(b"550", b"521")
    assert p.half_closed  # the server closed (its half: the client may still be reading)
    p.eof()
    p.finish()
    texts = [e.text for e in p.record.transcript]
    assert texts[-3:] == [
        "521 5.5.2 smtpfake.test Error: bare <LF> received",
        "(connection closed)",
        "(client closed the connection)",
    ]
    # no no-quit (the server hung up); QUIT came before the reply to EHLO (no PIPELINING was
    # offered): judged as the pipelined command it is, not as sent after the close
    assert kinds(p) == ["bare-lf", "pipelining-without-extension"]


def test_disconnect_at_the_end_of_a_message() -> None:
    p = in_data("disconnect")
    assert p.feed(b"a\nb\r\n.\r\n") == REFUSED.replace(b"550", b"521")
    assert p.half_closed  # the server closed (its half: the client may still be reading)
    assert p.engine.journal.messages() == ()


def test_a_rule_on_the_stage_may_answer_instead() -> None:
    rule = {"on": "end_of_data", "reply": "451 4.3.0 try later"}
    p = Pipe(Engine(scenario(rule, bare_lf="reject")))
    p.connect()
    for line in TRANSACTION:
        p.feed(line)
    assert p.feed(b"a\n.\r\n") == b""
    assert p.feed(b".\r\n") == b"451 4.3.0 try later\r\n"


#: lines of text a client with LF bugs sends, and the ways it may end the message
_TEXT = st.sampled_from(
    [
        *(b"a\r\n", b"b\n", b".\r\n", b".\n", b"..c\r\n", b"\r\n", b"\n", b"d\r", b".\r"),
        *(b"e\rf\r\n", b"y" * 1200 + b"\r\n"),
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["accept", "normalize", "reject", "disconnect"]),
    st.sampled_from(["accept", "reject", "disconnect"]),
    st.lists(_TEXT, max_size=12),
    st.lists(st.integers(0, 10**6), max_size=12),
)
def test_any_split_of_the_text_ends_the_message_alike(
    policy: str, bare_cr: str, lines: list[bytes], cuts: list[int]
) -> None:
    """Where the message ends and what is answered does not depend on how the octets were split
    in transit (the block path, the line path, a line in pieces): h11's property, per policy
    (``bare_lf`` and ``bare_cr``)."""
    text = b"".join(lines) + b"\r\n.\r\nQUIT\r\n"

    def replies(pieces: list[bytes]) -> tuple[bytes, list[str], int]:
        p = in_data(policy, bare_cr)
        start = len(p.wire)
        for piece in pieces:
            p.feed(piece)
        p.eof()
        p.finish()
        # (what a disconnect's close finds is sent-after-close or not by when it came: not here)
        told = [kind for kind in kinds(p) if kind.startswith("bare-")]
        return bytes(p.wire[start:]), told, len(p.engine.journal.messages())

    whole = replies([text])
    assert replies(split(text, cuts)) == whole
    assert replies([text[i : i + 1] for i in range(len(text))]) == whole
