"""Two reference clients for the probe's own tests, written once over a :class:`Channel` (the
engine driven by hand, or a real socket), so every case is checked at both levels.

- :func:`careful` does what each case's ``expect`` asks of a good client: it tells transient
  from permanent at every stage, QUITs unless the server closed, falls back to HELO, requires
  STARTTLS when told to, never AUTHs in clear text, converts what a server cannot take (8-bit,
  bare LF, long lines, UTF-8 addresses), sends recipients refused with 452 in a new
  transaction, and (retrying) comes back after transient failures only.
- :func:`careless` ignores every reply: it sends the whole dialogue blind and reports
  "delivered"; retrying, it sends it three times whatever happened.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from smtpfake.probe.cases import Target

#: a reply: its code (0: no reply, the connection was lost or timed out) and its text lines
Reply = tuple[int, list[str]]


class Channel(Protocol):
    """One connection, as a client sees it."""

    def greeting(self) -> Reply: ...

    def command(self, line: str) -> Reply: ...

    def message(self, body: bytes) -> Reply:
        """The message lines (CRLF, dot-stuffed by the channel) and the final "."."""
        ...

    def starttls(self) -> bool:
        """The handshake after a 220 to STARTTLS; False: it failed (connection gone)."""
        ...

    def close(self) -> None: ...


Connect = Callable[[], Channel]


@dataclass
class Attempt:
    outcome: str  # delivered / transient / permanent
    pending: list[str] = field(default_factory=list)  # recipients to try again later


def _keywords(reply: Reply) -> dict[str, str]:
    return {line.split(" ", 1)[0].upper(): line.partition(" ")[2] for line in reply[1][1:]}


def _seven_bit(body: bytes) -> bytes:
    """What a client that converts to 7-bit sends: CRLF line ends (a bare CR or LF made one,
    RFC 5321 §2.3.8), non-ASCII octets replaced (a stand-in for quoted-printable), lines folded
    at 998 octets."""
    lines = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    out = []
    for line in lines:
        line = bytes(b if b < 128 else 0x3F for b in line)
        out += [line[i : i + 998] for i in range(0, max(len(line), 1), 998)]
    return b"\r\n".join(out)


def _fail(code: int) -> str:
    return "permanent" if code >= 500 else "transient"


def attempt(channel: Channel, target: Target, recipients: list[str]) -> Attempt:
    """One connection of the careful client."""
    quit_ok = True

    def done(outcome: str, pending: list[str], code: int = 250) -> Attempt:
        if quit_ok and code not in (0, 421):
            channel.command("QUIT")
        channel.close()
        return Attempt(outcome, pending)

    code, _ = channel.greeting()
    if code != 220:
        return done(_fail(code) if code else "transient", recipients, code)
    ehlo = channel.command("EHLO client.probe.test")
    if ehlo[0] >= 500:
        ehlo = channel.command("HELO client.probe.test")
        ehlo = (ehlo[0], ehlo[1][:1])
    if ehlo[0] != 250:
        return done(_fail(ehlo[0]) if ehlo[0] else "transient", recipients, ehlo[0])
    keywords = _keywords(ehlo)
    if target.tls == "starttls":
        if "STARTTLS" not in keywords:
            return done("permanent", recipients)  # stripped: no AUTH, no MAIL in clear
        code, _ = channel.command("STARTTLS")
        if code != 220:
            return done(_fail(code) if code else "transient", recipients, code)
        if not channel.starttls():
            quit_ok = False
            return done("transient", recipients, 0)
        ehlo = channel.command("EHLO client.probe.test")
        if ehlo[0] != 250:
            return done(_fail(ehlo[0]) if ehlo[0] else "transient", recipients, ehlo[0])
        keywords = _keywords(ehlo)
    if target.credentials and "AUTH" in keywords:
        user, password = target.credentials
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        code, _ = channel.command(f"AUTH PLAIN {token}")
        if code != 235:
            return done(_fail(code) if code else "transient", recipients, code)
    body, params = target.message, []
    eight_bit = any(b >= 128 for b in body)
    if eight_bit and "8BITMIME" in keywords:
        params.append("BODY=8BITMIME")
    if not eight_bit or "8BITMIME" not in keywords:
        body = _seven_bit(body)
    if not target.sender.isascii():
        if "SMTPUTF8" not in keywords:
            return done("permanent", [])
        params.append("SMTPUTF8")
    limit = keywords.get("SIZE", "")
    if limit.isdigit() and int(limit) and len(body) > int(limit):
        return done("permanent", [])
    if "SIZE" in keywords:
        params.append(f"SIZE={len(body)}")
    delivered, pending = False, list(recipients)
    later: list[str] = []
    permanent = False
    for _ in range(10):  # transactions on this connection (452 leaves recipients over)
        if not pending:
            break
        code, _ = channel.command(f"MAIL FROM:<{target.sender}> {' '.join(params)}".rstrip())
        if code != 250:
            return done(_fail(code) if code else "transient", pending + later, code)
        accepted, again = [], []
        for rcpt in pending:
            code, lines = channel.command(f"RCPT TO:<{rcpt}>")
            if code == 250:
                accepted.append(rcpt)
            elif code == 452 and lines and "4.5.3" in lines[0]:
                again.append(rcpt)  # too many recipients: the next transaction
            elif code in (0, 421):
                return done("transient", pending + later, code)
            elif code >= 500:
                permanent = True
            else:
                later.append(rcpt)
        if not accepted:
            channel.command("RSET")
            pending = again
            continue
        code, _ = channel.command("DATA")
        if code != 354:
            return done(_fail(code) if code else "transient", accepted + again + later, code)
        code, _ = channel.message(body)
        if code != 250:
            return done(_fail(code) if code else "transient", accepted + again + later, code)
        delivered, pending = True, again
    if later:
        return done("transient", later)
    if delivered:
        return done("delivered", [])
    return done("permanent" if permanent else "transient", [])


def careful(connect: Connect, target: Target, wait: Callable[[], None], retrying: bool) -> str:
    """The careful client: one attempt, or (retrying) up to 5, waiting between them."""
    result = attempt(connect(), target, list(target.recipients))
    for _ in range(4 if retrying else 0):
        if result.outcome != "transient" or not result.pending:
            break
        wait()
        result = attempt(connect(), target, result.pending)
    return result.outcome


def careless(connect: Connect, target: Target, retrying: bool) -> str:
    """The careless client: the whole dialogue blind, once or (retrying) three times."""
    for _ in range(3 if retrying else 1):
        try:
            channel = connect()
        except OSError:
            continue  # refused or reset at once: it does not notice that either
        channel.greeting()
        for line in ("EHLO careless.test", f"MAIL FROM:<{target.sender}>"):
            channel.command(line)
        for rcpt in target.recipients:
            channel.command(f"RCPT TO:<{rcpt}>")
        channel.command("DATA")
        channel.message(target.message)
        channel.command("QUIT")
        channel.close()
    return "delivered"
