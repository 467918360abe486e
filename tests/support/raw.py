"""A raw socket SMTP client for wire tests: exact bytes in and out, plain or over TLS.

All reads go through one buffer, so line-wise reads (``line``/``reply``) and read-boundary-wise
reads (``recv``/``until``) can be mixed on one connection. Every read has the socket timeout;
every loop a budget.
"""

from __future__ import annotations

import socket
import ssl

from smtpfake.server import Server

from . import TIMEOUT


class Raw:
    """One client connection. ``implicit`` wraps it in TLS at once; ``tls()`` upgrades it later."""

    def __init__(
        self, server: Server, timeout: float = TIMEOUT, *, implicit: ssl.SSLContext | None = None
    ) -> None:
        self.sock: socket.socket = socket.create_connection(
            (server.host, server.port), timeout=timeout
        )
        if implicit is not None:
            self.sock = implicit.wrap_socket(self.sock, server_hostname="localhost")
        self.buffer = b""

    def tls(self, context: ssl.SSLContext, hostname: str = "localhost") -> None:
        """Start TLS on the connection (after the server's 220 to STARTTLS)."""
        assert not self.buffer, f"plaintext left unread before the handshake: {self.buffer!r}"
        self.sock = context.wrap_socket(self.sock, server_hostname=hostname)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read(self) -> bytes:
        try:
            return self.sock.recv(65536)
        except ConnectionResetError:
            return b""

    def recv(self) -> bytes:
        """One read as the kernel hands it over (buffered bytes first); b"" at EOF or reset."""
        if self.buffer:
            data, self.buffer = self.buffer, b""
            return data
        return self._read()

    def line(self, limit: int = 4096) -> bytes:
        """One line with its LF (at most ``limit`` bytes), like readline; b"" at EOF or reset."""
        data, self.buffer = self.buffer, b""
        for _ in range(1000):
            end = data.find(b"\n", 0, limit)
            if end >= 0 or len(data) >= limit:
                cut = end + 1 if end >= 0 else limit
                self.buffer = data[cut:]
                return data[:cut]
            piece = self._read()
            if not piece:
                return data
            data += piece
        raise AssertionError(f"no end of line in {data[:200]!r}")

    def reply(self) -> list[bytes]:
        """One complete reply (all lines of a multi-line reply), checked for RFC 5321 §4.2 form."""
        lines: list[bytes] = []
        for _ in range(100):
            line = self.line()
            assert line, f"EOF inside a reply after {lines!r}"
            assert line.endswith(b"\r\n"), f"reply line without CRLF: {line!r}"
            assert line[:3].isdigit() and line[3:4] in (b" ", b"-"), f"malformed: {line!r}"
            if lines:
                assert line[:3] == lines[0][:3], f"code changed inside a reply: {[*lines, line]!r}"
            lines.append(line)
            if line[3:4] == b" ":
                return lines
        raise AssertionError(f"reply longer than 100 lines: {lines[:3]!r}...")

    def reply_bytes(self) -> bytes:
        """One complete reply as the bytes that came (all its lines)."""
        return b"".join(self.reply())

    def code(self) -> int:
        return int(self.reply()[-1][:3])

    def command(self, text: str | bytes) -> list[bytes]:
        """Send one command line (CRLF added); its reply's lines."""
        data = text.encode() if isinstance(text, str) else text
        self.send(data + b"\r\n")
        return self.reply()

    def command_bytes(self, text: str | bytes) -> bytes:
        return b"".join(self.command(text))

    def command_code(self, text: str | bytes) -> int:
        return int(self.command(text)[-1][:3])

    def until(self, end: bytes, limit: int = 1000) -> tuple[bytes, list[bytes]]:
        """Read until the data ends with ``end`` (or EOF); the data and each new read's piece."""
        pieces: list[bytes] = []
        data, self.buffer = self.buffer, b""
        for _ in range(limit):
            if data.endswith(end):
                break
            piece = self._read()
            if not piece:
                break
            pieces.append(piece)
            data += piece
        return data, pieces

    def rest(self) -> bytes:
        """Everything until the server closes; ECONNRESET or a TLS-level close counts as closed."""
        out, self.buffer = self.buffer, b""
        try:
            for _ in range(1000):
                chunk = self._read()
                if not chunk:
                    return out
                out += chunk
        except ssl.SSLError:
            return out
        raise AssertionError(f"the server kept sending: {out[:200]!r}...")

    def eof(self) -> bool:
        """True when the server has closed (EOF, RST or TLS-level close) with nothing more sent."""
        return self.rest() == b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
