"""The parameters of MAIL FROM and RCPT TO, checked against what EHLO advertised.

RFC 5321 §4.1.2: ``esmtp-param = esmtp-keyword ["=" esmtp-value]``; §4.1.1.11: a parameter the
server does not recognise (here: one of an extension it did not advertise) gets ``555 5.5.4``;
a recognised one with a bad value gets ``501 5.5.4``. Sans I/O: plain strings in, a verdict out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.lazy_pattern import compiled_on_first_use
from smtpfake.scenario.model import Stage
from smtpfake.scenario.plan import Action

if TYPE_CHECKING:
    from smtpfake.engine.session import Session

#: RFC 5321 §4.1.2: esmtp-keyword, and esmtp-value (any printable but "=" and space; UTF-8 too)
_KEYWORD_RE = compiled_on_first_use(r"[A-Za-z0-9][A-Za-z0-9-]*")
# written as its complement (the same set: %x21-3C / %x3E-7E / non-ASCII), which compiles in
# microseconds; the range up to U+10FFFF took the re compiler 2 ms at every start
_VALUE_RE = compiled_on_first_use(r"[^\x00-\x20=\x7f]+")
#: RFC 1870 §6: size-value ::= 1*20DIGIT
_SIZE_RE = compiled_on_first_use(r"[0-9]{1,20}")


@frozen_dataclass
class Param:
    """A parameter a server may know: the EHLO keyword that offers it, and its value's check
    (None: it takes no value). The check gets the upper-cased value and ``advertised``."""

    extension: str
    value: Callable[[str, Callable[[str], bool]], str | None] | None
    rfc: str


def _size(value: str, advertised: Callable[[str], bool]) -> str | None:
    return None if _SIZE_RE.fullmatch(value) else "SIZE= needs 1 to 20 digits (RFC 1870 §6)"


def _body(value: str, advertised: Callable[[str], bool]) -> str | None:
    if value in ("7BIT", "8BITMIME") or (value == "BINARYMIME" and advertised("BINARYMIME")):
        return None
    known = "7BIT, 8BITMIME" + (", BINARYMIME" if advertised("BINARYMIME") else "")
    return f"BODY= is one of {known} (RFC 6152 §2, RFC 3030 §3)"


def _notify(value: str, advertised: Callable[[str], bool]) -> str | None:
    words = value.split(",")
    good = {"SUCCESS", "FAILURE", "DELAY"}
    if words == ["NEVER"] or (set(words) <= good and len(set(words)) == len(words)):
        return None
    return "NOTIFY= is NEVER or a list of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1)"


def _ret(value: str, advertised: Callable[[str], bool]) -> str | None:
    return None if value in ("FULL", "HDRS") else "RET= is FULL or HDRS (RFC 3461 §4.3)"


def _any(value: str, advertised: Callable[[str], bool]) -> str | None:
    return None


#: MAIL FROM's parameters by keyword (upper case)
MAIL_PARAMS: dict[str, Param] = {
    "SIZE": Param("SIZE", _size, "RFC 1870 §6"),
    "BODY": Param("8BITMIME", _body, "RFC 6152 §2"),
    "SMTPUTF8": Param("SMTPUTF8", None, "RFC 6531 §3.4"),
    "AUTH": Param("AUTH", _any, "RFC 4954 §5"),
    "RET": Param("DSN", _ret, "RFC 3461 §4.3"),
    "ENVID": Param("DSN", _any, "RFC 3461 §4.4"),
    "REQUIRETLS": Param("REQUIRETLS", None, "RFC 8689 §4.1"),
    "MT-PRIORITY": Param("MT-PRIORITY", _any, "RFC 6710 §3"),
}
#: RCPT TO's parameters by keyword (upper case)
RCPT_PARAMS: dict[str, Param] = {
    "NOTIFY": Param("DSN", _notify, "RFC 3461 §4.1"),
    "ORCPT": Param("DSN", _any, "RFC 3461 §4.2"),
    "RRVS": Param("RRVS", _any, "RFC 7293 §3"),
}


@frozen_dataclass
class Problem:
    """What is wrong with a command's parameters: the reply (``code``, ``enhanced``, ``text``)
    and the violation (``kind``, ``detail`` with its RFC section)."""

    code: int
    enhanced: str
    text: str
    kind: str
    detail: str


def _syntax(detail: str) -> Problem:
    return Problem(501, "5.5.4", "Syntax error in parameters", "bad-syntax", detail)


MAIL_SYNTAX = Problem(
    501,
    "5.5.4",
    "Syntax: MAIL FROM:<address>",
    "bad-syntax",
    "MAIL without FROM:<reverse-path> (RFC 5321 §4.1.1.2)",
)
_RCPT_SYNTAX = Problem(
    501,
    "5.5.4",
    "Syntax: RCPT TO:<address>",
    "bad-syntax",
    "RCPT without TO:<forward-path> (RFC 5321 §4.1.1.3)",
)
NUL_IN_COMMAND = Problem(
    501,
    "5.5.2",
    "Syntax error: NUL in command",
    "bad-syntax",
    "a NUL byte in a command line: commands are printable US-ASCII (RFC 5321 §2.4, §4.1.2)",
)


#: the violation of a non-ASCII address sent without SMTPUTF8 (README's Violations table)
UTF8_WITHOUT_SMTPUTF8 = "utf8-address-without-smtputf8"
#: the path each command carries, as details name it (RFC 5321 §4.1.2)
_PATH_WORD = {"MAIL": "reverse-path", "RCPT": "forward-path"}
#: RFC 3463 §3.2: X.1.7 bad sender's, X.1.3 bad destination mailbox address syntax
_BAD_ADDRESS_CODE = {"MAIL": "5.1.7", "RCPT": "5.1.3"}
#: Postfix's texts with those codes (to a path its parser or smtpd_strict_rfc821_envelopes refuses)
_BAD_PATH_TEXT = {"MAIL": "Bad sender address syntax", "RCPT": "Bad recipient address syntax"}


def bad_path(verb: str, detail: str) -> Problem:
    """MAIL's or RCPT's (``verb``) path is not one (``detail``: what is wrong, its RFC section):
    ``501 5.1.7 Bad sender address syntax`` / ``501 5.1.3 Bad recipient address syntax``."""
    return Problem(501, _BAD_ADDRESS_CODE[verb], _BAD_PATH_TEXT[verb], "bad-syntax", detail)


_NULL_RECIPIENT = bad_path(
    "RCPT",
    "RCPT TO:<>: the null path is a reverse-path only, never a forward-path (RFC 5321 §4.1.1.3)",
)


def address_problem(
    verb: str, address: str, smtputf8: bool, advertised: Callable[[str], bool]
) -> Problem | None:
    """What is wrong with the characters of MAIL's or RCPT's (``verb``) ``address``, or None.

    ``smtputf8``: this transaction's MAIL carried the SMTPUTF8 parameter (RFC 6531 §3.4);
    ``advertised(keyword)``: whether EHLO offered it. ``address`` is the command line as the engine
    decodes it (UTF-8, an undecodable octet as a lone surrogate)."""
    if address.isascii():
        return None
    if not smtputf8:
        offered = advertised("SMTPUTF8")
        # RFC 5321 §4.1.2: addresses are ASCII. RFC 6531 §3.2: a client not offered SMTPUTF8
        # must not send a UTF-8 address; §3.4: one that sends one must give MAIL the SMTPUTF8
        # parameter; §3.5: such an address is refused with 553 and X.6.7 ("Non-ASCII
        # addresses not permitted for that sender/recipient"), as Postfix refuses it.
        why = (
            "MAIL had no SMTPUTF8 parameter (RFC 6531 §3.4, §3.5)"
            if offered
            else "the server did not offer SMTPUTF8 (RFC 6531 §3.2, §3.5)"
        )
        text = (
            "Must declare SMTPUTF8 to send a non-ASCII address"
            if offered
            else "Non-ASCII address not permitted: SMTPUTF8 not offered"
        )
        # an octet that is not UTF-8 is shown escaped (\xff), never as a lone surrogate
        shown = address.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        detail = f"a non-ASCII {_PATH_WORD[verb]} <{shown}>, but {why}"
        return Problem(553, "5.6.7", text, UTF8_WITHOUT_SMTPUTF8, detail)
    try:
        address.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: octets that are not UTF-8
        detail = f"the {_PATH_WORD[verb]} is not valid UTF-8 (RFC 6531 §3.3, RFC 3629)"
        text = "Bad address syntax: not UTF-8"
        return Problem(501, _BAD_ADDRESS_CODE[verb], text, "bad-syntax", detail)
    return None


def rcpt_problem(
    address: str, words: str | None, advertised: Callable[[str], bool], smtputf8: bool
) -> Problem | None:
    """What is wrong with RCPT TO's argument (``words``: its parameters, None when the path did
    not parse), or None. ``smtputf8``: the transaction's MAIL carried SMTPUTF8."""
    if words is None:
        return _RCPT_SYNTAX
    if not address.strip():
        return _NULL_RECIPIENT
    return check(words, RCPT_PARAMS, advertised) or address_problem(
        "RCPT", address, smtputf8, advertised
    )


