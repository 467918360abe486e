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


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_malformed_lines_and_answers_read_as_commands_are_logged_masked(
    tmp_path: Path, fmt: str
) -> None:
    # fresh23 F1, F3: a tab-separated AUTH line (the 500 echoed it whole), and a client that
    # ends each answer twice (base64.encodebytes, then CRLF): the password line is read as a
    # command, and was logged and echoed in clear
    path = tmp_path / "auth.yaml"
    path.write_text(SCENARIO % "")
    args = ("--scenario", str(path), "--log-format", fmt)
    ir = b64(f"\0alice\0{SECRET}")
    with serve(tmp_path, *args) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            reader = client.makefile("rb")
            heard = [reader.readline()]
            for line in (
                b"EHLO client.test\r\n",
                f"AUTH\tLOGIN\t{ir}\r\n".encode(),
                b"AUTH LOGIN\r\n",
                f"{b64('alice')}\n\r\n".encode(),
                f"{b64(SECRET)}\n\r\n".encode(),
                b"QUIT\r\n",
            ):
                client.sendall(line)
                heard.append(reader.readline())
                while heard[-1][3:4] == b"-":
                    heard.append(reader.readline())  # (the EHLO reply's lines)
            heard.append(reader.read())
        server.wait_for("closed" if fmt == "text" else '"event": "close"')
        text = server.stop()
    replies = b"".join(heard).decode()
    for secret in (SECRET, b64(SECRET), ir[4:20]):
        assert secret.casefold() not in text.casefold(), text
        assert secret.casefold() not in replies.casefold(), replies
    # the AUTH line's and the password line's 500s: no echo of either
    assert replies.count("500 5.5.2 Error: command not recognized") == 2, replies
    assert text.count(AUTH_MASK) >= 4, text  # the AUTH line, the three answers
