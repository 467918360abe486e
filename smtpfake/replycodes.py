"""What each SMTP reply code means and what a correct client does about it.

This is the single source of truth behind ``smtpfake explain`` and the README table, kept as
data so the wording is reviewed in one place. Section numbers are RFC 5321 unless another RFC
is named; RFC 4954 (AUTH), RFC 3207 (STARTTLS), RFC 1870 (SIZE), RFC 7504 (521/556) and
RFC 6647 (greylisting) cover the extension codes. Enhanced status codes follow RFC 2034 and the
RFC 5248 registry (RFC 3463 numbering).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "CLASS_ACTION",
    "CLASS_SUMMARY",
    "KIND_BY_CLASS",
    "REPLY_CODES",
    "SUBJECT_BY_DIGIT",
    "ReplyCode",
    "class_label",
    "describe",
    "describe_unknown",
    "kind_of",
    "lookup",
]

# RFC 5321 §4.2.1: the first digit alone decides what the client does next.
KIND_BY_CLASS: Final[Mapping[int, str]] = MappingProxyType(
    {
        2: "positive completion",
        3: "positive intermediate",
        4: "transient",
        5: "permanent",
    }
)

# The one-phrase action per class, used where only the first digit matters (comparisons).
CLASS_ACTION: Final[Mapping[int, str]] = MappingProxyType(
    {
        2: "success, proceed",
        3: "send the input the server asked for",
        4: "retry later",
        5: "do not retry unchanged",
    }
)

# RFC 5321 §4.2.1, paraphrased per class.
CLASS_SUMMARY: Final[Mapping[int, str]] = MappingProxyType(
    {
        2: "the requested action was completed; a new request may be started.",
        3: "the command was accepted but the action is on hold until the client sends "
        "further information (as in DATA or AUTH).",
        4: "the command was not accepted and nothing happened, but the condition is temporary, "
        "so the same request may succeed if repeated later.",
        5: "the command was not accepted and nothing happened; repeating the exact same "
        "request (in the same sequence) will fail again.",
    }
)

# RFC 5321 §4.2.1: the second digit names the category; its ABNF (§4.2) only allows 0-5.
SUBJECT_BY_DIGIT: Final[Mapping[int, str]] = MappingProxyType(
    {
        0: "syntax (syntax errors, unimplemented or superfluous commands)",
        1: "information (replies to requests for status or help)",
        2: "connections (replies about the transmission channel)",
        3: "unspecified",
        4: "unspecified",
        5: "mail system (the receiver's mail system and the requested transfer)",
    }
)

# What a client should do with a code it does not recognise (RFC 5321 §4.3.2: first digit only).
_GENERIC_CLIENT_SHOULD: Final[Mapping[int, str]] = MappingProxyType(
    {
        2: "treat it as success and carry on with the next step of the session.",
        3: "treat it as a request for more input and send what the command sequence expects "
        "next (as after 354 or 334).",
        4: "treat it as a temporary failure: the command had no effect; keep the message "
        "queued and retry later with back-off (§4.5.4.1: usually at least 30 minutes apart, "
        "giving up after 4-5 days). Do not bounce yet.",
        5: "treat it as a permanent failure: do not repeat the same request unchanged; fix "
        "the cause or give up on the affected recipient or message and bounce it to the "
        "sender.",
    }
)


def kind_of(code: int) -> str:
    """The class of ``code`` by its first digit; ValueError outside 200-599."""
    if isinstance(code, bool) or not 200 <= code <= 599:
        # RFC 5321 §4.2: replies are three digits and the first is 2 to 5.
        raise ValueError(f"{code!r} is not an SMTP reply code (must be 200-599)")
    return KIND_BY_CLASS[code // 100]


def class_label(code: int) -> str:
    """E.g. ``"4xx transient"``."""
    return f"{code // 100}xx {kind_of(code)}"


@dataclass(frozen=True)
class ReplyCode:
    """Everything ``explain`` says about one reply code."""

    code: int
    name: str
    meaning: str
    when: str
    client_should: str
    rfc: str
    enhanced: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        kind_of(self.code)  # reject impossible codes when the table is built, not when shown

    @property
    def kind(self) -> str:
        """Derived from the first digit so it can never disagree with the code."""
        return kind_of(self.code)

    @property
    def class_digit(self) -> int:
        return self.code // 100

    @property
    def class_label(self) -> str:
        return class_label(self.code)

    @property
    def is_transient(self) -> bool:
        return self.class_digit == 4

    @property
    def is_permanent(self) -> bool:
        return self.class_digit == 5


_CODES: Final[tuple[ReplyCode, ...]] = (
    ReplyCode(
        code=211,
        name="System status",
        meaning="System status, or system help reply; the text is informational.",
        when="In reply to HELP (§4.3.2 lists 211 and 214 as its successes); some servers use it "
        "for status output. Not part of a mail transaction.",
        client_should="Nothing special: it is a success. Show the text if a human asked for it; "
        "never base protocol decisions on it.",
        rfc="RFC 5321 §4.2.2, §4.2.3, §4.3.2",
        enhanced=("2.0.0",),
    ),
    ReplyCode(
        code=214,
        name="Help message",
        meaning="Help message: how to use the server or what a non-standard command means. "
        "Useful only to a human user (§4.2.2).",
        when="In reply to HELP, with or without a command name as argument (§4.1.1.8, §4.3.2).",
        client_should="Display it to the user who asked for help; never parse it to make "
        "protocol decisions.",
        rfc="RFC 5321 §4.1.1.8, §4.2.2, §4.3.2",
        enhanced=("2.0.0",),
    ),
    ReplyCode(
        code=220,
        name="Service ready",
        meaning="<domain> Service ready: the server is ready to speak SMTP. Also 'Ready to start "
        "TLS' in reply to STARTTLS.",
        when="As the greeting as soon as the connection opens (§3.1, §4.3.1, §4.3.2); busy "
        "servers may delay it, so clients should wait at least 5 minutes (§4.5.3.2.1). Also the "
        "success "
        "reply to STARTTLS (RFC 3207 §4). The greeting carries no enhanced status code "
        "(RFC 2034 §3).",
        client_should="After the greeting: send EHLO, falling back to HELO only if EHLO is not "
        "recognized (§3.2, §4.1.1.1). After STARTTLS: start the TLS handshake at once, forget "
        "the old EHLO reply and send EHLO again (RFC 3207 §4, §4.2).",
        rfc="RFC 5321 §3.1, §4.3.1, §4.3.2, §4.5.3.2.1; RFC 3207 §4, §4.2",
        enhanced=("2.0.0",),
    ),
    ReplyCode(
        code=221,
        name="Service closing transmission channel",
        meaning="<domain> Service closing transmission channel: the orderly end of the session.",
        when="In reply to QUIT (§4.1.1.10); the server then closes the connection (§3.8). QUIT "
        "aborts any unfinished mail transaction.",
        client_should="Close its side of the connection. Messages that got 250 after the "
        "end-of-data '.' are delivered; anything not yet acknowledged that way was not sent.",
        rfc="RFC 5321 §3.8, §4.1.1.10, §4.3.2",
        enhanced=("2.0.0",),
    ),
    ReplyCode(
        code=235,
        name="Authentication succeeded",
        meaning="Authentication successful: the SASL exchange started by AUTH is complete.",
        when="As the final reply to AUTH (RFC 4954 §4, §6).",
        client_should="Proceed with MAIL FROM. Do not send AUTH again in this session (a second "
        "AUTH gets 503). If the mechanism negotiated a security layer, the session is reset: "
        "send EHLO again first (RFC 4954 §4).",
        rfc="RFC 4954 §4, §6",
        enhanced=("2.7.0",),
    ),
    ReplyCode(
        code=250,
        name="Requested action okay, completed",
        meaning="The command succeeded. After the end-of-data '.', it means the server has "
        "accepted responsibility for delivering the message (§4.2.5, §6.1).",
        when="As the success reply to EHLO/HELO (multi-line, listing extensions), MAIL, RCPT, "
        "RSET, NOOP, VRFY, EXPN and the <CRLF>.<CRLF> that ends DATA (§4.3.2).",
        client_should="Go on to the next step. After the final 250 for DATA, the message is "
        "delivered for the accepted recipients: dequeue it and never resend it (a 250 lost to "
        "a timeout here is what causes duplicate messages, §4.5.3.2.6, §6.1).",
        rfc="RFC 5321 §4.2.2, §4.2.5, §4.3.2, §6.1",
        enhanced=("2.0.0", "2.1.0", "2.1.5", "2.6.0"),
    ),
    ReplyCode(
        code=251,
        name="User not local; will forward",
        meaning="User not local; will forward to <forward-path>: the recipient is accepted and "
        "the server will forward the message, disclosing the new address.",
        when="In reply to RCPT or VRFY when the server knows the address has moved (§3.4). Many "
        "servers forward silently with 250 instead or disable 251 for privacy (§3.4).",
        client_should="Treat it as success, like 250, and continue the transaction. It may "
        "report the new address, but should only update stored addresses automatically if it "
        "is sure of the server's authenticity (§7.4).",
        rfc="RFC 5321 §3.4, §4.2.2, §4.3.2, §7.4",
        enhanced=("2.1.5",),
    ),
    ReplyCode(
        code=252,
        name="Cannot VRFY user, will attempt delivery",
        meaning="Cannot VRFY user, but will accept message and attempt delivery: the address "
        "looks plausible but was not verified.",
        when="In reply to VRFY or EXPN when the address cannot be verified in real time (e.g. "
        "on a backup MX), and whenever the site has disabled VRFY/EXPN for security, which "
        "MUST then answer 252 (§3.5.3, §7.3).",
        client_should="Read it as 'unknown, go ahead': send the message normally with "
        "MAIL/RCPT/DATA. It is not proof that the mailbox exists.",
        rfc="RFC 5321 §3.5.3, §4.2.2, §4.3.2, §7.3",
        enhanced=("2.0.0", "2.5.0"),
    ),
    ReplyCode(
        code=334,
        name="AUTH challenge",
        meaning="Intermediate reply during AUTH: the text is a base64-encoded SASL challenge; "
        "'334 ' with no text is an empty challenge.",
        when="In reply to AUTH and to each client response while the SASL exchange is in "
        "progress (RFC 4954 §4). 3xx replies carry no enhanced status code (RFC 2034 §4).",
        client_should="Send exactly one line: the base64-encoded response for the chosen "
        "mechanism, or '*' to cancel (the server then answers 501). If it cannot decode the "
        "challenge it must cancel with '*'.",
        rfc="RFC 4954 §4",
    ),
    ReplyCode(
        code=354,
        name="Start mail input",
        meaning="Start mail input; end with <CRLF>.<CRLF>: the server is waiting for the message "
        "content.",
        when="In reply to DATA once the envelope (MAIL and at least one accepted RCPT) is "
        "complete (§3.3, §4.1.1.4, §4.3.2). 3xx replies carry no enhanced status code "
        "(RFC 2034 §4).",
        client_should="Send the content dot-stuffed (a line starting with '.' gets a second '.', "
        "§4.5.2), end it with <CRLF>.<CRLF> and wait for the final reply, with a timeout of "
        "at least 10 minutes (§4.5.3.2.6). Never send message data without a 354 (§3.3).",
        rfc="RFC 5321 §3.3, §4.1.1.4, §4.3.2, §4.5.2, §4.5.3.2.6",
    ),
    ReplyCode(
        code=421,
        name="Service not available",
        meaning="<domain> Service not available, closing transmission channel: the server is "
        "shutting down or refusing service for now, and closes the connection.",
        when="As the greeting instead of 220 (overload, too many connections, connection-level "
        "greylisting, RFC 6647 §2.1), or in reply to any command once the server knows it must "
        "shut down, even asynchronously (§3.8, §4.2.2, §4.3.2). The server then closes the "
        "connection.",
        client_should="Treat it as transient. The server closes the connection, so send nothing "
        "more on it. Whatever has not had its final 250 (the open transaction, a message whose "
        "end-of-data got 421) is still the client's: keep it queued and retry later with "
        "back-off (§4.5.4.1, typically 30 minutes or more), possibly via another MX host "
        "(§5.1). Do not bounce on a 421.",
        rfc="RFC 5321 §3.8, §4.2.2, §4.3.2, §4.5.4.1, §5.1; RFC 6647 §2.1",
        enhanced=("4.3.2", "4.4.2", "4.7.0"),
    ),
    ReplyCode(
        code=432,
        name="Password transition needed",
        meaning="A password transition is needed: the user must move to the selected "
        "authentication mechanism.",
        when="In reply to AUTH (RFC 4954 §6).",
        client_should="Authenticate once with the PLAIN mechanism (over TLS); the selected "
        "mechanism should then work in later sessions. Retrying the same mechanism now will "
        "not help.",
        rfc="RFC 4954 §6; RFC 5248 §2.4",
        enhanced=("4.7.12",),
    ),
    ReplyCode(
        code=450,
        name="Mailbox unavailable (temporary)",
        meaning="Requested mail action not taken: mailbox unavailable, e.g. mailbox busy or "
        "temporarily blocked for policy reasons.",
        when="Mostly in reply to RCPT (per recipient); also to MAIL, or after the end-of-data "
        "'.' as a policy rejection (§4.3.2). The classic greylisting reply (RFC 6647 §2.3-2.5).",
        client_should="Defer that recipient (or the message): keep it queued and retry later; a "
        "greylisting server accepts the retry after its minimum delay, ideally from the same "
        "sending IP. Recipients that got 250 in the same transaction can still be delivered "
        "with DATA. Do not bounce.",
        rfc="RFC 5321 §4.2.2, §4.3.2, §4.5.4.1; RFC 6647 §2",
        enhanced=("4.2.0", "4.2.1", "4.7.1"),
    ),
    ReplyCode(
        code=451,
        name="Local error in processing",
        meaning="Requested action aborted: local error in processing, e.g. a database, DNS or "
        "content-filter failure; also used for greylisting.",
        when="In reply to MAIL, RCPT, DATA or the end-of-data '.' (§4.3.2). A client must also "
        "act as if it got 451 when the connection drops unexpectedly (§3.8).",
        client_should="Treat it as transient: keep the message (or that recipient) queued and "
        "retry later. After the end-of-data '.', the server did not take the message, so the "
        "client still owns it (§4.2.5). Do not bounce.",
        rfc="RFC 5321 §3.8, §4.2.2, §4.2.5, §4.3.2",
        enhanced=("4.3.0", "4.4.3", "4.7.1"),
    ),
    ReplyCode(
        code=452,
        name="Insufficient system storage",
        meaning="Requested action not taken: insufficient system storage. Also the correct code "
        "for 'too many recipients' when the server's RCPT limit per transaction is reached "
        "(§4.5.3.1.10).",
        when="In reply to MAIL (e.g. a SIZE larger than the space available now, RFC 1870 §6.1), "
        "RCPT or DATA / end of data (§4.3.2). On RCPT it usually means 'too many recipients': "
        "the server already holds at least 100 accepted recipients (§4.5.3.1.10).",
        client_should="Too many recipients (on RCPT): not a failure of those addresses; send DATA "
        "for the recipients already accepted, then send the remaining recipients in another "
        "transaction (§4.5.3.1.10). Storage shortage: RSET (or QUIT) and retry the message "
        "later (RFC 1870 §6.2).",
        rfc="RFC 5321 §4.2.2, §4.3.2, §4.5.3.1.9, §4.5.3.1.10; RFC 1870 §6.1, §6.2",
        enhanced=("4.3.1", "4.5.3", "4.2.2"),
    ),
    ReplyCode(
        code=454,
        name="TLS not available / temporary auth failure",
        meaning="A security step failed temporarily: 'TLS not available due to temporary "
        "reason' after STARTTLS, or 'Temporary authentication failure' after AUTH.",
        when="In reply to STARTTLS (RFC 3207 §4) or AUTH (RFC 4954 §6) when the server has a "
        "temporary problem, e.g. its certificate or authentication backend is unavailable.",
        client_should="AUTH: do not ask the user for another password (the credentials were not "
        "judged wrong); report a server failure and retry later. STARTTLS: decide by local "
        "policy - continue without TLS only if encryption was opportunistic, otherwise retry "
        "later or give up and notify the sender (RFC 3207 §4).",
        rfc="RFC 3207 §4; RFC 4954 §6",
        enhanced=("4.7.0",),
    ),
    ReplyCode(
        code=455,
        name="Server unable to accommodate parameters",
        meaning="The server is temporarily unable to accommodate one or more of the "
        "MAIL FROM / RCPT TO extension parameters.",
        when="In reply to MAIL or RCPT whose ESMTP parameters cannot be honoured right now, "
        "unless the parameter's own RFC mandates another code (§4.1.1.11, §4.3.2).",
        client_should="Treat it as transient: RSET and retry the transaction later with the "
        "same parameters, or without an optional parameter if that is acceptable.",
        rfc="RFC 5321 §4.1.1.11, §4.2.2, §4.3.2",
        enhanced=("4.5.0",),
    ),
    ReplyCode(
        code=500,
        name="Syntax error, command unrecognized",
        meaning="Syntax error, command unrecognized; also 'command line too long' and, for "
        "AUTH, 'authentication exchange line too long' (RFC 4954 §6).",
        when="In reply to any command the server does not recognize or whose line is too long "
        "(commands up to 512 octets must be accepted, §4.5.3.1.4) (§4.2.2, §4.3.2); to EHLO on "
        "a pre-ESMTP server; to an over-long AUTH response (RFC 4954 §4). The server keeps the "
        "connection open (§3.8).",
        client_should="Do not resend the same line. After 500 to EHLO, fall back to HELO "
        "(§3.2). Otherwise use only commands the server advertised in EHLO and keep lines "
        "within limits; if the command is essential, give up on this server.",
        rfc="RFC 5321 §3.2, §3.8, §4.2.2, §4.3.2, §4.5.3.1.4; RFC 4954 §4, §6",
        enhanced=("5.5.1", "5.5.2", "5.5.6"),
    ),
    ReplyCode(
        code=501,
        name="Syntax error in parameters or arguments",
        meaning="The command is known but its arguments are malformed, e.g. bad address syntax, "
        "spaces around the colon of MAIL FROM:, or arguments to DATA, RSET or QUIT.",
        when="In reply to any command with bad arguments (§4.3.2): MAIL/RCPT with a malformed "
        "path, EHLO with a bad domain (§4.1.4), STARTTLS with parameters (RFC 3207 §4), an AUTH "
        "exchange cancelled with '*' or carrying invalid base64 (RFC 4954 §4). The server stays "
        "in the same state (§4.1.4).",
        client_should="Fix the arguments before sending the command again; the same line will "
        "fail the same way. A rejected MAIL started no transaction, so correct it and resend "
        "MAIL. If the bad address comes from the message itself, bounce it.",
        rfc="RFC 5321 §4.1.4, §4.2.2, §4.3.2; RFC 3207 §4; RFC 4954 §4",
        enhanced=("5.5.2", "5.5.4", "5.1.3", "5.1.7"),
    ),
    ReplyCode(
        code=502,
        name="Command not implemented",
        meaning="Command not implemented: the server recognizes the command but does not "
        "implement it (an unrecognized command gets 500 instead, §4.2.4).",
        when="In reply to optional commands the server lacks, typically VRFY, EXPN, HELP, or "
        "EHLO on an old HELO-only server (§4.2.4, §4.3.2). A server must not advertise in EHLO "
        "an extension whose command gets 502 (§4.2.4).",
        client_should="Stop using that command with this server: use the alternative (HELO "
        "instead of EHLO, RCPT instead of VRFY) or skip the optional step. Retrying unchanged "
        "is pointless.",
        rfc="RFC 5321 §3.5.3, §4.2.2, §4.2.4, §4.3.2",
        enhanced=("5.5.1",),
    ),
    ReplyCode(
        code=503,
        name="Bad sequence of commands",
        meaning="Bad sequence of commands: the command is valid but not allowed at this point "
        "of the session. The server stays in the state it was in (§4.1.4).",
        when="RCPT without a prior MAIL, DATA with no accepted RCPT (§3.3); MAIL while a "
        "transaction is open or before EHLO/HELO (§4.1.4); AUTH twice or inside a transaction "
        "(RFC 4954 §4); any command after a 554 greeting (§3.1); DATA after a site recipient "
        "limit was hit (§4.5.3.1.10).",
        client_should="Fix the command order - retrying the same sequence unchanged is "
        "pointless. The order is EHLO/HELO (then STARTTLS/AUTH if needed), MAIL, one or more "
        "RCPT (at least one accepted), DATA; send RSET to abandon a half-built transaction and "
        "start over with MAIL. A 503 usually means a client bug (e.g. ignoring an earlier "
        "rejection).",
        rfc="RFC 5321 §3.1, §3.3, §4.1.4, §4.2.2, §4.3.2; RFC 4954 §4",
        enhanced=("5.5.1", "5.5.0"),
    ),
    ReplyCode(
        code=504,
        name="Command parameter not implemented",
        meaning="Command parameter not implemented: the command is implemented but the "
        "requested parameter or option is not.",
        when="In reply to VRFY, EXPN, HELP or (rarely) EHLO with an unsupported parameter "
        "(§4.2.1, §4.3.2); in reply to AUTH naming an unsupported SASL mechanism "
        "(RFC 4954 §4, enhanced code 5.5.4).",
        client_should="Resend with a supported parameter (for AUTH, one of the mechanisms on "
        "the EHLO AUTH line) or do without; the same command with the same parameter fails "
        "again.",
        rfc="RFC 5321 §4.2.1, §4.2.2, §4.3.2; RFC 4954 §4",
        enhanced=("5.5.4", "5.7.4"),
    ),
    ReplyCode(
        code=521,
        name="Host does not accept mail",
        meaning="Host does not accept mail: this host never accepts mail under any circumstances.",
        when="Instead of the 220 greeting, typically from a dummy SMTP server for a host that "
        "receives no mail; later commands other than QUIT get 521 again or the connection is "
        "simply closed (RFC 7504 §3).",
        client_should="Treat it as permanent for this host: send QUIT (or just close) and do "
        "not retry it. If no other mail exchanger for the destination accepts the message, "
        "bounce it to the sender.",
        rfc="RFC 7504 §3, §5.1, §6",
        enhanced=("5.3.2",),
    ),
    ReplyCode(
        code=530,
        name="Authentication required",
        meaning="Authentication required (RFC 4954), or 'Must issue a STARTTLS command first' "
        "(RFC 3207): server policy refuses the command until the client authenticates or "
        "starts TLS.",
        when="In reply to MAIL (typically) or any command other than AUTH, EHLO, HELO, NOOP, "
        "RSET, QUIT on a server that requires AUTH (RFC 4954 §6); or to any command other than "
        "NOOP, EHLO, STARTTLS, QUIT on a non-public server that requires TLS (RFC 3207 §4).",
        client_should="Do the missing step, then resend: STARTTLS (then EHLO again) and/or AUTH "
        "with valid credentials, then MAIL. Without credentials, give up and report a "
        "configuration error; resending unchanged gets 530 again.",
        rfc="RFC 4954 §6; RFC 3207 §4",
        enhanced=("5.7.0",),
    ),
    ReplyCode(
        code=534,
        name="Authentication mechanism too weak",
        meaning="Authentication mechanism is too weak: the chosen SASL mechanism is weaker than "
        "server policy permits for this user.",
        when="In reply to AUTH (RFC 4954 §6).",
        client_should="Retry AUTH with a stronger mechanism the server advertises (RFC 4954 §6), "
        "e.g. after STARTTLS; do not repeat the same mechanism.",
        rfc="RFC 4954 §6",
        enhanced=("5.7.9",),
    ),
    ReplyCode(
        code=535,
        name="Authentication credentials invalid",
        meaning="Authentication credentials invalid: authentication failed because the "
        "credentials are wrong or insufficient.",
        when="As the final reply to AUTH when the server cannot authenticate the client "
        "(RFC 4954 §4, §6).",
        client_should="Ask the user for new credentials (RFC 4954 §6); never loop on the same "
        "password (accounts get locked). Without valid credentials, stop and report it; "
        "continuing unauthenticated only works if the server allows it (RFC 4954 §4).",
        rfc="RFC 4954 §4, §6",
        enhanced=("5.7.8",),
    ),
    ReplyCode(
        code=538,
        name="Encryption required for auth mechanism",
        meaning="Encryption required for requested authentication mechanism: this SASL "
        "mechanism may only be used over an encrypted connection.",
        when="In reply to AUTH on an unencrypted connection (RFC 4954 §6). Historical: modern "
        "servers simply do not advertise such mechanisms before STARTTLS.",
        client_should="Issue STARTTLS, send EHLO again, then retry AUTH; or choose a mechanism "
        "allowed without encryption. Never repeat the same AUTH in clear text.",
        rfc="RFC 4954 §6",
        enhanced=("5.7.11",),
    ),
    ReplyCode(
        code=550,
        name="Mailbox unavailable",
        meaning="Requested action not taken: mailbox unavailable, e.g. mailbox not found, no "
        "access, or command rejected for policy reasons (such as relaying denied).",
        when="Mostly in reply to RCPT for an unknown or refused recipient (§3.3); also to MAIL "
        "(refused sender), VRFY, EXPN, EHLO, and after the end-of-data '.' for policy "
        "rejections (§4.3.2).",
        client_should="Do not retry that recipient: mark it failed and bounce it (a "
        "non-delivery notification) to the sender. Other recipients are unaffected - continue "
        "with DATA if any was accepted. 5xx replies to MAIL must not be cached (§4.5.4.1).",
        rfc="RFC 5321 §3.3, §4.2.2, §4.3.2, §4.5.4.1, §6.1",
        enhanced=("5.1.1", "5.7.1", "5.2.1"),
    ),
    ReplyCode(
        code=551,
        name="User not local; please try <forward-path>",
        meaning="User not local; please try <forward-path>: the server will not forward the "
        "message and may name the address it should go to.",
        when="In reply to RCPT or VRFY for a user who has moved (§3.4). Often disabled for "
        "privacy, with plain 550 used instead (§3.4).",
        client_should="Treat the recipient as permanently failed and bounce it, passing the "
        "suggested address on to the sender; do not silently re-address the mail unless it is "
        "sure of the server's authenticity (§7.4).",
        rfc="RFC 5321 §3.4, §4.2.2, §4.3.2, §7.4",
        enhanced=("5.1.6",),
    ),
    ReplyCode(
        code=552,
        name="Exceeded storage allocation",
        meaning="Requested mail action aborted: exceeded storage allocation - the message is "
        "larger than the server's fixed limit, or the mailbox is over quota.",
        when="In reply to MAIL when the declared SIZE exceeds the fixed maximum (RFC 1870 "
        "§6.1), to RCPT for a per-recipient limit (RFC 1870 §6.4), or after the end-of-data "
        "'.' ('too much mail data', §4.5.3.1.9). Old servers also send it on RCPT for 'too "
        "many recipients', an RFC 821 error corrected to 452 (§4.5.3.1.10).",
        client_should="Size or quota: do not retry the same message to this server or "
        "recipient; RSET (or QUIT) and bounce it to the sender (RFC 1870 §6.2, §6.4). "
        "Exception: 552 on RCPT after many accepted recipients means 'too many recipients' and "
        "is treated like 452 - deliver the accepted ones and send the rest in another "
        "transaction (§4.5.3.1.10).",
        rfc="RFC 5321 §4.2.2, §4.3.2, §4.5.3.1.9, §4.5.3.1.10; RFC 1870 §6",
        enhanced=("5.3.4", "5.2.3", "5.2.2"),
    ),
    ReplyCode(
        code=553,
        name="Mailbox name not allowed",
        meaning="Requested action not taken: mailbox name not allowed, e.g. incorrect address "
        "syntax or a sender address the server does not permit.",
        when="In reply to MAIL (with 550, the normal refusal of a sender, §3.3), RCPT or VRFY "
        "(§4.3.2).",
        client_should="Do not retry with the same address. Fix it if it comes from the client's "
        "own configuration (e.g. the envelope sender), otherwise bounce the affected recipient "
        "or message to the sender.",
        rfc="RFC 5321 §3.3, §4.2.2, §4.3.2",
        enhanced=("5.1.3", "5.1.7", "5.1.8"),
    ),
    ReplyCode(
        code=554,
        name="Transaction failed",
        meaning="Transaction failed, or, as the greeting, 'No SMTP service here'. A catch-all "
        "permanent rejection, often for policy (spam, virus, reputation).",
        when="As the greeting instead of 220, after which the server answers 503 until QUIT "
        "(§3.1); in reply to DATA when there are no valid recipients (§3.3); after the "
        "end-of-data '.' when the message is rejected (§4.2.5); to every command but QUIT "
        "after a TLS handshake the server finds too weak (RFC 3207 §4.1).",
        client_should="Do not retry unchanged: the client keeps responsibility for the message "
        "and bounces it rather than resending to the same server without human review "
        "(§4.2.5). After a 554 greeting, send QUIT (the server waits for it, §3.1) and treat "
        "the host as unusable.",
        rfc="RFC 5321 §3.1, §3.3, §4.2.2, §4.2.5, §4.3.2; RFC 3207 §4.1",
        enhanced=("5.7.1", "5.5.1", "5.3.0"),
    ),
    ReplyCode(
        code=555,
        name="MAIL/RCPT parameters not recognized",
        meaning="MAIL FROM/RCPT TO parameters not recognized or not implemented: an ESMTP "
        "parameter on MAIL or RCPT is not supported.",
        when="In reply to MAIL or RCPT carrying an extension parameter (e.g. SIZE=, BODY=, "
        "SMTPUTF8) the server does not recognize or implement (§4.1.1.11, §4.3.2), usually "
        "one it never advertised in its EHLO reply.",
        client_should="Only send parameters for extensions the EHLO reply advertised. Retry "
        "without the parameter if it is optional; if it is essential, give up on this server "
        "and bounce the message.",
        rfc="RFC 5321 §4.1.1.11, §4.2.2, §4.3.2",
        enhanced=("5.5.4",),
    ),
    ReplyCode(
        code=556,
        name="Domain does not accept mail",
        meaning="Domain does not accept mail: the recipient's domain is known not to accept "
        "mail at all, e.g. it publishes a null MX record (RFC 7505).",
        when="In reply to RCPT from a relay or submission server that can tell without "
        "connecting that the destination accepts no mail, typically via a null MX lookup "
        "(RFC 7504 §4).",
        client_should="Handle it like any other permanent RCPT failure (RFC 7504 §4): do not "
        "retry that recipient, bounce it to the sender, and continue with any other accepted "
        "recipients.",
        rfc="RFC 7504 §4, §5.1, §6",
        enhanced=("5.1.10",),
    ),
)

REPLY_CODES: Final[Mapping[int, ReplyCode]] = MappingProxyType({rc.code: rc for rc in _CODES})
if len(REPLY_CODES) != len(_CODES):  # a duplicate would silently shadow an entry
    raise RuntimeError("duplicate code in the reply-code table")


def lookup(code: int) -> ReplyCode | None:
    """The standard entry for ``code``, or None when this table does not know it."""
    return REPLY_CODES.get(code)


def describe_unknown(code: int) -> ReplyCode:
    """Generic, class-based text for a 2xx-5xx code that is not a standard one.

    RFC 5321 §4.3.2 makes clients interpret unknown codes by their first digit, so that is all
    we can honestly say. ValueError outside 200-599.
    """
    kind = kind_of(code)
    digit, subject_digit = code // 100, code // 10 % 10
    subject = SUBJECT_BY_DIGIT.get(subject_digit)
    if subject is None:
        subject_note = (
            f"its second digit {subject_digit} is not even valid syntax (the RFC 5321 §4.2 "
            "grammar allows only 0-5 there)"
        )
    else:
        subject_note = f"the second digit {subject_digit} puts it in the category {subject}"
    return ReplyCode(
        code=code,
        name=f"Non-standard {digit}xx reply",
        meaning=(
            f"{code} is not a standard SMTP reply code: neither RFC 5321 nor the extensions "
            f"this tool knows define it. Only its digits carry meaning: the first digit {digit} "
            f"makes it a {kind} reply, and {subject_note}."
        ),
        when=(
            "No RFC defines it; a server (or a fault injector) may send it as a site-specific "
            "or extension reply, though §4.2.1 asks servers to adapt existing codes rather "
            "than invent new ones."
        ),
        client_should=(
            "Clients must handle unrecognized codes by their first digit only (§4.3.2), so "
            f"{_GENERIC_CLIENT_SHOULD[digit]}"
        ),
        rfc="RFC 5321 §4.2, §4.2.1, §4.3.2",
        # RFC 2034 §4: the enhanced class must match the reply class; 3xx carries none.
        enhanced=() if digit == 3 else (f"{digit}.0.0",),
    )


def describe(code: int) -> ReplyCode:
    """The standard entry if there is one, else the class-generic description."""
    return lookup(code) or describe_unknown(code)
