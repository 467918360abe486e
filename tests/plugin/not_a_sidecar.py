"""Servers on loopback that answer a sidecar's URL with something that is not its API: each
connection gets one canned answer, then the socket is closed (for tests/plugin and tests/cli)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: what answered, by name: the answer's bytes, and what the one-line error says of it
ANSWERS = {
    # the sidecar's own SMTP port given for its API's (the likeliest mix-up)
    "an SMTP banner": (b"220 smtpfake.test ESMTP smtpfake\r\n", "answered like an SMTP server"),
    "a web page": (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<html></html>",
        "answered 200 and not JSON",
    ),
    "another JSON API": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n"
        b'{"ok": true}',
        "not a sidecar's health",
    ),
    "a reply cut short": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{",
        "answer was cut short",
    ),
}


@contextmanager
def answering(answer: bytes) -> Iterator[str]:
    """The URL of a server that sends ``answer`` on every connection (at most 200, each its
    own, for at most 60 s), after reading what the client sent first."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        for _ in range(200):
            if stop.is_set():
                return
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                if not answer.startswith(b"220"):  # an SMTP server speaks first
                    try:
                        conn.recv(65536)
                    except OSError:
                        continue
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
