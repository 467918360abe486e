"""``reply``: answer with this code, enhanced code and text instead of the normal reply."""

from __future__ import annotations

from typing import Any

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.faults.base import Fault, FaultContext, register
from smtpfake.scenario.plan import Plan
from smtpfake.scenario.reply import Reply, check_reply, parse_reply_string

#: ``enhanced: none``: send the reply without an enhanced code even when ENHANCEDSTATUSCODES is
#: advertised (a deliberately non-conforming server)
NONE = "none"


@register
@frozen_dataclass
class ReplyWith(Fault):
    name = "reply"
    doc = (
        'Reply with CODE [ENHANCED] TEXT, e.g. "421 4.3.2 Going down"; text may be a list of '
        "lines. "
        "With ENHANCEDSTATUSCODES a reply without ENHANCED gets X.0.0; enhanced: none sends none."
    )
    reference = (
        '`"CODE [X.Y.Z] text"`, or `{code, enhanced, text}` where `text` may be a list of lines'
        " (a multi-line reply, RFC 5321 §4.2.1). With ENHANCEDSTATUSCODES in the scenario (a HELO"
        " session too, RFC 2034 §4), a "
        "2xx/4xx/5xx reply without `X.Y.Z` gets its class default (`2.0.0`, `4.0.0`, `5.0.0`; "
        "RFC 2034 §3; never on the greeting or the HELO/EHLO reply); `enhanced: none` sends it "
        "without one on purpose. An empty text still goes out with the SP (`250 `, RFC 5321 "
        "§4.2.1)"
    )

    code: int
    text: str | tuple[str, ...] = ""
    enhanced: str | None = None

    @classmethod
    def shorthand(cls, value: Any) -> dict[str, Any]:
        if isinstance(value, int) and not isinstance(value, bool):
            return {"code": value}
        code, enhanced, text = parse_reply_string(str(value))
        if code is None:  # the loader names the key as written: rules[1].reply, not .code
            shown = repr(value)
            if len(shown) > 60:  # a problem is one line
                shown = f"{shown[:50]}... ({len(shown):,} characters)"
            raise ValueError(f'a reply starts with its code ("CODE [X.Y.Z] text"), got {shown}')
        return {"code": code, "enhanced": enhanced, "text": text}

    def check(self) -> list[tuple[str, str]]:
        enhanced = None if self.enhanced == NONE else self.enhanced
        lines = self.as_reply().lines
        return check_reply(self.code, enhanced, lines, defaulted=self.enhanced != NONE)

    def as_reply(self) -> Reply:
        lines = (self.text,) if isinstance(self.text, str) else tuple(self.text)
        enhanced = None if self.enhanced == NONE else self.enhanced
        return Reply(code=self.code, lines=lines or ("",), enhanced=enhanced)

    def apply(self, plan: Plan, ctx: FaultContext) -> Plan:
        return plan.with_(reply=self.as_reply(), enhanced_default=self.enhanced != NONE)
