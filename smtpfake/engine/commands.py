"""The SMTP commands: one handler each, found in :data:`COMMANDS` by verb.

A handler gets the session and the command's argument and returns the actions. It computes the
normal reply and hands it to ``Session.respond``, where rules may change it; what the command
changes in the session happens in its ``accept``, only if the reply sent is positive.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from smtpfake.engine import bare_lf, bdat, params
from smtpfake.engine.auth_mask import AUTH_MASK, KNOWN_MECHANISMS
from smtpfake.engine.body import Body, Declared
from smtpfake.engine.conduct import bad_pipelining_rfc
from smtpfake.engine.state import Mode, Refusal
from smtpfake.lazy_pattern import compiled_on_first_use
from smtpfake.scenario.model import Stage
from smtpfake.scenario.plan import Action, Close, Note, Plan, Reset, Send, StartTLS
from smtpfake.scenario.reply import Reply

if TYPE_CHECKING:
    from smtpfake.engine import auth as sasl
    from smtpfake.engine.session import Session

Handler = Callable[["Session", str], tuple[Action, ...]]

_PATH_RE = compiled_on_first_use(r"^(FROM|TO):\s*<([^<>]*)>\s*(.*)$", re.IGNORECASE)


#: DATA's go-ahead (RFC 5321 §4.2.2: 354 carries no enhanced code); one object, so the sent-reply
#: cache (session._sent) finds it by identity
_GO_AHEAD = Reply(354, ("End data with <CR><LF>.<CR><LF>",))
#: ``Plan(reply, after=(Close(),))`` by the reply's id(), each value holding its reply (so no
#: other object can take that id while it is here): QUIT's 221 is one of two replies
_CLOSING: dict[int, tuple[Reply, Plan]] = {}


# The enum members this module reads on every command, as module globals: on Python 3.10 and
# 3.11 ``Mode.DATA`` is a class attribute read through EnumType.__getattr__'s slow hook (about
# ten times a global's cost; instructions per message of serve under smtp-source: -4.9%)
_MODE_AUTH = Mode.AUTH
_MODE_COMMAND = Mode.COMMAND
_MODE_DATA = Mode.DATA
_STAGE_AUTH = Stage.AUTH
_STAGE_DATA = Stage.DATA
_STAGE_EHLO = Stage.EHLO
_STAGE_EXPN = Stage.EXPN
_STAGE_HELO = Stage.HELO
_STAGE_HELP = Stage.HELP
_STAGE_MAIL = Stage.MAIL
_STAGE_NOOP = Stage.NOOP
_STAGE_QUIT = Stage.QUIT
_STAGE_RCPT = Stage.RCPT
_STAGE_RSET = Stage.RSET
_STAGE_STARTTLS = Stage.STARTTLS
_STAGE_VRFY = Stage.VRFY


def _closing(reply: Reply) -> Plan:
    """The plan of a reply the server closes after (QUIT's 221), made once per reply."""
    known = _CLOSING.get(id(reply))
    if known is not None and known[0] is reply:
        return known[1]
    plan = Plan(reply, after=(Close(),))
    if len(_CLOSING) >= 64:
        _CLOSING.clear()
    _CLOSING[id(reply)] = (reply, plan)
    return plan


#: :func:`_path`'s answers, per keyword by argument: a client sends the same few paths again and
#: again, and a dict lookup costs a fraction of the match (bounded: cleared when full)
_PATHS: dict[str, dict[str, tuple[str, str | None, str | None]]] = {"FROM": {}, "TO": {}}
_PATHS_MAX = 1024
#: the command of each path keyword
_VERB = {"FROM": "MAIL", "TO": "RCPT"}


def _read(path: str, verb: str) -> tuple[str, str | None]:
    """:func:`smtpfake.engine.mailbox.read`, the module loaded with the first path (serve's start
    does without it); only when :data:`_PATHS` does not know the argument."""
    from smtpfake.engine import mailbox

    return mailbox.read(path, verb)


def _path(arg: str, keyword: str) -> tuple[str, str | None, str | None]:
    """``FROM:<address> parameters`` (``keyword`` FROM or TO): the address (the Mailbox, without a
    source route), the parameters, and what is wrong with the path's syntax (None: nothing;
    :func:`_read`); when the argument does not parse, the whole argument, None, None (a
    501 follows)."""
    known = _PATHS[keyword]
    found = known.get(arg)
    if found is not None:
        return found
    m = _PATH_RE.match(arg)
    path: tuple[str, str | None, str | None]
    if m is None or m.group(1).upper() != keyword:
        path = (arg, None, None)
    else:
        address, wrong = _read(m.group(2), _VERB[keyword])
        path = (address, m.group(3), wrong)
    if len(known) >= _PATHS_MAX:
        known.clear()
    known[arg] = path
    return path


#: a path without its angle brackets (``FROM:a@b.test SIZE=10``): the address, the parameters;
#: none of an RFC 822 form (``FROM:Name <a@b.test>``), which no server takes as a path
_UNBRACKETED_RE = compiled_on_first_use(r"^(FROM|TO):\s*([^\s<>]+)\s*([^<>]*)$", re.IGNORECASE)


def _loose(
    session: Session,
    arg: str,
    keyword: str,
    command: str,
    parsed: tuple[str, str | None, str | None],
) -> tuple[str, str | None, str | None, params.Problem | None]:
    """A MAIL/RCPT argument not of the form ``FROM:<path>`` (``parsed``: what :func:`_path`
    made of it). RFC 5321 §4.1.2: Path = "<" Mailbox ">", right after the colon. Two common
    departures, ``FROM: <path>`` and ``FROM:path``, are accepted and recorded as ``path-syntax``
    (once a session), as Postfix does unless ``smtpd_strict_rfc821_envelopes`` is set; with
    ``server.strict_envelope`` they get the command's 501 (``bad-syntax``). Returns the address,
    the parameters (None: no path at all, the command's own 501 follows), what is wrong with the
    mailbox (:func:`_read`) and the refusal."""
    address, words, wrong = parsed
    if words is not None:  # the path parsed, so only white space is between the colon and it
        what = f"white space after '{keyword}:' before the path"
    else:
        m = _UNBRACKETED_RE.match(arg)
        if m is None or m.group(1).upper() != keyword:
            return address, None, None, None
        (address, wrong), words = _read(m.group(2), command), m.group(3)
        what = f"a path without angle brackets ('{keyword}:{m.group(2)}')"
    rule = f'(RFC 5321 §4.1.2: "{command} {keyword}:" "<" Mailbox ">", no space)'
    if session.settings.strict_envelope:
        detail = f"{what} {rule}; refused: server.strict_envelope"
        return address, words, wrong, params.bad_path(command, detail)
    detail = f"{what} {rule}; accepted, as Postfix does without smtpd_strict_rfc821_envelopes"
    session.conduct.tell("path-syntax", detail, command)
    return address, words, wrong, None


def _simple(stage: Stage, code: int, enhanced: str, text: str) -> Handler:
    """A command that always gets the same reply and changes nothing."""

    def handle(session: Session, arg: str) -> tuple[Action, ...]:
        return session.respond(stage, arg, session.reply(code, enhanced, text))

    return handle


def _greet(session: Session, esmtp: bool, name: str) -> None:
    session.greeted = True
    session.esmtp = esmtp
    session.helo_name = name
    session.reset_transaction()


def _helo(session: Session, arg: str) -> tuple[Action, ...]:
    # RFC 2034 §3: never an enhanced code on the HELO reply. session.reply(): the one Reply
    # object per value, so the reply's bytes and actions are made once, not per HELO
    if not arg:
        return session.respond(_STAGE_HELO, arg, session.reply(501, None, "Syntax: HELO hostname"))
    ok = session.reply(250, None, session.settings.hostname)
    return session.respond(_STAGE_HELO, arg, ok, lambda: _greet(session, False, arg))


def _ehlo(session: Session, arg: str) -> tuple[Action, ...]:
    if not arg:
        return session.respond(_STAGE_EHLO, arg, session.reply(501, None, "Syntax: EHLO hostname"))
    # RFC 2034 §3: never an enhanced code on the EHLO reply
    ok = session.reply(250, None, session.settings.hostname, *session.ehlo_keywords())
    return session.respond(_STAGE_EHLO, arg, ok, lambda: _greet(session, True, arg))


def _mail(session: Session, arg: str) -> tuple[Action, ...]:
    after = session.sequence("MAIL")
    address, words, wrong = _path(arg, "FROM")
    if isinstance(after, Refusal):
        return session.refuse(_STAGE_MAIL, address, after)
    auth = session.settings.auth
    if auth is not None and auth.required and session.auth_user is None:
        # The server's policy, not the client's mistake: no violation (RFC 4954 §6).
        needed = session.reply(530, "5.7.0", "Authentication required")
        return session.respond(_STAGE_MAIL, address, needed)
    if words is None or arg[5] != "<":  # not FROM:<path> (an index: this runs for every message)
        parsed = (address, words, wrong)
        address, words, wrong, loose = _loose(session, arg, "FROM", "MAIL", parsed)
        if loose is not None:
            return params.refuse(session, _STAGE_MAIL, address, loose)
        if words is None:
            return params.refuse(session, _STAGE_MAIL, address, params.MAIL_SYNTAX)
    problem = params.check(words, params.MAIL_PARAMS, session.advertised)
    if problem is not None:
        return params.refuse(session, _STAGE_MAIL, address, problem)
    declared = Declared.parse(words)
    utf8 = params.address_problem("MAIL", address, declared.smtputf8, session.advertised)
    if utf8 is not None:
        return params.refuse(session, _STAGE_MAIL, address, utf8)
    if wrong is not None:
        return params.refuse(session, _STAGE_MAIL, address, params.bad_path("MAIL", wrong))
    limit = session.size_limit()
    # Known before the reply, so rules on this MAIL can look at it (size:, body:); a refused
    # MAIL opens no transaction, so nothing else reads it until the next MAIL.
    session.declared = declared
    if limit is not None and declared.size is not None and declared.size > limit:
        big = session.reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
        return session.respond(_STAGE_MAIL, address, big)

    def accept() -> None:
        session.phase = after
        session.mail_from = address
        session.rcpt_tos = []
        session.rcpt_options = None

    ok = session.reply(250, "2.1.0", "Ok")
    return session.respond(_STAGE_MAIL, address, ok, accept, options=declared.options)


def _rcpt(session: Session, arg: str) -> tuple[Action, ...]:
    after = session.sequence("RCPT")
    address, words, wrong = _path(arg, "TO")
    if isinstance(after, Refusal):
        return session.refuse(_STAGE_RCPT, address, after)
    if words is None or arg[3] != "<":  # not TO:<path>
        parsed = (address, words, wrong)
        address, words, wrong, loose = _loose(session, arg, "TO", "RCPT", parsed)
        if loose is not None:
            return params.refuse(session, _STAGE_RCPT, address, loose)
    problem = params.rcpt_problem(address, words, session.advertised, session.declared.smtputf8)
    if problem is not None:
        return params.refuse(session, _STAGE_RCPT, address, problem)
    if wrong is not None:
        return params.refuse(session, _STAGE_RCPT, address, params.bad_path("RCPT", wrong))
    if len(session.rcpt_tos) >= session.settings.max_recipients:
        many = session.reply(452, "4.5.3", "Error: too many recipients")
        return session.respond(_STAGE_RCPT, address, many)

    options = tuple(words.split()) if words else ()

    def accept() -> None:
        session.phase = after
        session.rcpt_tos.append(address)
        if options or session.rcpt_options is not None:
            session.recipient_options(options)

    ok = session.reply(250, "2.1.5", "Ok")
    return session.respond(_STAGE_RCPT, address, ok, accept, options=options)


def _data(session: Session, arg: str) -> tuple[Action, ...]:
    mixed = bdat.data_after_bdat(session)
    if mixed is not None:
        return mixed
    after = session.sequence("DATA")
    if isinstance(after, Refusal):
        return session.refuse(_STAGE_DATA, arg, after)
    if arg:
        return session.respond(_STAGE_DATA, arg, session.reply(501, "5.5.4", "Syntax: DATA"))

    def accept() -> None:
        session.phase = after
        session.mode = _MODE_DATA
        body = session.body
        if body.size or body.lines or body.cut is not None:
            session.body = Body(session.settings.max_message_bytes)
        # else the one made at connect, still empty: the first message's
        session.body.crlf_only = bare_lf.CRLF_ONLY[session.settings.bare_lf]
        session.body.cr_ends = bare_lf.CR_ENDS_LINE[session.settings.bare_cr]
        session.conduct.new_message()

    return session.respond(_STAGE_DATA, arg, _GO_AHEAD, accept)


def _rset(session: Session, arg: str) -> tuple[Action, ...]:
    wrong = params.no_argument(session, _STAGE_RSET, arg)
    if wrong is not None:
        return wrong
    ok = session.reply(250, "2.0.0", "Ok")
    return session.respond(_STAGE_RSET, arg, ok, session.reset_transaction)


def _vrfy(session: Session, arg: str) -> tuple[Action, ...]:
    if not arg:
        syntax = session.reply(501, "5.5.4", "Syntax: VRFY <address>")
        return session.respond(_STAGE_VRFY, arg, syntax)
    text = "Cannot VRFY user, but will accept message and attempt delivery"
    return session.respond(_STAGE_VRFY, arg, session.reply(252, "2.0.0", text))


def _quit(session: Session, arg: str) -> tuple[Action, ...]:
    wrong = params.no_argument(session, _STAGE_QUIT, arg)
    if wrong is not None:
        return wrong
    session.quit_seen = True
    return session.respond(_STAGE_QUIT, arg, _closing(session.reply(221, "2.0.0", "Bye")))


def _starttls(session: Session, arg: str) -> tuple[Action, ...]:
    if not session.settings.tls.enabled:
        if session.settings.has_extension("STARTTLS"):  # advertised by hand, never performed
            busy = session.reply(454, "4.7.0", "TLS not available due to temporary reason")
            return session.respond(_STAGE_STARTTLS, arg, busy)
        off = session.reply(502, "5.5.1", "Error: command not implemented")
        return session.respond(_STAGE_STARTTLS, arg, off)
    after = session.sequence("STARTTLS")
    if isinstance(after, Refusal):
        return session.refuse(_STAGE_STARTTLS, arg, after)
    if arg:
        syntax = session.reply(501, "5.5.4", "Syntax: STARTTLS (no parameters allowed)")
        return session.respond(_STAGE_STARTTLS, arg, syntax)
    accepted: list[bool] = []
    ready = session.reply(220, "2.0.0", "Ready to start TLS")

    def accept() -> None:
        accepted.append(True)
        session.tls_pending = True

    actions = session.respond(_STAGE_STARTTLS, arg, ready, accept)
    # The upgrade follows a 220 that was sent whole, unless a fault already ended the
    # connection or shaped the handshake (tls_fail).
    if accepted and not any(isinstance(a, Close | Reset | StartTLS) for a in actions):
        actions = (*actions, StartTLS())
    return actions


# -- AUTH (RFC 4954): the engine runs the SASL exchange (auth.py), the wire only carries lines --
#
# Each AUTH command gets exactly one reply that rules see (stage auth, argument the mechanism):
# its verdict. The 334 challenges before it are the exchange itself. A positive verdict
# authenticates, whether the credentials or a rule made it so.


def _auth(session: Session, arg: str) -> tuple[Action, ...]:
    word, _, initial = arg.partition(" ")
    mechanism, initial = word.upper(), initial.strip()
    # what rules and the record see of it: a word that names no mechanism may be the password
    named = mechanism if not mechanism or mechanism in KNOWN_MECHANISMS else AUTH_MASK
    auth = session.settings.auth
    if auth is None:
        off = session.reply(502, "5.5.1", "Error: authentication not enabled")
        return _verdict(session, named, None, off)
    after = session.sequence("AUTH")
    if isinstance(after, Refusal):
        return session.refuse(_STAGE_AUTH, named, after)
    if not mechanism:
        syntax = session.reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]")
        return _verdict(session, mechanism, None, syntax)
    if mechanism not in auth.mechanisms:
        unknown = session.reply(504, "5.5.4", "Unrecognized authentication type")
        return _verdict(session, named, None, unknown)
    if auth.require_tls and not session.tls_active:
        # Not advertised before TLS, so the client sent credentials it was not offered to.
        detail = f"AUTH {mechanism} in clear text; the server requires TLS"
        session.violate("auth-without-tls", detail, "AUTH")
        text = "Encryption required for requested authentication mechanism"
        return _verdict(session, mechanism, None, session.reply(538, "5.7.11", text))
    from smtpfake.engine import auth as sasl  # loaded with the first AUTH

    exchange = sasl.Exchange(mechanism)
    if not initial:
        return _challenge(session, exchange, sasl.first_challenge(mechanism))
    return _step(session, exchange, sasl.initial_response(initial))


