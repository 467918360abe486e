"""Octets queued between the server and a client that does not read, measured without reading
(Linux's SIOCOUTQ on the server's end, FIONREAD on the client's), and small socket buffers that
a few replies fill (the ``server_ends`` fixture in conftest.py sets the server's)."""

from __future__ import annotations

import fcntl
import socket
import struct
import termios
import time

#: octets asked for SO_SNDBUF / SO_RCVBUF (Linux doubles it)
SMALL = 4096


def queued(sock: socket.socket | int, request: int) -> int:
    """The octets ``request`` (termios.FIONREAD, termios.TIOCOUTQ) counts on ``sock``."""
    fd = sock if isinstance(sock, int) else sock.fileno()
    return int(struct.unpack("i", fcntl.ioctl(fd, request, b"\0\0\0\0"))[0])


def wait_blocked(client: socket.socket, server_end: int) -> int:
    """Until the server is held up by the client's reading: octets are queued between them and
    the queues stop changing (the server wrote what the kernels take, and waits). Returns
    those octets; fails after about 10 s."""
    last, same = -1, 0
    for _ in range(400):
        now = queued(client, termios.FIONREAD) + queued(server_end, termios.TIOCOUTQ)
        same = same + 1 if now == last and now > 0 else 0
        if same >= 3:
            return now
        last = now
        time.sleep(0.025)
    raise AssertionError("the server never filled the socket")


def read_exactly(sock: socket.socket, octets: int) -> bytes:
    """``octets`` octets from ``sock`` (the socket's timeout bounds a stall; an EOF fails)."""
    got = bytearray()
    while len(got) < octets:
        data = sock.recv(1 << 16)
        assert data, "EOF before every reply came"
        got += data
    return bytes(got)
