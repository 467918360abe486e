"""A ``handle_EHLO`` (the form given the scenario's lines) may reword a keyword's parameters, and so
add a mechanism to the AUTH line (fresh18, "Also seen"): the mechanisms the server runs stay the
scenario's, as SIZE's limit does (README, hooks): one only the hook's line offers gets 504, and a
client that tries it first falls back to one the scenario offers."""

from __future__ import annotations

import smtplib
from typing import Any

import pytest

from smtpfake.server import Server

from .conftest import LOOPS

AUTH = {"summary": "auth", "expect": "x", "server": {"auth": {"users": {"alice": "pw"}}}}


class AddCram:
    """Adds CRAM-MD5 to the AUTH line: the same keywords, so allowed."""

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        return [r + " CRAM-MD5" if r[4:].startswith("AUTH") else r for r in responses]


@pytest.mark.parametrize("loop", LOOPS)
def test_a_mechanism_only_the_hooks_auth_line_offers_gets_504(loop: str) -> None:
    with (
        Server(AUTH, handler=AddCram(), loop=loop) as server,
        smtplib.SMTP(server.host, server.port, timeout=5) as client,
    ):
        client.ehlo("c.test")
        assert client.esmtp_features["auth"].split() == ["PLAIN", "LOGIN", "CRAM-MD5"]
        assert client.docmd("AUTH", "CRAM-MD5") == (504, b"5.5.4 Unrecognized authentication type")
        # smtplib prefers CRAM-MD5, gets the 504 and falls back to PLAIN, which the scenario runs
        assert client.login("alice", "pw")[0] == 235
        client.quit()
    server.settle()
    (session,) = server.sessions
    assert session.auth_user == "alice"
    assert server.errors == []
