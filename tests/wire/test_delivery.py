"""Delivery back ends: aiosmtpd's Mailbox (Maildir) and Proxy (relay to a real server) and a
user's own handler object, through aiosmtpd's public handler interface; real sockets."""

from __future__ import annotations

import mailbox
import smtplib
from pathlib import Path
from typing import Any

import pytest

from smtpfake.server import DeliveryRefused, Server

from ..support import scenario
from ..support.waits import wait_until

MSG = b"From: a@x.test\r\nTo: b@y.test\r\nSubject: relayed\r\n\r\nhello\r\n"


def send(server: Server, rcpts: list[str] | None = None) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.sendmail("a@x.test", rcpts or ["b@y.test"], MSG)


def test_maildir_gets_every_accepted_message(tmp_path: Path) -> None:
    with Server(delivery=f"maildir:{tmp_path / 'mail'}") as server:
        send(server)
        send(server)
        box = mailbox.Maildir(tmp_path / "mail")
        wait_until(lambda: len(box) == 2, what="two messages in the Maildir")
        assert {m["Subject"] for m in box} == {"relayed"}
        assert server.errors == []


def test_proxy_relays_to_a_real_server_behind_the_faults() -> None:
    with Server() as behind:
        rule = {"on": "rcpt", "match": "*@full.test", "reply": "452 4.2.2 Mailbox full"}
        with Server(scenario(rule), delivery=f"proxy:{behind.host}:{behind.port}") as front:
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                send(front, ["c@full.test"])  # the fault answers; nothing is relayed
            send(front)
            wait_until(lambda: len(behind.messages) == 1, what="the relayed message")
            (relayed,) = behind.messages
            assert relayed.rcpt_tos == ("b@y.test",)
            assert relayed.subject == "relayed"
            assert front.errors == []


def test_a_users_handler_gets_aiosmtpds_envelope_and_its_failure_is_a_server_error() -> None:
    seen: list[tuple[str, list[str], bytes]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            seen.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
            if "boom@y.test" in envelope.rcpt_tos:
                raise RuntimeError("the user's handler failed")
            return "250 OK"

    with Server(delivery=Handler()) as server:
        send(server)
        wait_until(lambda: len(seen) == 1, what="the handler's call")
        assert seen == [("a@x.test", ["b@y.test"], MSG)]
        send(server, ["boom@y.test"])
        (error,) = wait_until(lambda: list(server.errors), what="the handler's failure")
        assert "the user's handler failed" in error.traceback
        assert error.session == 2
        server.errors.clear()


def test_a_handlers_envelope_has_the_parameters_of_the_record() -> None:
    seen: list[tuple[list[str], list[str], bool]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            seen.append((envelope.mail_options, envelope.rcpt_options, envelope.smtp_utf8))
            return "250 OK"

    dsn = scenario(extensions_add=["DSN"])
    with Server(dsn, delivery=Handler()) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo("c.test")
            assert client.mail("a@x.test", ["BODY=8BITMIME", "ENVID=Xy1"])[0] == 250
            assert client.rcpt("b@y.test", ["NOTIFY=SUCCESS", "ORCPT=rfc822;B@y.test"])[0] == 250
            assert client.rcpt("c@y.test")[0] == 250
            assert client.data(MSG)[0] == 250
            client.sendmail("a@x.test", ["d@y.test"], MSG, mail_options=["SMTPUTF8"])
        wait_until(lambda: len(seen) == 2, what="the handler's calls")
        first, _ = server.messages
        # aiosmtpd's shape: every recipient's options in one list (the record keeps them apart)
        assert first.rcpt_options == (("NOTIFY=SUCCESS", "ORCPT=rfc822;B@y.test"), ())
        # (in either order: the two deliveries run apart, and nothing promises their order)
        dsn_options = ["NOTIFY=SUCCESS", "ORCPT=rfc822;B@y.test"]
        assert sorted(seen, key=repr) == sorted(
            [
                (["BODY=8BITMIME", "ENVID=Xy1"], dsn_options, False),
                ([f"size={len(MSG)}", "SMTPUTF8"], [], True),
            ],
            key=repr,
        )
        assert server.errors == []


def test_a_refusal_by_the_back_end_is_reported() -> None:
    class Refusing:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "554 5.7.1 no thanks"

    with Server(delivery=Refusing()) as server:
        send(server)
        (error,) = wait_until(lambda: list(server.errors), what="the refusal")
        assert isinstance(error.error, DeliveryRefused)
        assert "554 5.7.1 no thanks" in str(error.error)
        server.errors.clear()


def test_an_unknown_back_end_name_is_refused() -> None:
    with pytest.raises(ValueError, match="maildir:PATH or proxy:HOST:PORT"):
        Server(delivery="mbox:/tmp/x")
