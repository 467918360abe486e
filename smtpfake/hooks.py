"""A user's handler deciding replies: aiosmtpd's hooks (``handle_RCPT`` ...) behind the consult
step (engine/consult.py), called with aiosmtpd's public Session and Envelope objects.

``Server(handler=obj)``: for each command whose normal reply is positive and for which ``obj``
has ``async handle_<HOOK>``, the reply is the hook's answer (aiosmtpd's status string, or the
list of lines from a five-argument ``handle_EHLO``); the scenario's rules still apply on top.
The Envelope holds the transaction as smtpfake accepted it so far (``mail_from``, ``rcpt_tos``,
``mail_options``, ``rcpt_options``, ``smtp_utf8``, and at DATA ``content``; the parameters as the
client wrote them, where aiosmtpd upper-cases them); the Session is one per connection (``peer``,
``host_name``, ``extended_smtp``), so a handler can keep its own state on it.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from smtpfake.engine.consult import HOOKS, status_after_extensions
from smtpfake.engine.records import declares_smtputf8
from smtpfake.scenario.plan import Consult

if TYPE_CHECKING:
    from aiosmtpd.smtp import Session as AiosmtpdSession

    from smtpfake.engine.session import Session


def hook_names(handler: object) -> frozenset[str]:
    """The reply-deciding hooks ``handler`` has (``handle_<NAME>``, callable)."""
    return frozenset(
        name for name in HOOKS.values() if callable(getattr(handler, f"handle_{name}", None))
    )


def plain_defs(handler: object, names: Iterable[str]) -> list[str]:
    """The ``handle_NAME`` methods of ``handler`` written as a plain ``def``, sorted: aiosmtpd
    awaits its hooks and handlers, so each call would fail with "can't be used in 'await'"."""
    return sorted(
        f"handle_{name}"
        for name in names
        if inspect.isroutine(hook := getattr(handler, f"handle_{name}", None))
        and not inspect.iscoroutinefunction(hook)
    )


def check_async(handler: object, names: Iterable[str], what: str) -> None:
    """TypeError naming each of ``handler``'s ``handle_NAME`` hooks that is not ``async def``
    (``what``: how the caller gave it, e.g. ``Server(handler=...)``): said once, when it is
    given, not as a failure of every command it would answer."""
    plain = plain_defs(handler, names)
    if plain:
        verb = "must be" if len(plain) == 1 else "must each be"
        raise TypeError(
            f"{what}: {', '.join(plain)} of {handler!r} {verb} `async def`, as aiosmtpd's "
            "hooks are (the server awaits it)"
        )


class Hooks:
    """The user's handler, and the aiosmtpd Session of each connection that consulted it."""

    def __init__(self, handler: object, server: object) -> None:
        self.handler = handler
        self.names = hook_names(handler)
        ehlo = getattr(handler, "handle_EHLO", None)
        #: aiosmtpd's newer handle_EHLO form (5 parameters): it gets the reply's lines, returns them
        self.ehlo_lines = ehlo is not None and len(inspect.signature(ehlo).parameters) >= 5
        self._server = server
        self._sessions: dict[int, AiosmtpdSession] = {}

    def forget(self, index: int) -> None:
        """The connection ``index`` ended."""
        self._sessions.pop(index, None)

    async def ask(self, session: Session, action: Consult) -> str | Sequence[str]:
        """Await ``handle_<action.hook>`` with aiosmtpd's arguments; its answer as it came.
        Whatever the handler raises propagates (the server reports it)."""
        from aiosmtpd.smtp import Envelope
        from aiosmtpd.smtp import Session as AiosmtpdSession

        aio = self._sessions.get(session.index)
        if aio is None:
            import asyncio

            aio = AiosmtpdSession(asyncio.get_running_loop())
            host, _, port = session.info.peer.rpartition(":")
            peer: Any = (host.strip("[]"), int(port)) if port.isdigit() else session.info.peer
            aio.peer = peer  # aiosmtpd's own is the socket's (host, port)
            self._sessions[session.index] = aio
        aio.host_name = action.helo_name or None
        aio.extended_smtp = action.esmtp
        envelope = Envelope()
        envelope.mail_from = action.mail_from or None
        envelope.rcpt_tos = list(action.rcpt_tos)
        envelope.mail_options = list(action.mail_options)
        envelope.rcpt_options = list(action.rcpt_options)
        envelope.smtp_utf8 = declares_smtputf8(action.mail_options)
        if action.hook == "DATA":
            envelope.content = envelope.original_content = action.content
        hook = getattr(self.handler, f"handle_{action.hook}")
        args: list[Any] = [self._server, aio, envelope]
        if action.hook in ("HELO", "EHLO", "MAIL", "RCPT", "NOOP", "VRFY"):
            args.append(action.argument)
        if action.hook in ("MAIL", "RCPT"):
            args.append(list(action.options))
        if action.hook == "EHLO" and self.ehlo_lines:
            # aiosmtpd's newer form: the handler gets the reply's lines and returns them
            last = len(action.lines) - 1
            args.append([f"250{' ' if i == last else '-'}{t}" for i, t in enumerate(action.lines)])
        answer: str | Sequence[str] = await hook(*args)
        old_ehlo = action.hook == "EHLO" and not self.ehlo_lines
        if old_ehlo and isinstance(answer, str) and answer[:1] == "2":
            return status_after_extensions(action.lines, answer)
        return answer
