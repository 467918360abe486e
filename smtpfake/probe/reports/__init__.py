"""Probe reports: a terminal table, JUnit XML, one self-contained HTML file, JSON."""

from smtpfake.probe.reports.html import html_report
from smtpfake.probe.reports.jsonreport import json_report
from smtpfake.probe.reports.junit import junit_report
from smtpfake.probe.reports.terminal import summary_line, terminal_table

__all__ = ["html_report", "json_report", "junit_report", "summary_line", "terminal_table"]
