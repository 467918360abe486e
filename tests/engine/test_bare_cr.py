"""A bare CR (RFC 5321 §2.3.8) and ``server.bare_cr`` (engine/bare_lf.py); bare LF and CR in AUTH
response lines and BDAT command lines under both policies. On the FakeClock, no sockets."""

from __future__ import annotations

import base64

import pytest

from smtpfake.scenario import ScenarioError, load_text
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


# -- clean: a bare CR ends a line (Cisco Secure Email's CR and LF Handling "Clean") --------------


def client_lines(p: Pipe) -> list[str]:
    return [e.text for e in p.record.transcript if e.side == "client" and not e.note]


@pytest.mark.parametrize("bare_lf", ["accept", "normalize", "reject"])
def test_clean_ends_the_message_at_cr_dot_cr_and_runs_the_rest_as_commands(bare_lf: str) -> None:
    """The inbound side of SMTP smuggling: the one message the client meant is two on the wire,
    the second sent by commands hidden in the first one's text (whatever bare_lf says: the
    smuggled lines end in CRLF)."""
    p = in_data(bare_lf=bare_lf, bare_cr="clean")
    out = p.feed(SMUGGLING)
    assert out == (
        b"250 2.0.0 Ok: queued as SF000001\r\n"
        b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
        b"250 2.0.0 Ok: queued as SF000002\r\n"
    )
    first, smuggled = p.engine.journal.messages()
    assert first.data == b"x\r"  # kept as sent: the CR that ended the line is in it
    assert (smuggled.mail_from, smuggled.data) == ("evil@x.test", b"hi\r\n")
    # the second message's text came before its 354: the smuggler does not wait
    assert kinds(p) == ["bare-cr", "bad-pipelining"]
    assert client_lines(p)[-5:] == [
        ".",
        "MAIL FROM:<evil@x.test>",
        "RCPT TO:<v@d.test>",
        "DATA",
        ".",
    ]


@pytest.mark.parametrize(
    ("ending", "ends"),
    [
        (b"x\r.\r", True),  # <CR>.<CR>
        (b"x\r.\r\n", True),  # <CR>.<CRLF>
        (b"x\r\n.\r", True),  # <CRLF>.<CR>
        (b"x\n.\r", True),  # <LF>.<CR>, with bare_lf accept
        (b"x\r..\r", False),  # dot-stuffed: text "."
        (b"x.\r", False),  # not a line of its own
    ],
)
def test_clean_takes_a_dot_between_line_ends_of_any_kind_as_the_end(
    ending: bytes, ends: bool
) -> None:
    p = in_data(bare_cr="clean")
    out = p.feed(ending + b"NOOP\r\n")  # the octet after the last CR says it is bare
    if ends:
        assert out == b"250 2.0.0 Ok: queued as SF000001\r\n250 2.0.0 Ok\r\n"
    else:
        assert out == b""
        assert p.feed(b".\r\n") == b"250 2.0.0 Ok: queued as SF000001\r\n"
        (message,) = p.engine.journal.messages()
        assert message.data.endswith(b"NOOP\r\n")  # text, not a command


def test_clean_with_a_strict_bare_lf_needs_a_cr_or_crlf_on_both_sides() -> None:
    p = in_data(bare_lf="normalize", bare_cr="clean")
    assert p.feed(b"x\n.\rNOOP\r\n") == b""  # the "." came after a bare LF: text
    assert p.feed(b"y\r.\r\n") == b"250 2.0.0 Ok: queued as SF000001\r\n"


