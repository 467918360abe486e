"""``smtpfake probe``: a conformance suite for SMTP clients, in any language.

Each case is a scenario with ``checks:``; the probe runs a client against a fresh server per
case and judges the journal (judge.py), as the Autobahn test suite does for WebSocket clients.
Modules: cases (selection, what the client is told), runner (servers, commands, functions),
judge (verdicts), outcomes (exit statuses, exceptions), reports/, command (the CLI),
pytest_cases (one generated test per case in a user's suite).

Kept free of imports so that ``smtpfake --help`` does not load the server.
"""
