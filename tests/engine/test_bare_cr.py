"""A bare CR (RFC 5321 §2.3.8) and ``server.bare_cr`` (engine/bare_lf.py); bare LF and CR in AUTH
response lines and BDAT command lines under both policies. On the FakeClock, no sockets."""

from __future__ import annotations

import base64

import pytest

from smtpfake.visible import visible

from ..support import scenario
from ..support.engine import Engine
from ..support.pipe import Pipe

TRANSACTION = ("EHLO c.test", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>")
REFUSED_CR = b"550 5.5.2 smtpfake.test Error: bare <CR> received\r\n"
REFUSED_LF = b"550 5.5.2 smtpfake.test Error: bare <LF> received\r\n"
#: a message ended by <CR>.<CR> (the smuggling shape a server reading CR as a line end takes as
#: the end), then a second transaction and the real end
SMUGGLING = b"x\r.\rMAIL FROM:<evil@x.test>\r\nRCPT TO:<v@d.test>\r\nDATA\r\nhi\r\n.\r\n"
AUTH = {"users": {"user": "pw"}}
CREDENTIALS = base64.b64encode(b"\0user\0pw")


def opened(**server: object) -> Pipe:
    p = Pipe(Engine(scenario(**server)))
    p.connect()
    return p


def kinds(p: Pipe) -> list[str]:
    return [v.kind for v in p.record.violations]


def in_data(**server: object) -> Pipe:
    p = opened(**server)
    for line in (*TRANSACTION, "DATA"):
        p.feed(line)
    assert p.wire.endswith(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    return p


@pytest.mark.parametrize("policy", ["accept", "reject", "disconnect"])
def test_cr_dot_cr_never_ends_the_message(policy: str) -> None:
    """A CR is no line end under any policy (as in Postfix): the "smuggled" commands are text
    of the one message, up to <CRLF>.<CRLF>; accepted or refused whole."""
    p = in_data(bare_cr=policy)
    out = p.feed(SMUGGLING)
    messages = p.engine.journal.messages()
    if policy == "accept":
        assert out == b"250 2.0.0 Ok: queued as SF000001\r\n"
        (message,) = messages
        assert message.data.startswith(b"x\r.\rMAIL FROM:<evil@x.test>\r\n")  # kept as sent
    else:
        code = b"521" if policy == "disconnect" else b"550"
        assert out == REFUSED_CR.replace(b"550", code)
        assert messages == ()
        assert p.half_closed is (policy == "disconnect")
    assert kinds(p) == ["bare-cr"]
    detail = p.record.violations[0].detail
    assert "§2.3.8" in detail and "the message" in detail


def test_accept_carries_out_a_command_with_a_bare_cr_and_records_it_visibly() -> None:
    p = opened()
    assert p.feed(b"NOOP\rx\r\n").startswith(b"500 5.5.2 Error: command ")  # no such verb
    assert p.feed(b"EHLO c.test\r\r\n").startswith(b"250-smtpfake.test")
    assert kinds(p) == ["bare-cr"]  # once a session in commands
    texts = [e.text for e in p.record.transcript if e.side == "client" and not e.note]
    assert texts[:2] == ["NOOP\rx", "EHLO c.test\r"]  # as sent; shown escaped:
    assert visible(texts[0]) == "NOOP\\x0dx"


@pytest.mark.parametrize("policy", ["reject", "disconnect"])
def test_a_command_with_a_bare_cr_is_refused(policy: str) -> None:
    p = opened(bare_cr=policy)
    out = p.feed(b"EHLO c.test\rMAIL FROM:<evil@x.test>\r\n")
    assert out == REFUSED_CR.replace(b"550", b"521" if policy == "disconnect" else b"550")
    if policy == "reject":
        assert p.feed(b"EHLO c.test\r\n").startswith(b"250-smtpfake.test")  # the session goes on
    else:
        assert p.half_closed
    assert kinds(p) == ["bare-cr"]


def test_a_bare_lf_policy_leaves_a_bare_cr_alone_and_the_other_way_round() -> None:
    p = opened(bare_lf="reject")
    assert p.feed(b"EHLO c.test\r\r\n").startswith(b"250-smtpfake.test")
    p = opened(bare_cr="reject")
    assert p.feed(b"EHLO c.test\n").startswith(b"250-smtpfake.test")


def test_with_both_refused_a_line_with_both_gets_the_lf_refusal() -> None:
    p = opened(bare_lf="reject", bare_cr="disconnect")
    assert p.feed(b"NOOP\rx\n") == REFUSED_LF
    assert kinds(p) == ["bare-lf", "bare-cr"]


def test_a_rule_on_the_stage_may_answer_instead() -> None:
    p = Pipe(Engine(scenario({"on": "noop", "reply": "250 2.0.0 fine"}, bare_cr="reject")))
    p.connect()
    assert p.feed(b"NOOP\r\r\n") == b"250 2.0.0 fine\r\n"


# -- AUTH response lines ------------------------------------------------------------------------


def authenticating(**server: object) -> Pipe:
    p = opened(auth=AUTH, **server)
    p.feed("EHLO c.test")
    assert p.feed("AUTH PLAIN") == b"334 \r\n"
    return p


@pytest.mark.parametrize(
    ("ending", "kind"), [(b"\n", "bare-lf"), (b"\r\r\n", "bare-cr"), (b"\r\n", None)]
)
def test_an_auth_response_line_is_judged_and_by_default_accepted(
    ending: bytes, kind: str | None
) -> None:
    p = authenticating()
    assert p.feed(CREDENTIALS + ending).startswith(b"235 2.7.0 ")
    assert kinds(p) == ([kind] if kind else [])
    if kind:
        assert p.record.violations[0].command == "AUTH"


@pytest.mark.parametrize(
    ("setting", "ending", "reply"),
    [
        ("bare_lf", b"\n", REFUSED_LF),
        ("bare_cr", b"\r\r\n", REFUSED_CR),
        ("bare_cr", b"*\r\r\n", REFUSED_CR),  # a cancel is refused like any response
    ],
)
def test_reject_ends_the_exchange_with_the_refusal(
    setting: str, ending: bytes, reply: bytes
) -> None:
    p = authenticating(**{setting: "reject"})
    line = ending if ending.startswith(b"*") else CREDENTIALS + ending
    assert p.feed(line) == reply
    assert p.engine.journal.sessions()[0].auth_user is None  # not authenticated
    assert p.feed(b"NOOP\r\n") == b"250 2.0.0 Ok\r\n"  # a command again, not an AUTH line
    assert p.feed("AUTH PLAIN " + CREDENTIALS.decode()).startswith(b"235 ")
    assert "dXNlcgB" not in " ".join(e.text for e in p.record.transcript)  # still masked


def test_disconnect_ends_the_exchange_and_closes() -> None:
    p = authenticating(bare_lf="disconnect")
    assert p.feed(CREDENTIALS + b"\n") == REFUSED_LF.replace(b"550", b"521")
    assert p.half_closed


def test_a_rule_on_auth_may_answer_the_refused_line_instead() -> None:
    rule = {"on": "auth", "reply": "454 4.7.0 try later"}
    p = Pipe(Engine(scenario(rule, auth=AUTH, bare_lf="reject")))
    p.connect()
    p.feed("EHLO c.test")
    p.feed("AUTH LOGIN")
    assert p.feed(b"dXNlcg==\n") == b"454 4.7.0 try later\r\n"


# -- BDAT command lines --------------------------------------------------------------------------


def chunking(**server: object) -> Pipe:
    p = opened(extensions_add=["CHUNKING"], **server)
    for line in TRANSACTION:
        p.feed(line)
    return p


@pytest.mark.parametrize(
    ("setting", "line", "reply"),
    [
        ("bare_lf", b"BDAT 12 LAST\n", REFUSED_LF),
        ("bare_cr", b"BDAT 12 LAST\r\r\n", REFUSED_CR),
    ],
)
def test_a_refused_bdat_line_has_its_chunk_read_and_discarded_first(
    setting: str, line: bytes, reply: bytes
) -> None:
    """RFC 3030 §2: the chunk is read and discarded before the 5xx, so nothing in it is ever
    read as a command; the refusal ends the transaction, as a failed chunk does."""
    p = chunking(**{setting: "reject"})
    assert p.feed(line + b"QUIT\r\nNOOP") == b""  # 10 of its 12 octets
    assert p.feed(b"\r\nNOOP\r\n") == reply + b"250 2.0.0 Ok\r\n"  # the chunk, not commands
    assert p.engine.journal.messages() == ()
    assert p.feed(b"BDAT 2 LAST\r\nhi").startswith(b"503 5.5.1 ")  # no transaction now
    kind = "bare-lf" if setting == "bare_lf" else "bare-cr"
    assert kinds(p)[0] == kind


def test_a_refused_bdat_line_with_disconnect_closes_after_its_chunk() -> None:
    p = chunking(bare_lf="disconnect")
    assert p.feed(b"BDAT 4 LAST\nab") == b""
    assert p.feed(b"cd") == REFUSED_LF.replace(b"550", b"521")
    assert p.half_closed


def test_a_refused_bdat_line_without_a_size_is_refused_at_once() -> None:
    p = chunking(bare_lf="reject")
    assert p.feed(b"BDAT x\n") == REFUSED_LF
    assert p.feed(b"NOOP\r\n") == b"250 2.0.0 Ok\r\n"


@pytest.mark.parametrize("policy", ["reject", "disconnect"])
def test_chunk_octets_are_never_judged(policy: str) -> None:
    """A chunk is octets counted by its size (RFC 3030 §2), no lines: a bare LF or CR in it is
    neither recorded nor refused, under any policy."""
    p = chunking(bare_lf=policy, bare_cr=policy)
    assert p.feed(b"BDAT 8 LAST\r\na\nb\rc\r.\r").startswith(b"250 2.0.0 Ok: queued as ")
    (message,) = p.engine.journal.messages()
    assert message.data == b"a\nb\rc\r.\r"
    assert kinds(p) == []
