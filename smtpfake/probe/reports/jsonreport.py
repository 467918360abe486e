"""JSON: every case's verdict, reason, checks (with RFC section and level), sessions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from smtpfake.journal import SessionRecord
from smtpfake.probe.runner import CaseResult
from smtpfake.serialize import message_summary, session_to_json
from smtpfake.visible import json_document


def _session(s: SessionRecord) -> dict[str, Any]:
    # as GET /api/sessions writes it (entries with `note`, `delivered`/`written`; violations with
    # their time and RFC; message summaries; outcomes, rule hits and near misses), so a case's
    # sessions go to `smtpfake show CASE --journal FILE` as they are
    return session_to_json(s, message_summary)


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
    # a client's octets that were not UTF-8 (in what a check found, say) as "\xNN": strict JSON
    return json_document(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n"
