"""Free loopback ports for tests that must name a fixed port (``--smtpfake-port`` and the like)."""

from __future__ import annotations

import contextlib
import socket


def free_ports(count: int = 1, tries: int = 50) -> int:
    """The first of ``count`` consecutive loopback ports that were all free a moment ago.

    Under the parallel suite the port after an ephemeral one is often another test's client or
    server (xdist workers listen on ``PORT + N``), so each port of the run is tried, not assumed.
    Raises AssertionError after ``tries`` attempts."""
    for _ in range(tries):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            base = int(first.getsockname()[1])
        if base + count > 65536:
            continue
        with contextlib.ExitStack() as held:
            try:
                for port in range(base, base + count):
                    held.enter_context(socket.create_server(("127.0.0.1", port)))
            except OSError:
                continue
        return base
    raise AssertionError(f"no {count} consecutive free ports in {tries} tries")