def check(
    params: str, known: dict[str, Param], advertised: Callable[[str], bool]
) -> Problem | None:
    """The first problem with ``params`` (the text after the path), or None when all are good.
    ``known``: MAIL_PARAMS or RCPT_PARAMS; ``advertised(keyword)``: whether EHLO offered it."""
    if not params:  # most commands have none
        return None
    seen: set[str] = set()
    for word in params.split():
        keyword, eq, value = word.partition("=")
        name = keyword.upper()
        if not _KEYWORD_RE.fullmatch(keyword) or (eq and not _VALUE_RE.fullmatch(value)):
            return _syntax(f"{word!r} is not a parameter (RFC 5321 §4.1.2)")
        param = known.get(name)
        if param is None or not advertised(param.extension):
            why = (
                "not a parameter smtpfake knows"
                if param is None
                else f"its extension ({param.extension}) was not advertised"
            )
            detail = f"{name}: {why} (RFC 5321 §4.1.1.11)"
            return Problem(
                555, "5.5.4", f"Unsupported parameter {name}", "unknown-parameter", detail
            )
        if name in seen:
            return _syntax(f"{name} given twice (RFC 5321 §4.1.2)")
        seen.add(name)
        if param.value is None:
            if eq:
                return _syntax(f"{name} takes no value ({param.rfc})")
            continue
        if not eq:
            return _syntax(f"{name} needs a value ({param.rfc})")
        wrong = param.value(value.upper(), advertised)
        if wrong is not None:
            return _syntax(f"{name}={value}: {wrong}")
    return None


def refuse(session: Session, stage: Stage, argument: str, problem: Problem) -> tuple[Action, ...]:
    """Answer a command whose syntax is wrong: the reply, no state change, the violation told
    each time (as ``bad-sequence`` is). A rule on the stage may still change the reply."""
    session.violate(problem.kind, problem.detail, stage.value.upper())
    reply = session.reply(problem.code, problem.enhanced, problem.text)
    return session.respond(stage, argument, reply)


def no_argument(session: Session, stage: Stage, argument: str) -> tuple[Action, ...] | None:
    """RFC 5321 §4.1.1.5 (RSET), §4.1.1.10 (QUIT): no argument allowed; with one, the 501 and
    nothing else happens. None when there is none."""
    if not argument:
        return None
    verb = stage.value.upper()
    detail = f"{verb} takes no argument (RFC 5321 §4.1.1)"
    problem = Problem(501, "5.5.4", f"Syntax: {verb}", "bad-syntax", detail)
    return refuse(session, stage, argument, problem)
