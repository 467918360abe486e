"""The floor: the least an ``asyncio.Protocol`` SMTP sink can do per session in Python, on the
default loop or on uvloop. No record, no rules, no checks: a greeting, a reply per command line,
message text read until the final ".", 221 and close. bench/smtp_source.py runs it side by side
with smtpfake, bare aiosmtpd and Postfix's smtp-sink (kinds ``python-sink``, ``python-sink-uvloop``)
to show how much of smtpfake's time per session is Python and the loop, not smtpfake.

Alone: python bench/protocol_sink.py [--uvloop] (prints ``PORT n``, stops at stdin's EOF).
"""

from __future__ import annotations

import asyncio
import sys

import serverproc

REPLIES = {
    b"EHLO": b"250-sink.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
    b"HELO": b"250 sink.test\r\n",
    b"MAIL": b"250 2.1.0 Ok\r\n",
    b"RCPT": b"250 2.1.5 Ok\r\n",
    b"RSET": b"250 2.0.0 Ok\r\n",
    b"NOOP": b"250 2.0.0 Ok\r\n",
    b"DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
}


class Sink(asyncio.Protocol):
    """One connection. ``count``: a one-item list, the messages accepted by all of them."""

    def __init__(self, count: list[int]) -> None:
        self.count, self.buffer, self.in_data = count, b"", False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        transport.write(b"220 sink.test ESMTP\r\n")  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        buffer, out = self.buffer + data, []
        while True:
            if self.in_data:
                end = buffer.find(b"\r\n.\r\n") if not buffer.startswith(b".\r\n") else -2
                if end == -1:
                    break
                buffer, self.in_data = buffer[end + 5 :], False
                self.count[0] += 1
                out.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            end = buffer.find(b"\n")
            if end < 0:
                break
            verb, buffer = buffer[:4].upper(), buffer[end + 1 :]
            if verb == b"QUIT":
                self.transport.write(b"".join(out) + b"221 2.0.0 Bye\r\n")
                self.transport.close()
                return
            out.append(REPLIES.get(verb, b"502 5.5.2 Error: command not recognized\r\n"))
            self.in_data = self.in_data or verb == b"DATA"
        self.buffer = buffer
        if out:
            self.transport.write(b"".join(out))


async def main() -> int:
    count = [0]
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Sink(count), "127.0.0.1", 0, backlog=4096)
    serverproc.announce(server.sockets[0].getsockname()[1])
    await serverproc.wait_for_stdin_eof()
    server.close()
    return count[0]


def run(use_uvloop: bool) -> int:
    """Serve until stdin's EOF; the messages accepted."""
    if use_uvloop:
        import uvloop

        return uvloop.run(main())
    return asyncio.run(main())


if __name__ == "__main__":
    print(f"COUNT {run('--uvloop' in sys.argv)}", flush=True)
