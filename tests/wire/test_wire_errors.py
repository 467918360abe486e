"""A bug in smtpfake while serving lands in server.errors with its traceback; the client gets a
451 and the connection closes. Nothing is lost in the server thread."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest

from smtpfake.scenario.faults.reply import ReplyWith
from smtpfake.scenario.plan import Plan
from smtpfake.server import Server, ServerError

from ..support import TIMEOUT, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds, wait_until

INTERNAL = b"451 4.3.0 smtpfake internal error, see the test report\r\n"


class Boom(RuntimeError):
    pass


def explode(self: ReplyWith, plan: Plan, ctx: object) -> Plan:
    raise Boom("fault exploded on purpose")


@pytest.fixture
def broken(server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    monkeypatch.setattr(ReplyWith, "apply", explode)
    return server


def take_errors(server: Server, count: int = 1) -> list[ServerError]:
    errors: list[ServerError] = wait_until(
        lambda: len(server.errors) >= count and list(server.errors), 2.0
    )
    assert len(errors) == count
    server.errors.clear()  # seen and checked: the fixture must not fail the test for them
    return errors


def test_error_mid_session(broken: Server, raw: Callable[[], Raw]) -> None:
    broken.use(scenario({"on": "noop", "reply": "250 2.0.0 fine"}))
    conn = raw()
    conn.reply()
    conn.command("EHLO client.test")
    conn.send(b"NOOP\r\nNOOP\r\n")
    assert conn.rest() == INTERNAL
    (session,) = ended_sessions(broken, 1)
    (error,) = take_errors(broken)
    assert isinstance(error.error, Boom)
    assert error.session == 1
    assert "fault exploded on purpose" in error.traceback
    assert "explode" in error.traceback
    assert "smtpfake server error in session 1" in str(error)
    # the transcript tells what the client saw; the client is not blamed for the missing QUIT
    assert session.replies[-2].startswith("451 4.3.0 smtpfake internal error")
    assert [e for e in session.transcript if e.side == "server"][-1].text == "(connection closed)"
    assert session.commands[-2:] == ("NOOP", "NOOP")  # the second came with the first
    # so before the first one's reply, and NOOP ends a pipelined group (RFC 2920 §3.1): judged as
    # pipelined, though the 451 closed the session; no no-quit, no sent-after-close
    assert kinds(session) == ["bad-pipelining"]


def test_error_at_greeting(broken: Server, raw: Callable[[], Raw]) -> None:
    broken.use(scenario({"on": "connect", "reply": "421 never sent"}))
    assert raw().rest() == INTERNAL
    take_errors(broken)
    assert ended_sessions(broken, 1)[0].reply_codes == (451,)


def test_smtplib_sees_451(broken: Server) -> None:
    broken.use(scenario({"on": "rcpt", "reply": "550 nope"}))
    client = smtplib.SMTP(broken.host, broken.port, timeout=TIMEOUT)
    with pytest.raises((smtplib.SMTPRecipientsRefused, smtplib.SMTPServerDisconnected)):
        client.sendmail("a@x.test", ["b@x.test"], "Subject: x\r\n\r\nbody\r\n")
    client.close()
    take_errors(broken)


def test_other_sessions_keep_working(broken: Server, raw: Callable[[], Raw]) -> None:
    broken.use(scenario({"on": "noop", "connection": 1, "reply": "250 2.0.0 fine"}))
    bad = raw()
    good = raw()
    bad.reply()
    good.reply()
    bad.send(b"NOOP\r\n")
    assert bad.rest() == INTERNAL
    assert good.command("NOOP") == [b"250 2.0.0 Ok\r\n"]
    take_errors(broken)


def test_on_error_callback(broken: Server, raw: Callable[[], Raw]) -> None:
    seen: list[object] = []
    broken.on_error = seen.append
    try:
        broken.use(scenario({"on": "helo", "reply": "250 x"}))
        conn = raw()
        conn.reply()
        conn.send(b"HELO client.test\r\n")
        assert conn.rest() == INTERNAL
        take_errors(broken)
        assert len(seen) == 1
    finally:
        broken.on_error = None


def test_errors_are_cleared_by_reset(broken: Server, raw: Callable[[], Raw]) -> None:
    broken.use(scenario({"on": "helo", "reply": "250 x"}))
    conn = raw()
    conn.reply()
    conn.send(b"HELO client.test\r\n")
    assert conn.rest() == INTERNAL
    wait_until(lambda: broken.errors, 2.0)
    broken.reset()
    assert broken.errors == []