def auth_line(session: Session, line: bytes, pipelined: bool) -> tuple[Action, ...]:
    """A line inside the exchange (Mode.AUTH): a SASL response or "*", never a command."""
    from smtpfake.engine import auth as sasl

    exchange = session.exchange
    assert exchange is not None, "Mode.AUTH without an exchange"
    text = line.rstrip(b"\r\n").decode("ascii", "replace").strip()
    session.heard("*" if text == "*" else sasl.AUTH_MASK)
    if pipelined:
        response_ahead(session)
    if line[-2:] != b"\r\n" or b"\r" in line[:-2]:  # not one CRLF at its end: judged
        session.conduct.line_endings(line, "AUTH", message=False)
        refused = bare_lf.refusal(session.settings, line)
        if refused is not None:  # the server's policy ends the exchange with its refusal
            session.exchange = None
            session.mode = _MODE_COMMAND
            return bare_lf.refuse(session, _STAGE_AUTH, exchange.mechanism, refused)
    if len(line) > sasl.AUTH_LINE_LIMIT:
        return auth_too_long(session)
    if text == "*":
        return _end(session, exchange, sasl.CANCELLED)
    return _step(session, exchange, text)


def response_ahead(session: Session) -> None:
    """An exchange line (however it ends) came before the server's 334 challenge."""
    session.conduct.tell(
        "bad-pipelining",
        "an AUTH response was sent before the server's 334 challenge (AUTH ends a "
        f"pipelined group, but for PLAIN with an initial response; {bad_pipelining_rfc()})",
        "AUTH",
    )


