"""The consult step: a user's aiosmtpd-style handler decides a reply that YAML cannot express.

When the server has a handler with ``handle_<HOOK>`` and a command's normal reply is positive,
the engine hands the wire a :class:`~smtpfake.scenario.plan.Consult` instead of the reply; the
wire awaits the handler and reports its answer with ``Connection.consulted(answer)``, and the
engine goes on with the handler's reply in place of the normal one (the scenario's rules still
apply on top of it). Refusals the engine decides itself (order, syntax, limits) are not asked.
"""

from __future__ import annotations

from collections.abc import Sequence

from smtpfake.scenario.model import Stage
from smtpfake.scenario.reply import ENHANCED_RE, Reply

#: the stage whose reply each of aiosmtpd's reply-deciding hooks decides (``handle_<HOOK>``)
HOOKS: dict[Stage, str] = {
    Stage.HELO: "HELO",
    Stage.EHLO: "EHLO",
    Stage.MAIL: "MAIL",
    Stage.RCPT: "RCPT",
    Stage.END_OF_DATA: "DATA",
    Stage.RSET: "RSET",
    Stage.NOOP: "NOOP",
    Stage.VRFY: "VRFY",
    Stage.QUIT: "QUIT",
}

#: the reply when the handler raised or answered something that is not a reply (the failure
#: itself goes to Server.errors and fails the test that caused it)
FAILED = Reply(451, ("smtpfake: the handler failed, see the test report",), "4.3.0")


def answer_reply(answer: str | Sequence[str] | None) -> Reply | None:
    """aiosmtpd's answer as a Reply: a status line (``"250 OK"``, ``"550 5.1.1 No such user"``,
    RFC 5321 §4.2) or, from ``handle_EHLO``, the reply's lines (``["250-host", "250 HELP"]``,
    the code taken from the first). None when it is neither (or the codes disagree)."""
    if answer is None:
        return None
    lines = answer.split("\r\n") if isinstance(answer, str) else list(answer)
    if not lines or not all(isinstance(line, str) for line in lines):
        return None
    code = lines[0][:3]
    if not (code.isdigit() and "2" <= code[0] <= "5"):
        return None
    texts: list[str] = []
    for line in lines:
        if line[:3] != code or line[3:4] not in ("", " ", "-"):
            return None
        texts.append(line[4:])
    enhanced = None
    first, _, rest = texts[0].partition(" ")
    if len(texts) == 1 and ENHANCED_RE.fullmatch(first) and first[0] == code[0]:
        enhanced, texts[0] = first, rest
    return Reply(int(code), tuple(texts), enhanced)
