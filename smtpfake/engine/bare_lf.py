"""What the server makes of a bare LF, ``server.bare_lf`` (RFC 5321 §2.3.8: CR and LF appear
only together, as a line's end; §4.1.1.4: the message ends with <CRLF>.<CRLF>).

The client's bare LF is recorded as ``bare-lf`` (conduct.py) whatever the policy. The policies
are Postfix's ``smtpd_forbid_bare_newline`` settings, the defence against "SMTP smuggling"
(CVE-2023-51764: a server that ends the message at ``<LF>.<LF>`` reads what follows as commands):

- ``accept``: a bare LF ends a line, and a "." line ending in one or after one ends the message
  (Postfix before 3.9, ``no``);
- ``normalize``: a bare LF ends a line, but only <CRLF>.<CRLF> ends the message; any other "."
  line is text (Postfix 3.9's default);
- ``reject``: as ``normalize``, and a command line ending in a bare LF is refused instead of
  carried out, a message with one refused at its end, with Postfix's
  ``550 5.5.2 HOST Error: bare <LF> received`` (its default reject code);
- ``disconnect``: as ``reject`` with ``521`` (Postfix with the reject code 521), then the close.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from smtpfake.scenario.model import BARE_LF_POLICIES, Stage
from smtpfake.scenario.plan import Action, Close, Plan

if TYPE_CHECKING:
    from smtpfake.engine.session import Session

#: policy -> whether only <CRLF>.<CRLF> ends the message (body.Body.crlf_only)
CRLF_ONLY = {"accept": False, "normalize": True, "reject": True, "disconnect": True}
#: policy -> the reply code refusing a line or message with a bare LF (None: not refused)
REFUSAL_CODE: dict[str, int | None] = {
    "accept": None,
    "normalize": None,
    "reject": 550,
    "disconnect": 521,
}
assert set(CRLF_ONLY) == set(REFUSAL_CODE) == set(BARE_LF_POLICIES)


def has_bare_lf(line: bytes) -> bool:
    """A command line (ending at its first LF) whose LF has no CR before it."""
    return line.endswith(b"\n") and not line.endswith(b"\r\n")


def refuse(
    session: Session, stage: Stage, argument: str, then: Callable[[], None] | None = None
) -> tuple[Action, ...] | None:
    """The reply to a command line (``stage``) or message (end_of_data) with a bare LF when
    the policy refuses it, else None: ``550 5.5.2 HOST Error: bare <LF> received``, or with
    ``disconnect`` the same with 521 and the close (RFC 7504: 521 and closing). A rule on the
    stage may still answer instead, as for any reply the server makes. ``then`` runs once the
    reply is decided (session.respond)."""
    code = REFUSAL_CODE[session.settings.bare_lf]
    if code is None:
        return None
    text = f"{session.settings.hostname} Error: bare <LF> received"
    reply = session.reply(code, "5.5.2", text)
    if code != 521:
        return session.respond(stage, argument, reply, then=then)
    return session.respond(stage, argument, Plan(reply, after=(Close(),)), then=then)
