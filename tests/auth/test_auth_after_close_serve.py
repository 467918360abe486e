"""``smtpfake serve``'s text and JSON logs when the server's own 421 cuts an AUTH exchange (fresh16
F3): its idle timeout, or its stop on SIGTERM (read on for --stop-grace-period). The client's
answers to the last 334, sent after the 421 (here LOGIN at "Username:", a client that sends the
password without waiting), are logged as ``(auth response)``, and so is the violation the second
one is; the secret never. A real ``smtpfake serve`` process and a raw client on loopback."""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path

import pytest

from smtpfake.engine.auth_mask import AUTH_MASK

from ..cli.test_serve_log import per_session, serve
from .helpers import b64

SECRET = "S3cretPW"
SCENARIO = """summary: auth cut
expect: the answers after the 421 masked
server: {auth: {users: {alice: S3cretPW}, mechanisms: [LOGIN]}%s}
"""


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("how", ["idle_timeout", "sigterm"])
def test_the_answers_after_the_421_are_logged_masked(tmp_path: Path, how: str, fmt: str) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(SCENARIO % (", idle_timeout: 0.4" if how == "idle_timeout" else ""))
    args = ("--scenario", str(path), "--log-format", fmt, "--stop-grace-period", "2")
    with serve(tmp_path, *args) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            reader = client.makefile("rb")
            assert reader.readline().startswith(b"220 ")
            client.sendall(b"EHLO client.test\r\n")
            while not reader.readline().startswith(b"250 "):
                pass  # (the EHLO reply's lines; the socket's timeout bounds it)
            client.sendall(b"AUTH LOGIN\r\n")
            assert reader.readline() == b"334 VXNlcm5hbWU6\r\n"
            if how == "sigterm":
                server.proc.send_signal(signal.SIGTERM)
            assert reader.readline().startswith(b"421 ")
            answers = f"{b64('alice')}\r\n{b64(SECRET)}\r\nQUIT\r\n"
            client.sendall(answers.encode())
            assert reader.read() == b""  # never answered: the close at the grace period's end
        if how == "sigterm":
            assert server.proc.wait(timeout=10) == 0
            text = server.text()
        else:
            server.wait_for("closed" if fmt == "text" else '"event": "close"')
            text = server.stop()
    for secret in (SECRET, b64(SECRET), b64("alice")):
        assert secret not in text
    if fmt == "text":
        session = per_session(text)[1]
        shown = [line[3:] for line in session if line.startswith("C: ")]
        violations = [line for line in session if "sent-after-close" in line]
    else:
        events = [e for e in map(json.loads, text.splitlines()) if e.get("session") == 1]
        shown = [e["text"] for e in events if e["event"] == "command"]
        violations = [json.dumps(e) for e in events if e["event"] == "violation"]
    assert shown[-3:] == [AUTH_MASK, AUTH_MASK, "QUIT"], text
    # the first answer is the command RFC 5321 §3.8 forgives; the second is judged, as masked
    assert len(violations) == 1 and AUTH_MASK in violations[0], text