def test_clean_ends_command_lines_at_a_bare_cr_and_records_them_without_it() -> None:
    p = opened(bare_cr="clean")
    assert p.feed(b"EHLO c.test\r\n").startswith(b"250-smtpfake.test")
    out = p.feed(b"MAIL FROM:<a@b.test>\rRCPT TO:<c@d.test>\rRSET\r\n")
    assert out == b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok\r\n"
    # the line ending is off, as a CRLF is: the CR's presence is in the bare-cr violation
    assert client_lines(p) == ["EHLO c.test", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>", "RSET"]
    assert kinds(p) == ["bare-cr"]


def test_clean_waits_for_the_octet_after_a_last_cr() -> None:
    """A CR is bare only if no LF follows it: the line waits, as a CRLF split in transit does."""
    p = opened(bare_cr="clean")
    assert p.feed(b"NOOP\r") == b""
    assert p.feed(b"\n") == b"250 2.0.0 Ok\r\n"  # a CRLF after all
    assert p.feed(b"NOOP\r") == b""
    assert p.feed(b"N") == b"250 2.0.0 Ok\r\n"  # bare: it ended the line
    assert kinds(p) == ["bare-cr"]


def test_clean_a_last_cr_the_close_leaves_alone_is_an_unfinished_line() -> None:
    p = opened(bare_cr="clean")
    p.feed("EHLO c.test")
    assert p.feed(b"QUIT\r") == b""
    assert p.eof() == b""  # never known to be a line end: no 221
    (line,) = [e for e in p.record.transcript if e.side == "client" and e.text.startswith("QUIT")]
    assert not line.delivered
    assert "unterminated-line" in kinds(p)


def test_clean_in_an_auth_exchange_and_a_bdat_line() -> None:
    p = authenticating(bare_cr="clean")
    assert p.feed(CREDENTIALS + b"\rNOOP\r\n").startswith(b"235 2.7.0 ")
    p = chunking(bare_cr="clean")
    assert p.feed(b"BDAT 3 LAST\rab\r").startswith(b"250 2.0.0 Ok: queued as ")
    (message,) = p.engine.journal.messages()
    assert message.data == b"ab\r"  # a chunk is octets, not lines


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("claen", "s.yaml:4:12: server.bare_cr: unknown value 'claen'; did you mean 'clean'? "),
        ("normalize", "s.yaml:4:12: server.bare_cr: unknown value 'normalize' "),
    ],
)
def test_a_wrong_bare_cr_is_one_line_at_its_place(value: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_text(f"summary: s\nexpect: e\nserver:\n  bare_cr: {value}\n", source="s.yaml")
    (found,) = (str(p) for p in info.value.problems)
    assert found == problem + "(allowed: accept, clean, reject, disconnect)"


# -- a CR the client's close leaves last --------------------------------------------------------


@pytest.mark.parametrize("policy", ["accept", "clean", "reject"])
def test_a_command_cut_after_its_cr_is_unterminated_not_bare_cr(policy: str) -> None:
    """A CR is known to be bare only once the octet after it has come: ``NOOP<CR>`` then the
    close is an unfinished line (its LF may simply not have been sent), as message text cut so."""
    p = opened(bare_cr=policy)
    p.feed(b"EHLO c.test\r\n")
    assert p.feed(b"NOOP\r") == b""
    p.eof()
    p.finish()
    assert kinds(p) == ["unterminated-line", "no-quit"]
    (entry,) = [e for e in p.record.transcript if e.text == "NOOP\r"]
    assert not entry.delivered  # unfinished: never carried out nor answered


@pytest.mark.parametrize("policy", ["accept", "clean", "reject"])
def test_message_text_cut_after_its_cr_is_unfinished_not_bare_cr(policy: str) -> None:
    p = in_data(bare_cr=policy)
    p.feed(b"hi\r\nthere\r")
    p.eof()
    p.finish()
    assert kinds(p) == ["no-quit"]
    notes = [e.text for e in p.record.transcript if e.note]
    assert "(message data, 10 bytes, unfinished)" in notes


def test_with_clean_a_cr_before_the_cut_line_is_bare_where_the_close_leaves_the_last() -> None:
    """``NOOP<CR>NOOP<CR>``, then the close: the first CR is known bare (an N came after it), so
    the first NOOP is a line a bare CR ended, answered; the second is unfinished."""
    p = opened(bare_cr="clean")
    assert p.feed(b"NOOP\rNOOP\r") == b"250 2.0.0 Ok\r\n"
    p.eof()
    p.finish()
    assert kinds(p) == ["bare-cr", "unterminated-line", "no-quit"]
    p = in_data(bare_cr="clean")
    p.feed(b"hi\rthere\r")  # the first CR ends a line of text (bare), the last is left
    p.eof()
    p.finish()
    assert kinds(p) == ["bare-cr", "no-quit"]


# -- QUIT ended by a bare CR ---------------------------------------------------------------------


def test_with_clean_a_half_close_after_a_quit_a_bare_cr_ended_waits_for_the_replies() -> None:
    """A QUIT a bare CR ended (``bare_cr: clean``) is a QUIT: the client's half-close after it,
    while an earlier reply is still paced, is waiting for its replies (RFC 5321 §4.1.1.10), not
    giving up: the reply is written whole and delivered, then the 221."""
    rule = {"on": "noop", "drip": {"bytes": 4, "interval": 0.1}}
    p = Pipe(Engine(scenario(rule, bare_cr="clean")))
    p.connect()
    first = p.feed(b"NOOP\rQUIT\r\r\n", hold=True)  # (the QUIT's CR: an octet came after it)
    assert first == b"250 "
    p.engine.advance(0.05)
    assert p.conn.eof_received() == ()  # nothing replaces the batch: the rest is still to go
    rest = p.release()
    assert first + rest == b"250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n"
    p.finish()
    (reply,) = [e for e in p.record.transcript if e.text == "250 2.0.0 Ok"]
    assert reply.delivered
    assert "no-quit" not in kinds(p)
