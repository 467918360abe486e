"""No record of any kind carries an AUTH secret, whatever shape the client gives it (fresh23):
the transcript, the server's replies as recorded (a 500's echo of the line), the violations
(their command and text) and the rules' outcomes; checked in any letter case, since a
violation's command is upper-cased. Malformed AUTH lines (white space other than SP around
the mechanism, a run-on ``AUTH:PLAIN``), and SASL answers the server reads as commands (sent
behind a refused AUTH, or a line ended twice: ``base64.encodebytes`` then CRLF), each whole
and in the pieces a socket may cut it in. Engine only: bytes in, on a FakeClock."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from smtpfake.engine.auth_mask import AUTH_MASK

from ..support.engine import Engine
from ..support.pipe import Pipe
from .helpers import auth_scenario, b64, plain

PASSWORD = "Sup3rSecret"
IR = plain("alice", PASSWORD)
USER, WORD = b64("alice"), b64(PASSWORD)
LONG = b64(PASSWORD * 300)  # an answer too long for a command line
URLSAFE = base64.urlsafe_b64encode(b"\xfb\xff" + PASSWORD.encode()).decode()  # "-" and "_"
SECRETS = (PASSWORD, IR, WORD, IR[4:16], WORD[:8], LONG[:16], URLSAFE[4:])

CASES: dict[str, list[str]] = {
    # fresh23 F1, F2: a line without SP is all "verb": echoed by the 500, named by violations
    "tab, tab": ["EHLO c.test", f"AUTH\tPLAIN\t{IR}"],
    "lead tab, lower case": ["EHLO c.test", f"\tauth\tplain\t{IR}"],
    # fresh23 F4: white space as str.split() takes it, and run-on forms
    "VT": ["EHLO c.test", f"AUTH\x0bPLAIN {IR}"],
    "FF": ["EHLO c.test", f"AUTH\x0cPLAIN {IR}"],
    "NUL": ["EHLO c.test", f"AUTH\x00PLAIN {IR}"],
    "colon": ["EHLO c.test", f"AUTH:PLAIN {IR}"],
    "run-on": ["EHLO c.test", f"AUTHPLAIN {IR}"],
    "AUTH=": ["EHLO c.test", f"AUTH={IR}"],
    # fresh23 F3: answers the server reads as commands
    "refused before EHLO": [f"AUTH LOGIN\r\n{USER}\r\n{WORD}"],
    "PLAIN refused before EHLO": [f"AUTH PLAIN\r\n{IR}"],
    "not offered": ["EHLO c.test", f"AUTH CRAM-MD5\r\n{IR}"],
    "in a transaction": ["EHLO c.test", "MAIL FROM:<a@x.test>", f"AUTH LOGIN {USER}\r\n{WORD}"],
    "second AUTH": [
        "EHLO c.test",
        f"AUTH PLAIN {plain('alice', 'secret')}",
        f"AUTH LOGIN\r\n{USER}\r\n{WORD}",
    ],
    "after HELO": ["HELO c.test", f"AUTH LOGIN\r\n{USER}\r\n{WORD}"],
    # base64.encodebytes() ends each answer with LF, then the client adds CRLF
    "encodebytes": ["EHLO c.test", "AUTH LOGIN", f"{USER}\n", f"{WORD}\n"],
    # a line too long to hold, behind a refused AUTH
    "long answer": ["EHLO c.test", f"AUTH CRAM-MD5\r\n{LONG}"],
    # fresh24 F1: a malformed AUTH line without an initial response, then the answers
    "tab, no initial response": ["EHLO c.test", f"AUTH\tLOGIN\r\n{USER}\r\n{WORD}"],
    "run-on, no initial response": ["EHLO c.test", f"AUTHPLAIN\r\n{IR}"],
    "colon, no initial response": ["EHLO c.test", f"AUTH:LOGIN\r\n{USER}\r\n{WORD}"],
    "lead space, no initial response": ["EHLO c.test", f" AUTH LOGIN\r\n{USER}\r\n{WORD}"],
    "after QUIT": ["EHLO c.test", f"QUIT\r\nAUTH\tLOGIN\r\n{USER}\r\n{WORD}"],
    # fresh24 F2: the password where the mechanism goes
    "AUTH <password>": ["EHLO c.test", f"AUTH {PASSWORD}"],
    "AUTH=<password>": ["EHLO c.test", f"AUTH={PASSWORD}"],
    "AUTH:<password>": ["EHLO c.test", f"AUTH:{PASSWORD}"],
    "AUTH <base64>": ["EHLO c.test", f"AUTH {WORD}"],
    # fresh24 F3, F5: answers in other shapes behind a refused AUTH
    "answers after a space": ["HELO c.test", f"AUTH LOGIN\r\n {USER}\r\n {WORD}"],
    "an answer and more": ["EHLO c.test", f"AUTH CRAM-MD5\r\n{WORD} x"],
    "URL-safe base64": ["EHLO c.test", f"AUTH CRAM-MD5\r\n{URLSAFE}"],
    "in clear": ["EHLO c.test", f"AUTH CRAM-MD5\r\n{PASSWORD}!"],
    "PASS": ["EHLO c.test", "AUTH LOGIN", "*", f"PASS {PASSWORD}"],
    # fresh25 F1: octets before AUTH in its word (a client ending lines LF CR, a NUL, a BOM,
    # one a miscounted BDAT chunk left)
    "CR before AUTH": ["EHLO c.test", f"\rAUTH PLAIN {IR}"],
    "NUL before AUTH": ["EHLO c.test", f"\x00AUTH LOGIN\r\n{USER}\r\n{WORD}"],
    "BOM before AUTH": ["EHLO c.test", f"\ufeffAUTH PLAIN {IR}"],
    "a letter before AUTH": ["EHLO c.test", f"iAUTH PLAIN {IR}"],
    # fresh26 F1: IMAP's AUTHENTICATE, after its tag (a client pointed at the wrong port)
    "IMAP AUTHENTICATE": [f"a002 AUTHENTICATE PLAIN {IR}"],
    # fresh25 F2: an AUTH line among the lines counted after the close (past the 20 shown)
    "counted after QUIT": [
        "EHLO c.test",
        "QUIT",
        *["NOOP"] * 21,
        f"AUTH LOGIN\r\n{USER}\r\n{WORD}",
    ],
}


def run(lines: list[str], how: str, **settings: Any) -> tuple[bytes, str]:
    """The session of a client that sends ``lines`` (each with CRLF, each waited for), whole,
    byte by byte or all in one read; the bytes the server sent, and every record of it."""
    played = auth_scenario(mechanisms=["PLAIN", "LOGIN"])
    played["server"].update(settings)
    engine = Engine(played)
    pipe = Pipe(engine)
    pipe.connect()
    data = [f"{line}\r\n".encode() for line in [*lines, "QUIT"]]
    if how == "one read":
        data = [b"".join(data)]
    for chunk in data:
        if how == "byte by byte":
            for i in range(len(chunk)):
                pipe.feed(chunk[i : i + 1])
        else:
            pipe.feed(chunk)
        engine.advance(0.01)
    pipe.eof()
    pipe.finish()
    (record,) = engine.journal.sessions()
    return bytes(pipe.wire), repr(record) + record.format() + "".join(record.near_misses)


def assert_secret_free(recorded: str) -> None:
    folded = recorded.casefold()
    for secret in SECRETS:
        assert secret.casefold() not in folded, (secret, recorded)


@pytest.mark.parametrize("how", ["whole", "byte by byte", "one read"])
@pytest.mark.parametrize("case", CASES)
def test_no_record_carries_the_secret(case: str, how: str) -> None:
    wire, recorded = run(CASES[case], how)
    assert_secret_free(recorded)
    assert AUTH_MASK in recorded
    # nor does the server send it back (a 500 echoes the line's first word)
    assert_secret_free(wire.decode("ascii", "replace"))


@pytest.mark.parametrize(
    "settings",
    [{"bare_lf": "reject"}, {"bare_lf": "disconnect"}, {"bare_cr": "clean"}],
    ids=["bare_lf reject", "bare_lf disconnect", "bare_cr clean"],
)
@pytest.mark.parametrize(
    "lines",
    [
        ["EHLO c.test", f"AUTH LOGIN\n{USER}\r\n{WORD}"],
        ["EHLO c.test", "AUTH LOGIN", f"{USER}\n{WORD}"],
        ["EHLO c.test", f"AUTH PLAIN {IR}\n"],
        ["EHLO c.test", f"AUTH\rPLAIN {IR}"],  # (fresh24 F4: clean splits it at the CR)
    ],
    ids=["AUTH ended by LF", "answer ended by LF", "IR ended by LF", "CR after AUTH"],
)
def test_lines_a_line_ending_policy_cuts_keep_no_secret(
    settings: dict[str, str], lines: list[str]
) -> None:
    # fresh23 F3: the refusal ends the exchange; the answers behind it are read as commands
    for how in ("whole", "byte by byte"):
        wire, recorded = run(lines, how, **settings)
        assert_secret_free(recorded)
        assert_secret_free(wire.decode("ascii", "replace"))


def test_what_a_masked_line_still_shows() -> None:
    """Masking keeps what is not secret: the line up to the mechanism as sent, and violations
    named by it; an answer read as a command is named as one; commands are shown as sent."""
    engine = Engine(auth_scenario())
    pipe = Pipe(engine)
    pipe.connect()
    assert pipe.feed("EHLO c.test").endswith(b"250 AUTH PLAIN LOGIN\r\n")
    echo = pipe.feed(f"AUTH\tPLAIN\t{IR}")
    assert echo == b"500 5.5.2 Error: command not recognized\r\n"  # (no echo of it)
    assert pipe.feed("AUTH LOGIN") == b"334 VXNlcm5hbWU6\r\n"
    assert pipe.feed("*").startswith(b"501 ")  # cancelled (RFC 4954 §4)
    # the client goes on answering: the server reads it as a command
    assert pipe.feed(WORD) == b"500 5.5.2 Error: command not recognized\r\n"
    # an answer pipelined behind NOOP (RFC 2920 §3.1: a group's last command) is named so
    assert pipe.feed(f"NOOP\r\n{WORD}").count(b"\r\n") == 2
    assert pipe.feed(f"RSET {WORD}").startswith(b"501 ")
    assert pipe.feed(f"XYZZY {WORD}").startswith(b"500 ")
    assert pipe.feed("HELP").startswith(b"214")
    assert pipe.feed("VRFY someone").startswith(b"252 ")
    assert pipe.feed("MAIL FROM:<a@x.test>").startswith(b"250 ")
    pipe.eof()
    pipe.finish()
    (record,) = engine.journal.sessions()
    client = [e.text for e in record.transcript if e.side == "client" and not e.event]
    assert client == [
        "EHLO c.test",
        "AUTH\tPLAIN (auth response)",
        "AUTH LOGIN",
        "*",
        AUTH_MASK,
        "NOOP",
        AUTH_MASK,
        f"RSET {WORD}",  # a command's line is shown as sent
        AUTH_MASK,  # a line that is no command, after an AUTH line, may carry the password
        "HELP",
        "VRFY someone",
        "MAIL FROM:<a@x.test>",
    ]
    assert ("bad-pipelining", AUTH_MASK) in [(v.kind, v.command) for v in record.violations]


def test_without_an_auth_line_a_base64_word_is_recorded_as_sent() -> None:
    engine = Engine(auth_scenario())
    pipe = Pipe(engine)
    pipe.connect()
    pipe.feed("EHLO c.test")
    assert pipe.feed(WORD).startswith(f'500 5.5.2 Error: command "{WORD}"'.encode())
    pipe.eof()
    pipe.finish()
    (record,) = engine.journal.sessions()
    assert WORD in [e.text for e in record.transcript]


def test_rules_on_the_unknown_stage_match_the_line_and_record_what_is_kept() -> None:
    """fresh25 F3: after AUTH a line that is no command is masked in the record, but a rule on
    the unknown stage still matches it as sent (an extension the scenario emulates so); a
    near miss on a masked line says what the record keeps, not the line."""
    played = auth_scenario(
        {"on": "unknown", "match": "XCLIENT*", "reply": "220 2.0.0 xclient ok"},
        {"on": "unknown", "match": "NOPE*", "reply": "250 2.0.0 never"},
    )
    engine = Engine(played)
    pipe = Pipe(engine)
    pipe.connect()
    pipe.feed("EHLO c.test")
    assert pipe.feed(f"AUTH PLAIN {plain('alice', 'secret')}").startswith(b"235 ")
    assert pipe.feed("XCLIENT NAME=b.test") == b"220 2.0.0 xclient ok\r\n"
    assert pipe.feed(f"{WORD} x").startswith(b"500 ")
    pipe.feed("QUIT")
    pipe.eof()
    pipe.finish()
    (record,) = engine.journal.sessions()
    assert_secret_free(repr(record) + "".join(record.near_misses))
    fired = [(o.argument, o.fired) for o in record.outcomes]
    assert fired == [(AUTH_MASK, "rule 1 (on unknown)"), (AUTH_MASK, None)], fired


def test_a_non_ascii_word_is_no_command() -> None:
    # fresh25 F8: str.upper() made QUIT of "qu<dotless i>t", which the server obeyed
    engine = Engine(auth_scenario())
    pipe = Pipe(engine)
    pipe.connect()
    assert pipe.feed("qu\u0131t").startswith(b"500 5.5.2 ")
    assert pipe.feed("\u017ftarttls").startswith(b"500 5.5.2 ")
    assert pipe.feed("QUIT").startswith(b"221 ")


def test_lines_that_merely_hold_auth_are_shown_as_sent() -> None:
    """fresh26 F3, F4: a message body the server reads as commands (its DATA refused) holds
    header lines such as Authentication-Results:, and commands may hold "auth" in a name:
    neither is an AUTH line, so nothing after them is masked."""
    engine = Engine(auth_scenario())
    pipe = Pipe(engine)
    pipe.connect()
    lines = [
        "EHLO\tauth.example.com",
        "EHLO c.test",
        "MAIL FROM:<a@x.test>",
        "DATA",
        "From: a@x.test",
        "Authentication-Results: mx.example.com; spf=pass",
        "X-Authenticated-User: bob",
        "Subject: hello there",
        "",
        "Hello world, this is the body.",
        ".",
    ]
    for line in lines:
        pipe.feed(line)
    pipe.feed("QUIT")
    pipe.eof()
    pipe.finish()
    (record,) = engine.journal.sessions()
    client = [e.text for e in record.transcript if e.side == "client" and not e.event]
    assert client == [*lines, "QUIT"]
