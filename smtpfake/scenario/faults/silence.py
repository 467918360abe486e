"""Going silent: stop answering and reading (``hang``), or answer then fall silent and abort
(``abort``, Postfix smtp-sink ``-A``).

Both are plain Sleep/Close/Reset actions: while the wire performs a Sleep it reads nothing, so the
client's further commands (or message data) pile up unread in the socket buffers.
"""

from __future__ import annotations

from dataclasses import field

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.faults.base import Fault, FaultContext, register
from smtpfake.scenario.plan import Close, Plan, Reset, Sleep

HOW = ("reset", "close")


@register
@frozen_dataclass
class Hang(Fault):
    name = "hang"
    primary = "seconds"
    doc = "Send nothing and read nothing for SECONDS (default 3600), then close without a reply."
    reference = (
        "seconds (or `{seconds}`; default 3600): send nothing and read nothing for that long, "
        "then close (FIN) without a reply; the command is not acted on"
    )

    seconds: float = 3600.0

    def check(self) -> list[tuple[str, str]]:
        if self.seconds <= 0:
            return [("seconds", f"seconds must be more than 0, got {self.seconds}")]
        return []

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        # No reply at all: the server never acts on the command (a hang at end_of_data does not
        # accept the message). Delays before it still happen, so the silence only grows.
        return plan.with_(
            reply=None,
            shapes=(),
            before=(*plan.before, Sleep(self.seconds)),
            after=(Close(),),
        )


@register
@frozen_dataclass
class Abort(Fault):
    name = "abort"
    primary = "seconds"
    doc = (
        "After the reply, read nothing for SECONDS, then reset (how: close for FIN); smtp-sink -A."
    )
    reference = (
        "seconds (or `{seconds, how}`): after the reply, read nothing for that long (default "
        "0), then abort with RST (`how: close`: FIN), as Postfix `smtp-sink -A`"
    )

    seconds: float = 0.0
    how: str = field(default="reset", metadata={"choices": HOW})

    def check(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if self.seconds < 0:
            problems.append(("seconds", f"seconds must not be negative, got {self.seconds}"))
        if self.how not in HOW:
            problems.append(("how", f"how must be one of: {', '.join(HOW)}; got {self.how!r}"))
        return problems

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        end = Reset() if self.how == "reset" else Close()
        pause = (Sleep(self.seconds),) if self.seconds else ()
        return plan.with_(after=(*plan.after, *pause, end))
