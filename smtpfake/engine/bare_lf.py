"""What the server makes of a bare LF and a bare CR, ``server.bare_lf`` and ``server.bare_cr``
(RFC 5321 §2.3.8: CR and LF appear only together, as a line's end; §4.1.1.4: the message ends
with <CRLF>.<CRLF>).

The client's bare LF and bare CR are recorded as ``bare-lf`` and ``bare-cr`` (conduct.py)
whatever the policy. The bare-LF policies are Postfix's ``smtpd_forbid_bare_newline`` settings,
the defence against "SMTP smuggling" (CVE-2023-51764: a server that ends the message at
``<LF>.<LF>`` reads what follows as commands):

- ``accept``: a bare LF ends a line, and a "." line ending in one or after one ends the message
  (Postfix before 3.9, ``no``);
- ``normalize``: a bare LF ends a line, but only <CRLF>.<CRLF> ends the message; any other "."
  line is text (Postfix 3.9's default);
- ``reject``: as ``normalize``, and a command line ending in a bare LF is refused instead of
  carried out, a message with one refused at its end, with Postfix's
  ``550 5.5.2 HOST Error: bare <LF> received`` (its default reject code);
- ``disconnect``: as ``reject`` with ``521`` (Postfix with the reject code 521), then the close.

A bare CR ends no line (as in Postfix, so ``<CR>.<CR>`` ends no message) but with ``clean``;
its policies are ``accept`` (an octet like any other: Postfix; Cisco Secure Email's CR and LF
Handling ``Allow``), ``clean`` (a line end, as a CRLF: Cisco's default ``Clean``, which turns
bare CR and LF into CRLF, so ``<CR>.<CR>`` ends the message and the text after it is read as
commands: the inbound side of the 2023 "SMTP smuggling" research, CERT-EU 2023-098),
``reject`` and ``disconnect`` (the same refusals as for LF, ``... Error: bare <CR> received``;
Sendmail 8.18 drops the session, its ``u`` server feature). A CR is known to be bare only when
the octet after it has come: a line whose last octet so far is a CR waits for the next one (an
LF makes it a CRLF), as a split CRLF would. Where both are refused, the LF's refusal is the
one sent. What is refused: command lines, AUTH response lines (the refusal ends the exchange)
and BDAT command lines (the chunk is read and discarded first, RFC 3030 §2); a BDAT chunk's
octets are counted, not lines, so nothing in them is judged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from smtpfake.scenario.model import BARE_CR_POLICIES, BARE_LF_POLICIES, ServerSettings, Stage
from smtpfake.scenario.plan import Action, Close, Plan
from smtpfake.scenario.reply import Reply

if TYPE_CHECKING:
    from smtpfake.engine.session import Session

#: policy -> whether only <CRLF>.<CRLF> ends the message (body.Body.crlf_only)
CRLF_ONLY = {"accept": False, "normalize": True, "reject": True, "disconnect": True}
#: policy (either setting's) -> the reply code refusing a line or message with a bare LF or CR
#: (None: not refused)
REFUSAL_CODE: dict[str, int | None] = {
    "accept": None,
    "normalize": None,
    "clean": None,
    "reject": 550,
    "disconnect": 521,
}
#: ``server.bare_cr`` -> whether a bare CR ends a line (as a CRLF does: connection.py frames
#: on it, body.Body.cr_ends lets ``.<CR>`` after a line end be the final ".")
CR_ENDS_LINE = {"accept": False, "clean": True, "reject": False, "disconnect": False}
assert set(CRLF_ONLY) == set(BARE_LF_POLICIES)
assert set(BARE_LF_POLICIES) | set(BARE_CR_POLICIES) == set(REFUSAL_CODE)
assert set(CR_ENDS_LINE) == set(BARE_CR_POLICIES)

#: a refusal: its reply code and what it names (``<LF>`` or ``<CR>``)
Refusal = tuple[int, str]


def cr_line_end(buffer: bytes | bytearray, stop: int) -> int:
    """Where the first line in ``buffer`` ends when a bare CR ends a line (``bare_cr: clean``):
    the index of its last octet, an LF or a bare CR, before ``stop``; -1 when none is there yet.
    A CR that is the buffer's last octet is not known to be bare until the next one comes (an LF
    after it makes the pair): -1, as for a line not ended yet."""
    lf = buffer.find(b"\n", 0, stop)
    # only the first CR before that LF counts: any CR is followed by an LF or ends the line
    cr = buffer.find(b"\r", 0, stop if lf < 0 else lf)
    if cr < 0:
        return lf
    if cr + 1 == len(buffer):
        return -1
    return lf if buffer[cr + 1] == 10 else cr  # (a CRLF: ends at its LF, maybe past stop)


def has_bare_lf(line: bytes) -> bool:
    """A command line (ending at its first LF) whose LF has no CR before it."""
    return line.endswith(b"\n") and not line.endswith(b"\r\n")


def has_bare_cr(line: bytes) -> bool:
    """A line (or text) with a CR that no LF follows."""
    return line.count(b"\r") != line.count(b"\r\n")


def refusal(settings: ServerSettings, line: bytes) -> Refusal | None:
    """Whether the policies refuse this line (a command or AUTH line, with its line ending, not
    one plain CRLF line: the caller has looked), and how; None when they do not."""
    code = REFUSAL_CODE[settings.bare_lf]
    if code is not None and has_bare_lf(line):
        return code, "<LF>"
    code = REFUSAL_CODE[settings.bare_cr]
    if code is not None and has_bare_cr(line):
        return code, "<CR>"
    return None


def message_refusal(session: Session) -> Refusal | None:
    """Whether the policies refuse the message just ended, from what was told of its text."""
    settings, conduct = session.settings, session.conduct
    for kind, policy, what in (
        ("bare-lf", settings.bare_lf, "<LF>"),
        ("bare-cr", settings.bare_cr, "<CR>"),
    ):
        code = REFUSAL_CODE[policy]
        if code is not None and conduct.told_in_message(kind):
            return code, what
    return None


def refusal_plan(session: Session, refused: Refusal) -> Plan | Reply:
    """``550 5.5.2 HOST Error: bare <LF> received`` (or ``<CR>``), or with ``disconnect`` the
    same with 521 and the close (RFC 7504: 521 and closing)."""
    code, what = refused
    reply = session.reply(code, "5.5.2", f"{session.settings.hostname} Error: bare {what} received")
    return reply if code != 521 else Plan(reply, after=(Close(),))


def refuse(
    session: Session,
    stage: Stage,
    argument: str,
    refused: Refusal,
    then: Callable[[], None] | None = None,
) -> tuple[Action, ...]:
    """The reply to a command line (``stage``) or message (end_of_data) the policy refuses
    (:func:`refusal_plan`). A rule on the stage may still answer instead, as for any reply the
    server makes. ``then`` runs once the reply is decided (session.respond)."""
    return session.respond(stage, argument, refusal_plan(session, refused), then=then)
