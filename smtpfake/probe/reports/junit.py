"""JUnit XML: one testcase per case; a failed case's failure text has the reason, every check
and the transcript. Non-strict cases pass (with the reason in system-out), as Autobahn counts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from smtpfake.probe.judge import Verdict
from smtpfake.probe.runner import CaseResult
from smtpfake.visible import visible


def details(result: CaseResult) -> str:
    """The reason, each check's line, the client's output and the transcript, as plain text."""
    parts = [f"{result.verdict}: {result.reason}", "", *(c.line for c in result.checks)]
    if result.output.strip():
        parts += ["", "client output:", result.output.rstrip()]
    parts += ["", "transcript:", result.transcript()]
    parts += ["", *result.errors]
    # the client's colours (ESC) and octets that are not UTF-8 shown as \xNN, never played nor
    # lost: XML 1.0 cannot carry most control characters, nor UTF-8 a lone surrogate
    return visible("\n".join(parts).rstrip()) + "\n"


def junit_report(results: Sequence[CaseResult], name: str = "smtpfake probe") -> str:
    failures = sum(r.verdict is Verdict.FAIL for r in results)
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for r in results:
        case = ET.SubElement(
            suite, "testcase", classname="smtpfake.probe", name=r.name, time=f"{r.seconds:.3f}"
        )
        if r.verdict is Verdict.FAIL:
            failure = ET.SubElement(case, "failure", message=visible(r.reason), type="fail")
            failure.text = details(r)
        else:
            ET.SubElement(case, "system-out").text = details(r)
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
