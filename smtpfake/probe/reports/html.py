"""One self-contained HTML file (no scripts, no external assets): a summary table linking to
each case, and per case its summary, expectation, checks with RFC sections, the client's
output, and every session's transcript with rule hits and violations. Everything is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from smtpfake.engine.records import cut_short, tag_endings
from smtpfake.journal import SessionRecord
from smtpfake.probe.reports.terminal import summary_line
from smtpfake.probe.runner import CaseResult
from smtpfake.visible import visible

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;vertical-align:top}
tr:nth-child(even){background:#f4f4f4}pre{background:#f8f8f8;padding:8px;overflow-x:auto}
.pass{color:#176b2c}.non-strict{color:#8a6d00}.fail{color:#b00020}.informational{color:#345}
.pass,.non-strict,.fail,.informational{white-space:nowrap}
.c{color:#1a4f8b}.s{color:#555}.rule{color:#8a3ea8}.v{color:#b00020}
"""


def _session(s: SessionRecord) -> str:
    rows = []
    for e in s.transcript:
        side = ("C" if e.side == "client" else "S") + ("*" if e.note else ":")  # *: a note
        rule = f' <span class="rule">[{escape(e.rule)}]</span>' if e.rule else ""
        cls = "c" if e.side == "client" else "s"
        # as session.format() writes it: each line after its arrow; a reply the client left
        # mid-way shows the lines that crossed and says so, a line cut short says so
        text, cut = e.text, ""
        if not e.delivered:
            text, cut = cut_short(e.side, text, e.written, e.endings)
        elif e.endings:  # a reply line that did not end in CRLF says how it ended
            text = tag_endings(text, e.endings)
        shown = "\n".join(f"{side} {line}" for line in text.split("\n"))
        rows.append(f'<span class="{cls}">{escape(visible(shown))}</span>{rule}{escape(cut)}')
    rows += [f'<span class="v">! {escape(visible(str(v)))}</span>' for v in s.violations]
    head = f"session {s.index}" + (", over TLS" if s.tls else "")
    head += f", {len(s.messages)} message(s) accepted"
    return f"<h4>{escape(head)}</h4><pre>{chr(10).join(rows)}</pre>"


def _case(r: CaseResult) -> str:
    sc = r.case.scenario
    checks = "".join(
        f"<tr><td>{'ok' if c.passed else escape(c.check.level.value.upper())}</td>"
        f"<td>{escape(str(c.check))}</td><td>{escape(visible(c.found))}</td>"
        f"<td>{escape(c.check.rfc)}</td></tr>"
        for c in r.checks
    )
    sessions = "".join(_session(s) for s in r.evidence.sessions) or "<p>(no connection)</p>"
    shown = escape(visible(r.output))
    output = f"<h4>client output</h4><pre>{shown}</pre>" if r.output.strip() else ""
    errors = "".join(f"<pre class='v'>{escape(visible(e))}</pre>" for e in r.errors)
    return (
        f'<section id="{escape(r.name)}"><h3>{escape(r.name)} '
        f'<span class="{r.verdict.value}">{r.verdict.value}</span></h3>'
        f"<p>{escape(sc.summary)}</p><p><b>Expected:</b> {escape(sc.expect)}</p>"
        f"<p><b>Reason:</b> {escape(visible(r.reason))} ({escape(visible(r.evidence.reported()))}, "
        f"{r.seconds:.2f} s)</p>"
        f"<table><tr><th></th><th>check</th><th>found</th><th>RFC</th></tr>{checks}</table>"
        f"{output}{sessions}{errors}</section>"
    )


def html_report(results: Sequence[CaseResult], command: Sequence[str] = ()) -> str:
    index = "".join(
        f'<tr><td><a href="#{escape(r.name)}">{escape(r.name)}</a></td>'
        f'<td class="{r.verdict.value}">{r.verdict.value}</td>'
        f"<td>{escape(visible(r.reason))}</td></tr>"
        for r in results
    )
    # a command argument may be a file name that is not UTF-8, or hold an ESC: shown, never lost
    title = visible("smtpfake probe: " + " ".join(command))
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f"<p>{escape(summary_line(results))}</p>"
        f"<table><tr><th>case</th><th>verdict</th><th>reason</th></tr>{index}</table>"
        f"{''.join(_case(r) for r in results)}</body></html>\n"
    )
