"""The consult step: a user's aiosmtpd-style handler decides a reply that YAML cannot express.

When the server has a handler with ``handle_<HOOK>`` and a command's normal reply is positive,
the engine hands the wire a :class:`~smtpfake.scenario.plan.Consult` instead of the reply; the
wire awaits the handler and reports its answer with ``Connection.consulted(answer)``, and the
engine goes on with the handler's reply in place of the normal one (the scenario's rules still
apply on top of it). Refusals the engine decides itself (order, syntax, limits) are not asked.
"""

from __future__ import annotations

from smtpfake.scenario.model import Stage
from smtpfake.scenario.reply import ENHANCED_LIKE_RE, ENHANCED_RE, Reply, check_reply

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
    # so that the class default is not added in front of it (fresh17 F1). Taken as meant even
    # when malformed or of another class, as a rule's is, for answer_problem to name
    if len(firsts) == 1 and ENHANCED_LIKE_RE.fullmatch(first):
        enhanced, texts = first, [text.partition(" ")[2] for text in texts]
    return Reply(int(code), tuple(texts), enhanced)


def answer_problem(reply: Reply) -> str:
    """Why a hook's reply (answer_reply's) cannot go out, "" when it can: the checks the loader
    gives a rule's reply (check_reply: printable US-ASCII text, each line within 512 octets, at
    most 100 lines, the enhanced code's class the reply's), so a hook cannot send what no
    scenario can (fresh18 F3). Each line's own code (writes_codes) is checked as a rule's."""
    own = writes_codes(reply)  # (then no default goes in front)
    checked = check_reply(reply.code, reply.enhanced, reply.lines, defaulted=not own)
    problems = [message for _, message in checked]
    if own:
        for line in reply.lines:
            first = line.partition(" ")[0]
            if ENHANCED_LIKE_RE.fullmatch(first):
                problems += [message for _, message in check_reply(reply.code, first)]
    return "; ".join(dict.fromkeys(problems))  # a code repeated on each line: said once


def writes_codes(reply: Reply) -> bool:
    """Whether a hook's reply carries its own enhanced codes, one per line, that differ from
    line to line (answer_reply leaves them in the text): it goes as written, no default added."""
    first = reply.lines[0].partition(" ")[0] if reply.lines else ""
    return reply.enhanced is None and ENHANCED_RE.fullmatch(first) is not None


def status_after_extensions(lines: tuple[str, ...], status: str) -> list[str]:
    """The EHLO reply for aiosmtpd's older ``handle_EHLO`` form (4 parameters), as aiosmtpd sends
    it: the reply's ``lines`` (the greeting line, then the extensions) continued, then the hook's
    ``status`` line(s). It takes HELP's place (aiosmtpd's last line), and only HELP's: the
    session is judged by the other keywords, so they stay listed (fresh18 F2)."""
    kept = [line for line in lines[1:] if line.partition(" ")[0].upper() != "HELP"]
    return [f"250-{line}" for line in (*lines[:1], *kept)] + status.split("\r\n")


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
