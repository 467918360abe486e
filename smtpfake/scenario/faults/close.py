"""Ending the connection: after the reply, instead of it, or with a TCP reset."""

from __future__ import annotations

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.faults.base import Fault, FaultContext, register
from smtpfake.scenario.plan import Close, Plan, Reset


@register
@frozen_dataclass
class CloseAfter(Fault):
    name = "close"
    primary = "enabled"
    doc = "Close the connection (FIN) after sending the reply."
    reference = "`true`: close the connection after the reply"

    enabled: bool = True

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        return plan.with_(after=(*plan.after, Close())) if self.enabled else plan


@register
@frozen_dataclass
class Disconnect(Fault):
    name = "disconnect"
    primary = "enabled"
    doc = "Close the connection (FIN) without sending any reply."
    reference = "`true`: close without any reply"

    enabled: bool = True

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        if not self.enabled:
            return plan
        return plan.with_(reply=None, shapes=(), after=(Close(),))


@register
@frozen_dataclass
class ResetConnection(Fault):
    name = "reset"
    primary = "enabled"
    doc = "Abort the connection with a TCP reset (RST), without a reply."
    reference = "`true`: abort with a TCP reset (RST), without a reply"

    enabled: bool = True

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        if not self.enabled:
            return plan
        return plan.with_(reply=None, shapes=(), after=(Reset(),))
