"""An AUTH exchange cut by the server's idle-timeout 421, on a real socket, on each event loop,
plain and after STARTTLS (fresh16 F3): the client's answer to the last 334, sent after the 421,
is read in the grace period, recorded as ``(auth response)``, never as the secret, and judged
as any line after the close (the first is forgiven, RFC 5321 §3.8; the next is
``sent-after-close``)."""

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
#: the exchange up to the cut (each line answered by a 334), and the client's answers after it
STAGES = {
    "PLAIN": (["AUTH PLAIN"], [plain("alice", SECRET)]),
    "LOGIN-password": (["AUTH LOGIN", b64("alice")], [b64(SECRET)]),
    "LOGIN-username": (["AUTH LOGIN"], [b64("alice"), b64(SECRET)]),
}


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "starttls"])
@pytest.mark.parametrize("stage", STAGES)
def test_the_answer_after_an_idle_421_is_masked(fresh: Server, stage: str, tls: bool) -> None:
    data = auth_scenario(users={"alice": SECRET})
    data["server"].update(idle_timeout=0.5, tls=tls)
    fresh.use(data)
    before, answers = STAGES[stage]
    with Raw(fresh) as conn:
        assert conn.code() == 220
        conn.command("EHLO client.test")
        if tls:
            assert conn.command_code("STARTTLS") == 220
            conn.tls(fresh.tls_client_context())
            conn.command("EHLO client.test")
        for line in before:
            assert conn.command_code(line) == 334
        assert conn.code() == 421  # the idle timeout's, while the client "thinks"
        conn.send(b"".join(a.encode() + b"\r\n" for a in answers) + b"QUIT\r\n")
        assert conn.eof()  # never answered; the server closes at the grace period's end
    (record,) = ended_sessions(fresh, 1, timeout=SHARED_GRACE + 3.0)
    client = [e.text for e in record.transcript if e.side == "client" and not e.note]
    assert client[-len(answers) - 1 :] == [AUTH_MASK] * len(answers) + ["QUIT"]
    for secret in (SECRET, b64(SECRET), plain("alice", SECRET), b64("alice")):
        assert secret not in record.format()
        assert secret not in session_to_json(record)
    judged = [v.command for v in record.violations if v.kind == "sent-after-close"]
    assert judged == ([AUTH_MASK] * len(answers) + ["QUIT"])[1:2]
    assert record.auth_user is None
