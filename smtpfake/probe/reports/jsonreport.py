"""JSON: every case's verdict, reason, checks (with RFC section and level), sessions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from smtpfake.journal import SessionRecord
from smtpfake.probe.runner import CaseResult


def _session(s: SessionRecord) -> dict[str, Any]:
    return {
        "index": s.index,
        "transcript": [
            {"time": e.time, "side": e.side, "text": e.text, "rule": e.rule} for e in s.transcript
        ],
        "violations": [
            {"kind": v.kind, "detail": v.detail, "command": v.command} for v in s.violations
        ],
        "messages": len(s.messages),
        "tls": s.tls,
        "auth_user": s.auth_user,
    }


def as_dict(result: CaseResult) -> dict[str, Any]:
    ev = result.evidence
    return {
        "case": result.name,
        "summary": result.case.scenario.summary,
        "client": result.kind.value,
        "verdict": result.verdict.value,
        "reason": result.reason,
        "seconds": round(result.seconds, 3),
        "outcome": ev.outcome,
        "exit_status": ev.exit_status,
        "timed_out": ev.timed_out,
        "delivered": ev.delivered,
        "checks": [
            {
                "check": c.check.kind,
                "value": list(c.check.value) if isinstance(c.check.value, tuple) else c.check.value,
                "rfc": c.check.rfc,
                "level": c.check.level.value,
                "passed": c.passed,
                "found": c.found,
            }
            for c in result.checks
        ],
        "sessions": [_session(s) for s in ev.sessions],
        "output": result.output,
        "errors": list(result.errors),
    }


def json_report(results: Sequence[CaseResult], command: Sequence[str] = ()) -> str:
    doc = {"command": list(command), "cases": [as_dict(r) for r in results]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