def auth_too_long(session: Session) -> tuple[Action, ...]:
    """An exchange line over the limit ends the exchange."""
    from smtpfake.engine import auth as sasl

    return _end(session, session.exchange or sasl.Exchange(""), sasl.TOO_LONG)


def _step(session: Session, exchange: sasl.Exchange, response: str) -> tuple[Action, ...]:
    from smtpfake.engine import auth as sasl

    auth = session.settings.auth
    assert auth is not None, "an exchange only starts when AUTH is set up"
    exchange, outcome = sasl.step(exchange, response, auth)
    if isinstance(outcome, str):
        return _challenge(session, exchange, outcome)
    return _end(session, exchange, outcome)


def _challenge(session: Session, exchange: sasl.Exchange, challenge: str) -> tuple[Action, ...]:
    session.exchange = exchange
    session.mode = _MODE_AUTH
    line = f"334 {challenge}"  # "334 " for an empty challenge (RFC 4954 §4)
    return (Send(f"{line}\r\n".encode("ascii"), Note(line)),)


def _end(session: Session, exchange: sasl.Exchange, verdict: sasl.Verdict) -> tuple[Action, ...]:
    session.exchange = None
    if session.mode is _MODE_AUTH:
        session.mode = _MODE_COMMAND
    reply = session.reply(verdict.code, verdict.enhanced, verdict.text)
    return _verdict(session, exchange.mechanism, exchange.user, reply)


def _verdict(
    session: Session, mechanism: str, user: str | None, reply: Reply
) -> tuple[Action, ...]:
    def accept() -> None:
        session.auth_user = user or ""
        session.observer.authenticated(session.info, session.auth_user)

    return session.respond(_STAGE_AUTH, mechanism, reply, accept)


COMMANDS: dict[str, Handler] = {
    "HELO": _helo,
    "EHLO": _ehlo,
    "MAIL": _mail,
    "RCPT": _rcpt,
    "DATA": _data,
    "RSET": _rset,
    "NOOP": _simple(_STAGE_NOOP, 250, "2.0.0", "Ok"),
    "VRFY": _vrfy,
    "EXPN": _simple(_STAGE_EXPN, 502, "5.5.1", "Error: EXPN not implemented"),
    "HELP": _simple(_STAGE_HELP, 214, "2.0.0", "See RFC 5321; smtpfake is a test double"),
    "QUIT": _quit,
    "STARTTLS": _starttls,
    "AUTH": _auth,
    "BDAT": bdat.command,
}
