"""The consult step: a user's aiosmtpd-style handler decides a reply that YAML cannot express.

When the server has a handler with ``handle_<HOOK>`` and a command's normal reply is positive,
the engine hands the wire a :class:`~smtpfake.scenario.plan.Consult` instead of the reply; the
wire awaits the handler and reports its answer with ``Connection.consulted(answer)``, and the
engine goes on with the handler's reply in place of the normal one (the scenario's rules still
apply on top of it). Refusals the engine decides itself (order, syntax, limits) are not asked.
"""

from __future__ import annotations

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


def answer_reply(answer: object) -> Reply | None:
    """aiosmtpd's answer as a Reply: a status line (``"250 OK"``, ``"550 5.1.1 No such user"``,
    RFC 5321 §4.2) or, from ``handle_EHLO``, the reply's lines (``["250-host", "250 HELP"]``,
    the code taken from the first). None when it is neither (or the codes disagree), and for
    anything else a hook may return (None, an int, bytes): the server says so (fresh17 F2)."""
    if isinstance(answer, str):
        lines = answer.split("\r\n")
    elif isinstance(answer, list | tuple):
        lines = list(answer)
    else:
        return None
    if not lines or not all(isinstance(line, str) for line in lines):
        return None
    if any("\r" in line or "\n" in line for line in lines):
        # a bare CR or LF would go out inside a line the record holds as whole (fresh17 F2)
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
    firsts = {text.partition(" ")[0] for text in texts}
    first = texts[0].partition(" ")[0]
    # one code on every line (RFC 2034 §3: each line carries it) is the reply's enhanced code,
    # so that the class default is not added in front of it (fresh17 F1)
    if len(firsts) == 1 and ENHANCED_RE.fullmatch(first) and first[0] == code[0]:
        enhanced, texts = first, [text.partition(" ")[2] for text in texts]
    return Reply(int(code), tuple(texts), enhanced)


def writes_codes(reply: Reply) -> bool:
    """Whether a hook's reply carries its own enhanced codes, one per line, that differ from
    line to line (answer_reply leaves them in the text): it goes as written, no default added."""
    first = reply.lines[0].partition(" ")[0] if reply.lines else ""
    return reply.enhanced is None and ENHANCED_RE.fullmatch(first) is not None


def ehlo_change(asked: tuple[str, ...], answered: tuple[str, ...]) -> str:
    """How a ``handle_EHLO`` answer's extension keywords (the KEYWORD of each ehlo-line after
    the first, RFC 5321 §4.1.1.1, case-insensitive) differ from the normal reply's: "added X,
    removed Y", "" when they are the same. The server judges by the scenario's extensions, so
    an answer that changes the set would advertise what is not in force (fresh17 F5)."""
    before = {line.partition(" ")[0].upper() for line in asked[1:]}
    after = {line.partition(" ")[0].upper() for line in answered[1:]}
    parts = [
        f"{what} {', '.join(sorted(keywords))}"
        for what, keywords in (("added", after - before), ("removed", before - after))
        if keywords
    ]
    return ", ".join(parts)
