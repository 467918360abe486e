"""An AUTH exchange the server's own close cuts (an idle timer's or close_after's 421, a stop, an
idle drop, the silent idle timeout): the client's next line is still its answer to the last 334
(it sends it before it reads the close), so it carries a secret: recorded masked as in the
exchange (fresh16 F3), and judged as any line after the close (RFC 5321 §3.8: the first one is
forgiven after an unsolicited close, the next is ``sent-after-close``). On the engine's Connection
and the FakeClock: no sockets, no sleeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from smtpfake.engine.auth_mask import AUTH_LINE_LIMIT, AUTH_MASK
from smtpfake.journal import SessionRecord
from smtpfake.serialize import session_to_json

from ..support.engine import Engine
from ..support.pipe import Pipe
from .helpers import auth_scenario, b64, plain

SECRET = "S3cretPW-" + "x" * 20
USER = "carol"


def _stop(p: Pipe) -> bytes:
    return p._carry(p.conn.shutting_down("stop", 1.0), False)


#: how the server ends the exchange: (server settings, the act), each closing the connection
CUTS: dict[str, tuple[dict[str, Any], Callable[[Pipe], bytes]]] = {
    "idle 421": ({"idle_timeout": 5}, lambda p: p.fire("idle")),
    "close_after 421": ({"close_after": 60}, lambda p: p.fire("close_after")),
    "stop 421": ({}, _stop),
    "idle drop": ({"idle_timeout": 5, "idle_close": "close"}, lambda p: p.fire("idle")),
    "silent idle timeout": ({}, lambda p: p.fire("idle")),
}

#: where the exchange is cut: the AUTH command and the client's answers before the cut, and what
#: the client sends after it (the answer(s) the last 334 asked for, then QUIT)
STAGES: dict[str, tuple[list[str], list[str]]] = {
    "PLAIN at its 334": (["AUTH PLAIN"], [plain(USER, SECRET)]),
    "LOGIN at Password:": (["AUTH LOGIN", b64(USER)], [b64(SECRET)]),
    "LOGIN with an initial response, at Password:": ([f"AUTH LOGIN {b64(USER)}"], [b64(SECRET)]),
    # a client that sends both answers without waiting for "334 Password:"
    "LOGIN at Username:": (["AUTH LOGIN"], [b64(USER), b64(SECRET)]),
}


def cut(how: str, before: list[str]) -> Pipe:
    settings, act = CUTS[how]
    data = auth_scenario(users={USER: SECRET})
    data["server"].update(settings)
    p = Pipe(Engine(data))
    p.connect()
    assert p.feed("EHLO client.test").startswith(b"250-")
    for line in before:
        assert p.feed(line).startswith(b"334 ")
    act(p)
    assert p.ended is not None or p.half_closed  # (a 421: the grace period follows)
    return p


def after_close(record: SessionRecord) -> list[str]:
    """The client's lines after the server's close entry."""
    entries = record.transcript
    closed = max(i for i, e in enumerate(entries) if e.side == "server")
    return [e.text for e in entries[closed + 1 :] if e.side == "client"]


def assert_secret_free(p: Pipe) -> None:
    record = p.record
    for secret in (SECRET, b64(SECRET), plain(USER, SECRET), b64(USER)):
        assert secret not in record.format()
        assert secret not in session_to_json(record)
        assert all(secret not in v.detail and secret not in v.command for v in record.violations)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("how", CUTS)
def test_the_answers_after_the_close_are_masked_and_judged(how: str, stage: str) -> None:
    before, answers = STAGES[stage]
    p = cut(how, before)
    for line in [*answers, "QUIT"]:
        assert p.feed(line) == b""  # never answered
    p.eof()
    p.finish()
    record = p.record
    assert after_close(record)[:-1] == [AUTH_MASK] * len(answers) + ["QUIT"]
    assert_secret_free(p)
    assert record.auth_user is None
    judged = [v.command for v in record.violations if v.kind == "sent-after-close"]
    # the first line after the close is the one §3.8 forgives (an unsolicited close, a silent
    # one too: the client learns of it only after its next write; fresh18 N1)
    assert judged == ([AUTH_MASK] * len(answers) + ["QUIT"])[1:][:1]
    assert "no-quit" not in [v.kind for v in record.violations]


@pytest.mark.parametrize("how", ["idle 421", "stop 421"])
@pytest.mark.parametrize("size", [1, 3, 1000])
def test_an_answer_split_any_way_is_masked(how: str, size: int) -> None:
    p = cut(how, ["AUTH LOGIN", b64(USER)])
    line = b64(SECRET).encode() + b"\r\nQUIT\r\n"
    for i in range(0, len(line), size):
        assert p.feed(line[i : i + size]) == b""
    assert after_close(p.record) == [AUTH_MASK, "QUIT"]
    assert_secret_free(p)


def test_a_long_answer_after_the_close_is_read_as_an_exchange_line() -> None:
    """An AUTH response line may take AUTH_LINE_LIMIT octets (RFC 4954 §4), after the cut too:
    recorded masked whole, not as an over-long command line showing its head."""
    p = cut("idle 421", ["AUTH PLAIN"])
    line = plain(USER, SECRET + "p" * 5000).encode() + b"\r\n"
    assert 1001 < len(line) <= AUTH_LINE_LIMIT
    assert p.feed(line) == b""
    assert p.feed("QUIT") == b""
    assert after_close(p.record) == [AUTH_MASK, "QUIT"]
    assert_secret_free(p)


def test_an_answer_past_the_exchange_limit_is_shown_by_its_size_only() -> None:
    p = cut("idle 421", ["AUTH PLAIN"])
    line = b64(SECRET).encode() * 2000 + b"\r\n"
    assert len(line) > AUTH_LINE_LIMIT
    assert p.feed(line) == b""
    assert p.feed("QUIT") == b""
    assert after_close(p.record) == [
        f"{AUTH_MASK}... (over-long line of {len(line):,} octets, discarded)",
        "QUIT",
    ]
    assert_secret_free(p)
    assert [v.command for v in p.record.violations] == ["QUIT"]  # after the forgiven one


@pytest.mark.parametrize("long", [False, True])
def test_an_answer_the_connection_end_cuts_is_masked(long: bool) -> None:
    p = cut("close_after 421", ["AUTH LOGIN", b64(USER)])
    fragment = b64(SECRET * (500 if long else 1)).encode()
    assert p.feed(fragment) == b""
    p.eof()
    p.finish()
    entries = p.record.transcript
    (last,) = [e for e in entries if e.side == "client" and not e.note][-1:]
    assert last.text == AUTH_MASK if not long else last.text.startswith(f"{AUTH_MASK}... ")
    assert not last.delivered  # its line ending never came
    assert after_close(p.record)[0] == last.text
    assert_secret_free(p)


def test_a_cancel_after_the_close_ends_the_answers() -> None:
    """A "*" cancels the exchange (RFC 4954 §4): no answer follows it, so the line after it is a
    command again, shown as sent (here LOGIN cut at Username:, the client gives up after it)."""
    p = cut("idle 421", ["AUTH LOGIN"])
    for line in (b64(USER), "*", "QUIT"):
        assert p.feed(line) == b""
    assert after_close(p.record) == [AUTH_MASK, "*", "QUIT"]
    assert_secret_free(p)


def test_a_command_after_the_answers_is_shown_as_sent() -> None:
    p = cut("idle 421", ["AUTH PLAIN"])
    for line in (plain(USER, SECRET), "NOOP", "QUIT"):
        assert p.feed(line) == b""
    assert after_close(p.record) == [AUTH_MASK, "NOOP", "QUIT"]
