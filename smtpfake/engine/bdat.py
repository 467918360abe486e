"""CHUNKING (RFC 3030): ``BDAT <size> [LAST]`` and the chunk of exactly ``size`` octets after it.

The command line is read as any other (connection.py); the chunk that follows is framed by its
byte count, not by lines: while :attr:`Session.chunk` is set, connection.py hands every octet to
:func:`receive` (no dot-stuffing, no line judging: the octets are the message's as sent).

The reply to a BDAT is decided when the command arrives (rules on stage ``bdat`` fire then, so a
``cut_body`` rule can cut the chunk part-way) and goes out once the chunk is read whole (§2: "Once
the receiver-SMTP receives the specified number of octets, it will return a 250 reply code").
A refused BDAT still has its chunk read and discarded first (§2: "the receiver-SMTP MUST accept and
discard the associated message data before sending the appropriate 5XX or 4XX code"). A 4xx/5xx
to a chunk ends the transaction: the chunks after it get 503 (read and discarded too).

What a client can do wrong, recorded as violations: BDAT without CHUNKING advertised
(``bdat-without-chunking``, 502 5.5.1), DATA after BDAT in one transaction (``bdat-and-data``,
503 5.5.1, §2), BDAT before MAIL/RCPT (``bad-sequence``, 503 5.5.1), and a chunk shorter than
declared: the client closed before sending all of it (``chunk-short``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from smtpfake.engine import bare_lf
from smtpfake.engine.body import Body
from smtpfake.engine.state import Mode, Refusal
from smtpfake.frozen_dataclass import mutable_dataclass
from smtpfake.lazy_pattern import compiled_on_first_use
from smtpfake.scenario.model import Stage
from smtpfake.scenario.plan import Action, BodyCut, Plan
from smtpfake.scenario.reply import Reply

if TYPE_CHECKING:
    from smtpfake.engine.session import Session

_BDAT_RE = compiled_on_first_use(r"([0-9]{1,18})(?: +(LAST))? *", re.IGNORECASE)

_MIXED = Refusal(
    "Error: DATA after BDAT in one transaction",
    "DATA after BDAT in the same transaction (RFC 3030 §2)",
)


@mutable_dataclass
class Chunk:
    """The chunk being read (mutable: one per BDAT, counted down as its octets arrive)."""

    size: int  # octets declared
    last: bool  # BDAT ... LAST: the message is complete after it
    actions: tuple[Action, ...] = ()  # the reply, decided at the command, sent after the chunk
    label: str | None = None  # the rule that shaped the reply
    keep: bool = False  # the octets belong to the message (the chunk was accepted)
    received: int = 0  # octets read so far
    cut: BodyCut | None = None  # a cut_body rule: end the connection after this many octets
    queue_id: str = ""  # BDAT ... LAST: the id its 250 names
    # the rest of a chunk the server's close cut (``size`` its octets, :func:`after_close`):
    # kept as the session's chunk, so the one test of it per read covers it too
    after_close: bool = False

    @property
    def want(self) -> int:
        """How many more octets to read before the next thing happens (the end, or the cut)."""
        if self.cut is not None:
            return max(0, min(self.size, self.cut.after_bytes) - self.received)
        return self.size - self.received


def command(
    session: Session, arg: str, refused: bare_lf.Refusal | None = None
) -> tuple[Action, ...]:
    """``BDAT <size> [LAST]``: the reply is decided now and kept until the chunk is in.
    ``refused``: the command line had a bare LF or CR that ``server.bare_lf``/``bare_cr``
    refuses (bare_lf.py); then that refusal is the verdict, after the chunk is read."""
    m = _BDAT_RE.fullmatch(arg)
    if m is None:
        # No size to frame by: what follows is read as commands again.
        if refused is not None:
            return bare_lf.refuse(session, Stage.BDAT, arg, refused)
        syntax = session.reply(501, "5.5.4", "Syntax: BDAT chunk-size [LAST]")
        return session.respond(Stage.BDAT, arg, syntax)
    chunk = Chunk(int(m.group(1)), m.group(2) is not None)
    session.chunk = chunk  # first: a cut_body rule arms on it (Session.decide)
    reply: Reply | Plan
    if refused is None:
        reply, accept = _verdict(session, chunk)
    else:
        reply, accept = bare_lf.refusal_plan(session, refused), None
    chunk.actions, chunk.label = session.decide(Stage.BDAT, arg, reply, accept)
    return receive(session, b"") if chunk.want == 0 else ()


def _verdict(session: Session, chunk: Chunk) -> tuple[Reply, Callable[[], None] | None]:
    """The normal reply to this BDAT and what its acceptance does."""
    if not session.advertised("CHUNKING"):
        session.violate(
            "bdat-without-chunking",
            "BDAT, but CHUNKING was not advertised (RFC 3030 §2: a server without it would read "
            "the chunk as a command line)",
            "BDAT",
        )
        return session.reply(502, "5.5.1", "Error: BDAT without CHUNKING"), None
    if session.settings.tls.enabled and session.settings.tls.required and not session.tls_active:
        return session.reply(530, "5.7.0", "Must issue a STARTTLS command first"), None
    if not session.chunked:
        after = session.sequence("DATA")  # the same order as DATA: MAIL, then an accepted RCPT
        if isinstance(after, Refusal):
            refusal = Refusal(after.text, after.detail.replace("DATA", "{cmd}"))
            if not session.conduct.refusal_expected():
                session.violate("bad-sequence", refusal.detail.format(cmd="BDAT"), "BDAT")
            return session.reply(503, "5.5.1", refusal.text), None
    total = session.body.size + chunk.size if session.chunked else chunk.size
    limit = min(session.size_limit() or total, session.settings.max_message_bytes)
    if total > limit:
        big = session.reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
        return big, None
    if chunk.last:
        chunk.queue_id = session.shared.next_queue_id()
        ok = session.reply(250, "2.0.0", f"Ok: queued as {chunk.queue_id}")
    else:
        ok = session.reply(250, "2.0.0", f"Ok: {chunk.size} octets received")

    def accept() -> None:
        chunk.keep = True
        if not session.chunked:  # the transaction's first chunk starts the message
            session.chunked = True
            session.body = Body(session.settings.max_message_bytes)
            session.conduct.new_message()

    return ok, accept


def receive(session: Session, data: bytes) -> tuple[Action, ...]:
    """Octets of the chunk (at most ``chunk.want``); the reply once it is read whole."""
    chunk = session.chunk
    assert chunk is not None, "chunk octets without a BDAT"
    chunk.received += len(data)
    if chunk.keep and data:
        session.body.add_octets(data)
    cut = chunk.cut
    if cut is not None and chunk.received >= cut.after_bytes and chunk.received < chunk.size:
        session.chunk = None
        session.heard(f"(chunk data, {chunk.received} of {chunk.size} octets so far)", note=True)
        session.reset_transaction()
        actions = session.ending(cut.actions, cut.label)
        if session.mode is Mode.CLOSED:
            session.chunk = Chunk(chunk.size - chunk.received, False, after_close=True)
        return actions
    if chunk.received < chunk.size:
        return ()
    session.chunk = None
    session.heard(f"(chunk data, {chunk.size} octets)", note=True)
    if not chunk.keep:
        session.reset_transaction()  # §2: a failed BDAT fails the transaction
        return session.ending(chunk.actions, chunk.label)
    if chunk.last:
        _complete(session, chunk.queue_id)
    return session.ending(chunk.actions, chunk.label)


def _complete(session: Session, queue_id: str) -> None:
    """BDAT ... LAST accepted and read: the message is recorded, as after DATA's final "."."""
    body = session.body
    session.conduct.message_size(body.size, session.declared.size)
    session.observer.message(session.info, session.accepted_message(queue_id))
    session.reset_transaction()


