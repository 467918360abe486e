"""One command as rules see it (:class:`Occurrence`), and the client's address as ``per:
client`` keys it (:func:`client_ip`).

Apart from engine/matching.py so that a session imports the rule machinery (matching, rulecode,
nearmisses) only when a scenario with rules is compiled (issue 11: ``smtpfake serve`` start-up).
"""

from __future__ import annotations

import functools

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.model import Stage


@frozen_dataclass
class Occurrence:
    """One thing happening in a session that rules may react to."""

    stage: Stage
    argument: str  # address for MAIL/RCPT, domain for HELO/EHLO, the raw argument otherwise
    nth: int  # how many times this stage has occurred in the session, this one included
    connection: int
    peer: str = ""  # the client as the wire gives it: "ip:port"
    sender: str = ""  # MAIL FROM of the open transaction (at MAIL, the argument is the sender)
    recipients: tuple[str, ...] = ()  # accepted RCPT TOs so far (at RCPT, the argument is one)
    time: float = 0.0  # the session clock's now()
    # Facts about the connection before this command (the rule conditions of the same names):
    greeted: str = "none"  # "helo", "ehlo" or "none" (TLS starts the session over)
    tls: bool = False  # TLS is active
    auth_user: str | None = None  # who AUTH succeeded for; None: not authenticated
    message: int = 0  # the mail transaction: at MAIL the one it would begin, then the one open
    size: int | None = None  # SIZE= of this transaction's MAIL
    body: str | None = None  # BODY= of this transaction's MAIL, upper case

    def part(self, name: str) -> str:
        """One part of a ``per`` key."""
        if name == "connection":
            return str(self.connection)
        if name == "client":
            return client_ip(self.peer)
        if name == "sender":
            return (self.argument if self.stage is Stage.MAIL else self.sender).lower()
        if name == "recipient":
            if self.stage is Stage.RCPT:
                return self.argument.lower()
            return ",".join(sorted(r.lower() for r in self.recipients))
        raise ValueError(f"unknown per-key part {name!r}")  # the loader lets no other through


@functools.lru_cache(maxsize=4096)  # per rule and command otherwise: it was 60% of a busy engine
def client_ip(peer: str) -> str:
    """The address without the port: greylisting keys on the IP, and every connection of one
    client comes from a different port. Accepts "ip:port", "[v6]:port" and a bare IPv4."""
    if peer.startswith("["):
        return peer[1:].partition("]")[0]
    host, sep, port = peer.partition(":")
    if sep and port.isdigit():
        return host  # "ip:port", the usual case: no address parsed (and no exception raised)
    import ipaddress  # a bare address, which the wire never gives: not loaded at start-up

    try:
        return str(ipaddress.IPv4Address(peer))
    except ValueError:
        pass
    host, sep, port = peer.rpartition(":")
    return host if sep and port.isdigit() else peer
