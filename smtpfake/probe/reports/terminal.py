"""The terminal table: case, verdict, one-line reason (a row as each case ends); then a count
per verdict."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from smtpfake.probe.judge import Verdict
from smtpfake.probe.runner import CaseResult
from smtpfake.visible import visible

_VERDICT_W = max(len(v.value) for v in Verdict)


class Table:
    """Rows aligned for case names up to ``name_width``, reasons cut to fit ``width``."""

    def __init__(self, names: Sequence[str], width: int = 100) -> None:
        self.name_w = max(len("case"), *(len(n) for n in names)) if names else 4
        self.room = max(20, width - self.name_w - _VERDICT_W - 4)

    def header(self) -> str:
        return f"{'case':<{self.name_w}}  {'verdict':<{_VERDICT_W}}  reason"

    def row(self, r: CaseResult) -> str:
        shown = visible(r.reason)  # a client's bytes, say, are shown, never played
        reason = shown if len(shown) <= self.room else shown[: self.room - 3] + "..."
        return f"{r.name:<{self.name_w}}  {r.verdict.value:<{_VERDICT_W}}  {reason}"


def terminal_table(results: Sequence[CaseResult], width: int = 100) -> str:
    if not results:
        return "no cases selected"
    table = Table([r.name for r in results], width)
    return "\n".join([table.header(), *(table.row(r) for r in results)])


def summary_line(results: Sequence[CaseResult]) -> str:
    """``60 cases: 55 pass, 2 non-strict, 3 fail``"""
    counts = Counter(r.verdict for r in results)
    parts = [f"{counts[v]} {v.value}" for v in Verdict if counts[v]]
    return f"{len(results)} cases: {', '.join(parts) or 'none run'}"