def data_after_bdat(session: Session) -> tuple[Action, ...] | None:
    """DATA in a transaction that has had BDAT chunks: 503 (RFC 3030 §2); None otherwise."""
    if not session.chunked:
        return None
    session.violate("bdat-and-data", _MIXED.detail, "DATA")
    return session.respond(Stage.DATA, "", session.reply(503, "5.5.1", _MIXED.text))


def ended(session: Session, *, by_server: bool = False) -> None:
    """The connection ended; a chunk still being read was cut short by the client (unless the
    server itself cut it). ``by_server``: the server ends the session now on its own (a timer's
    421, a stop): the chunk ends here, before that 421, with the octets it got; what the client
    sends after the close is no chunk of this transaction (as text cut short in DATA).
    Cut by the client: the chunk's entry and ``chunk-short`` are stamped at
    :attr:`Session.arrived`, which the caller sets to the client's close (as a message cut
    short in DATA ends at the close), and never held back: the close's entry comes after."""
    chunk = session.chunk
    if chunk is None or chunk.after_close:
        return
    session.chunk = None
    text = f"(chunk data, {chunk.received} of {chunk.size} octets, unfinished)"
    if by_server:
        session.record("client", text, note=True)
        session.chunk = Chunk(chunk.size - chunk.received, False, after_close=True)
        return
    session.heard(text, note=True)
    if session.mode is not Mode.CLOSED:  # the client's close cut it
        session.violate(
            "chunk-short",
            f"the connection ended after {chunk.received} of the {chunk.size} octets the "
            "BDAT declared (RFC 3030 §2: the chunk is exactly that long)",
            "BDAT",
        )


def after_close(session: Session, size: int) -> None:
    """``size`` more octets of the chunk the server's close cut (:attr:`Chunk.after_close`): a
    client streams a chunk whole before it reads any reply (RFC 3030 §2), so they are its rest,
    counted, never read as commands nor judged; one note once all of it came."""
    cut = session.chunk
    assert cut is not None and cut.after_close, "chunk octets after the close without a cut"
    cut.received += size
    if cut.received >= cut.size:
        session.chunk = None
        session.heard(f"(chunk data after the close, {cut.received} octets)", note=True)


def command_after_close(session: Session, arg: str) -> None:
    """A ``BDAT <size>`` line read after the server's close (judged there as any line then):
    its chunk follows at once, sent before the client reads any reply (RFC 3030 §2), so its
    ``size`` octets are counted as :func:`after_close` counts the rest of a cut chunk, never
    read as command lines (they may hold CRLF "." CRLF or a ``QUIT``). A size that is no number
    frames nothing, as before the close."""
    m = _BDAT_RE.fullmatch(arg.strip())
    if m is not None and int(m.group(1)):
        session.chunk = Chunk(int(m.group(1)), False, after_close=True)


def cut_chunk_ended(session: Session, when: float | None) -> None:
    """The connection ends (at ``when``; None: now) before the rest of a chunk the server's
    close cut came whole: the octets that did come, noted as unfinished."""
    cut = session.chunk
    if cut is None or not cut.after_close:
        return
    session.chunk = None
    if cut.received:
        text = f"(chunk data after the close, {cut.received} of {cut.size} octets, unfinished)"
        session.record("client", text, time=when, note=True)
