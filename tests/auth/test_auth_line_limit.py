"""How long an AUTH response line may be (RFC 4954 §4: a server MUST take the encoded responses
its mechanisms produce; 12,288 octets suffice): the engine's framing reads one up to
AUTH_LINE_LIMIT octets with its CRLF however the bytes are split, answers `500 5.5.6` past it,
and the record masks it either way. The AUTH command itself stays a command line (512 octets).
On the engine's Connection and the FakeClock: no sockets, no sleeps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smtpfake.engine.auth_mask import AUTH_LINE_LIMIT, AUTH_MASK
from smtpfake.engine.conduct import COMMAND_LINE_LIMIT
from smtpfake.engine.connection import LINE_LIMIT
from smtpfake.engine.state import Mode

from ..support.engine import Engine
from ..support.pipe import Pipe
from .helpers import auth_scenario, b64, plain

OK = b"235 2.7.0 Authentication successful\r\n"
TOO_LONG = b"500 5.5.6 Authentication Exchange line is too long\r\n"
UNDECODABLE = b"501 5.5.2 Cannot decode response\r\n"
#: a password whose PLAIN response (1,346 octets with its CRLF) is longer than a command line
LONG = "p" * 1000
#: how the tests split what the client sends: whole, byte by byte, and pieces that cross the
#: command line's limit
SPLITS = [0, 1, 7, 1000, LINE_LIMIT, 4096]


def pipe(**server: Any) -> Pipe:
    data = auth_scenario(users={"carol": LONG})
    data["server"].update(server)
    p = Pipe(Engine(data))
    p.connect()
    assert p.feed("EHLO client.test").startswith(b"250-")
    return p


def feed(p: Pipe, data: bytes, size: int) -> bytes:
    """``data`` in pieces of ``size`` octets (0: whole); what the server sent meanwhile."""
    if not size:
        return p.feed(data)
    return b"".join(p.feed(data[i : i + size]) for i in range(0, len(data), size))


def texts(p: Pipe) -> list[str]:
    return [e.text for e in p.record.transcript if e.side == "client"]


def assert_secret_free(p: Pipe) -> None:
    assert LONG not in p.record.format()
    assert plain("carol", LONG) not in p.record.format()


@pytest.mark.parametrize("size", SPLITS)
def test_a_plain_response_longer_than_a_command_line_logs_in(size: int) -> None:
    p = pipe()
    assert p.feed("AUTH PLAIN") == b"334 \r\n"
    line = plain("carol", LONG).encode() + b"\r\n"
    assert len(line) == 1346
    assert feed(p, line, size) == OK
    assert p.session.auth_user == "carol"
    assert texts(p)[-2:] == ["AUTH PLAIN", AUTH_MASK]
    assert p.record.violations == ()
    assert_secret_free(p)


@pytest.mark.parametrize("size", SPLITS)
def test_a_login_password_longer_than_a_command_line_logs_in(size: int) -> None:
    p = pipe()
    assert p.feed("AUTH LOGIN") == b"334 VXNlcm5hbWU6\r\n"
    assert p.feed(b64("carol")) == b"334 UGFzc3dvcmQ6\r\n"
    line = b64(LONG).encode() + b"\r\n"
    assert feed(p, line, size) == OK
    assert texts(p)[-3:] == ["AUTH LOGIN", AUTH_MASK, AUTH_MASK]
    assert_secret_free(p)


@pytest.mark.parametrize("size", SPLITS)
def test_a_response_line_of_the_limit_is_read_one_octet_more_is_refused(size: int) -> None:
    # AUTH_LINE_LIMIT octets with the CRLF: read whole (not base64 of anything: 501, not 500)
    p = pipe()
    assert p.feed("AUTH PLAIN") == b"334 \r\n"
    assert feed(p, b"A" * (AUTH_LINE_LIMIT - 2) + b"\r\n", size) == UNDECODABLE
    assert texts(p)[-1] == AUTH_MASK
    # one more: discarded up to its LF, answered once, recorded masked with its exact size
    assert p.feed("AUTH PLAIN") == b"334 \r\n"
    assert feed(p, b"A" * (AUTH_LINE_LIMIT - 1) + b"\r\n", size) == TOO_LONG
    over = f"{AUTH_MASK}... (over-long line of {AUTH_LINE_LIMIT + 1:,} octets, discarded)"
    assert texts(p)[-1] == over
    assert p.session.mode is Mode.COMMAND
    assert p.feed("NOOP") == b"250 2.0.0 Ok\r\n"


def test_the_auth_command_stays_a_command_line_its_response_after_334_does_not() -> None:
    # RFC 4954 §4: an initial response that makes the AUTH command too long MUST NOT be sent
    # on it; the same response after the 334 is taken
    p = pipe()
    response = plain("carol", LONG)
    assert p.feed(f"AUTH PLAIN {response}") == b"500 5.5.6 Line too long\r\n"
    assert p.session.auth_user is None
    assert p.feed("AUTH PLAIN") == b"334 \r\n"
    assert p.feed(response) == OK
    assert [v.kind for v in p.record.violations] == ["line-too-long"]
    assert texts(p)[-3] == (
        f"AUTH PLAIN {AUTH_MASK}... (over-long line of {len(response) + 13:,} octets, discarded)"
    )
    assert_secret_free(p)


def test_a_long_response_pipelined_behind_auth_is_read_after_the_334() -> None:
    p = pipe()
    out = p.feed(b"AUTH PLAIN\r\n" + plain("carol", LONG).encode() + b"\r\n")
    assert out == b"334 \r\n" + OK
    assert [v.kind for v in p.record.violations] == ["bad-pipelining"]
    assert_secret_free(p)


def test_after_the_exchange_a_command_line_has_the_command_limit_again() -> None:
    p = pipe()
    assert p.feed("AUTH PLAIN") == b"334 \r\n"
    assert p.feed(plain("carol", LONG)) == OK
    assert p.feed("NOOP " + "x" * LINE_LIMIT) == b"500 5.5.6 Line too long\r\n"


def test_a_long_response_the_close_cuts_is_an_unfinished_response_line() -> None:
    p = pipe()
    assert p.feed("AUTH PLAIN") == b"334 \r\n"
    assert p.feed(plain("carol", LONG).encode()) == b""  # no LF yet: nothing to answer
    p.eof()
    (cut,) = [e for e in p.record.transcript if e.side == "client" and e.text == AUTH_MASK]
    assert cut.delivered is False
    assert [v.kind for v in p.record.violations] == ["unterminated-line"]
    assert_secret_free(p)


@pytest.mark.parametrize("size", [0, 1, 1000])
def test_with_bare_cr_clean_a_long_response_is_read_whole_too(size: int) -> None:
    p = pipe(bare_cr="clean")
    assert p.feed("AUTH PLAIN") == b"334 \r\n"
    assert feed(p, plain("carol", LONG).encode() + b"\r\n", size) == OK
    assert_secret_free(p)


def test_the_readme_names_both_limits() -> None:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    limits = text[text.index("\n## Limits\n") :]
    assert f"| command line | {COMMAND_LINE_LIMIT} octets | " in limits
    assert f"| AUTH response line | {AUTH_LINE_LIMIT:,} octets | " in limits
    auth = text[text.index("\n### AUTH\n") :]
    auth = auth[: auth.index("\n### ", 1)]
    assert f"{AUTH_LINE_LIMIT:,} octets with its CRLF" in auth
    assert f"{COMMAND_LINE_LIMIT} octets with its CRLF" in auth
