"""An AUTH with its answers pipelined behind it in one write, after the server's close (a 221,
an idle 421), on a real socket, on each event loop (fresh18, "Also seen"): no exchange opens
then, but the lines that would have been its answers carry the secrets: recorded as
``(auth response)``, as in a cut exchange; the lines after them, and an AUTH that takes no
answer (an initial response, a mechanism not offered), in clear."""

from __future__ import annotations

import pytest

from smtpfake.engine.auth_mask import AUTH_MASK
from smtpfake.serialize import session_to_json
from smtpfake.server import Server

from ..support import SHARED_GRACE
from ..support.raw import Raw
from ..support.waits import ended_sessions
from .helpers import auth_scenario, b64, plain

SECRET = "S3cretPW"
#: the lines sent after the close, and the transcript's client lines for them
CASES = {
    "LOGIN": (
        ["AUTH LOGIN", b64("alice"), b64(SECRET), "NOOP"],
        ["AUTH LOGIN", AUTH_MASK, AUTH_MASK, "NOOP"],
    ),
    "LOGIN-user-given": (
        [f"AUTH LOGIN {b64('alice')}", b64(SECRET), "NOOP"],
        [f"AUTH LOGIN {AUTH_MASK}", AUTH_MASK, "NOOP"],
    ),
    "PLAIN": (
        ["AUTH PLAIN", plain("alice", SECRET), "NOOP"],
        ["AUTH PLAIN", AUTH_MASK, "NOOP"],
    ),
    # nothing more to mask: the next lines are commands, in clear
    "PLAIN-initial": (
        [f"AUTH PLAIN {plain('alice', SECRET)}", "NOOP", "RSET"],
        [f"AUTH PLAIN {AUTH_MASK}", "NOOP", "RSET"],
    ),
    "not-offered": (
        ["AUTH CRAM-MD5", "NOOP", "RSET"],
        ["AUTH CRAM-MD5", "NOOP", "RSET"],
    ),
}


def _client_lines(fresh: Server) -> tuple[list[str], str]:
    (record,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 3.0)
    for secret in (SECRET, b64(SECRET), plain("alice", SECRET), b64("alice")):
        assert secret not in record.format()
        assert secret not in session_to_json(record)
    client = [e.text for e in record.transcript if e.side == "client" and not e.note]
    return client, record.format()


@pytest.mark.parametrize("case", CASES)
def test_answers_pipelined_after_a_221_are_masked(fresh: Server, case: str) -> None:
    fresh.use(auth_scenario(users={"alice": SECRET}))
    sent, shown = CASES[case]
    with Raw(fresh) as conn:
        assert conn.code() == 220
        conn.command("EHLO client.test")
        assert conn.command_code("QUIT") == 221
        conn.send(b"".join(line.encode() + b"\r\n" for line in sent))
        assert conn.eof()  # never answered
    client, _ = _client_lines(fresh)
    assert client[-len(shown) :] == shown


@pytest.mark.parametrize("case", ["LOGIN", "PLAIN-initial"])
def test_answers_pipelined_in_the_grace_after_a_421_are_masked(fresh: Server, case: str) -> None:
    data = auth_scenario(users={"alice": SECRET})
    data["server"].update(idle_timeout=0.5)
    fresh.use(data)
    sent, shown = CASES[case]
    with Raw(fresh) as conn:
        assert conn.code() == 220
        conn.command("EHLO client.test")
        assert conn.code() == 421  # the idle timeout's
        conn.send(b"".join(line.encode() + b"\r\n" for line in sent))
        assert conn.eof()
    client, _ = _client_lines(fresh)
    assert client[-len(shown) :] == shown


def test_an_auth_past_the_lines_shown_masks_its_answers(fresh: Server) -> None:
    """Past the first 20 lines after the close the rest are counted, not recorded; an AUTH
    recorded last has its answers read one by one (masked), the count going on after them."""
    fresh.use(auth_scenario(users={"alice": SECRET}))
    sent = ["NOOP"] * 19 + ["AUTH LOGIN", b64("alice"), b64(SECRET)] + ["RSET"] * 30
    with Raw(fresh) as conn:
        assert conn.code() == 220
        conn.command("EHLO client.test")
        assert conn.command_code("QUIT") == 221
        conn.send(b"".join(line.encode() + b"\r\n" for line in sent))
        assert conn.eof()
    client, text = _client_lines(fresh)
    assert client[-3:] == ["AUTH LOGIN", AUTH_MASK, AUTH_MASK]
    assert "more lines" in text  # the RSETs after them: counted
