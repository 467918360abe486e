"""Delivery back ends: aiosmtpd's Mailbox (Maildir) and Proxy (relay to a real server) and a
user's own handler object, through aiosmtpd's public handler interface; real sockets."""

from __future__ import annotations

import mailbox
import os
import smtplib
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from smtpfake.relay import Relay, RelayError
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


# aiosmtpd's Proxy answered "250 OK" whatever the relay did and connected without a timeout: a
# relay that was down or refused lost every message with no error, and one that never answered
# held the process at exit. smtpfake's Relay (proxy:HOST:PORT) reports each.


def test_a_relay_that_is_down_is_a_server_error() -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with Server(delivery=f"proxy:127.0.0.1:{port}") as front:
        send(front)
        assert front.wait_for_deliveries()
        (error,) = wait_until(lambda: list(front.errors), what="the relay's failure")
        assert isinstance(error.error, RelayError)
        assert str(error.error).startswith(f"relay 127.0.0.1:{port}: [Errno 111] ")
        front.errors.clear()


def test_recipients_the_relay_refuses_are_a_server_error() -> None:
    refusing = scenario({"on": "rcpt", "match": "*@y.test", "reply": "550 5.1.1 no such user"})
    with Server(refusing) as behind, Server(delivery=f"proxy:127.0.0.1:{behind.port}") as front:
        send(front, ["b@y.test", "c@z.test"])
        (error,) = wait_until(lambda: list(front.errors), what="the relay's refusal")
        assert isinstance(error.error, DeliveryRefused)
        said = f"550 relay 127.0.0.1:{behind.port} refused b@y.test: 550 5.1.1 no such user"
        assert said in str(error.error)
        (relayed,) = wait_until(lambda: behind.messages, what="the message to c@z.test")
        assert relayed.rcpt_tos == ("c@z.test",)
        assert relayed.data == MSG  # as the client sent it (Proxy added an X-Peer header)
        front.errors.clear()


def test_the_relay_passes_on_body_and_smtputf8() -> None:
    # Proxy dropped both: an 8-bit message reached the relay undeclared (judged
    # 8bit-without-8bitmime there), an SMTPUTF8 one not at all (UnicodeEncodeError)
    eight_bit = "Subject: caf\u00e9\r\n\r\nd\u00e9j\u00e0 vu\r\n".encode()
    with Server() as behind, Server(delivery=f"proxy:127.0.0.1:{behind.port}") as front:
        with smtplib.SMTP(front.host, front.port, timeout=5) as client:
            client.sendmail("a@x.test", ["b@y.test"], eight_bit, mail_options=["BODY=8BITMIME"])
            client.sendmail("\u00e4@x.test", ["\u00f6@y.test"], MSG, mail_options=["SMTPUTF8"])
        wait_until(lambda: len(behind.messages) == 2, what="both messages relayed")
        first, second = sorted(behind.messages, key=lambda m: m.mail_from)
        size = f"size={len(eight_bit)}"  # smtplib's own
        assert (first.data, first.mail_options) == (eight_bit, (size, "BODY=8BITMIME"))
        assert (second.mail_from, second.rcpt_tos) == ("\u00e4@x.test", ("\u00f6@y.test",))
        assert "SMTPUTF8" in second.mail_options
        assert [s.violations for s in behind.sessions] == [(), ()]
        assert front.errors == []


def test_a_relay_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts (the kernel does), never says 220
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        relay = Relay("127.0.0.1", silent.getsockname()[1], timeout=0.3)
        with Server(delivery=relay) as front:
            send(front)
            (error,) = wait_until(lambda: list(front.errors), what="the relay's timeout")
            assert isinstance(error.error, RelayError)
            assert "timed out" in str(error.error)
            front.errors.clear()


STUCK = """
import smtplib, sys, threading
from smtpfake.server import Server

class Stuck:
    async def handle_DATA(self, server, session, envelope):
        threading.Event().wait()  # a back end that never returns

server = Server(delivery=Stuck()).start()
with smtplib.SMTP(server.host, server.port, timeout=5) as client:
    client.sendmail("a@x.test", ["b@y.test"], b"Subject: s\\r\\n\\r\\nx\\r\\n")
server.stop()
print([type(e.error).__name__ for e in server.errors], str(server.errors[0].error), flush=True)
"""


def test_a_back_end_stuck_at_the_stop_is_given_up_and_reported(tmp_path: Path) -> None:
    # the stop waited 5 s, then the interpreter waited on the executor's thread for ever
    script = tmp_path / "stuck.py"
    script.write_text(STUCK)
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(repo)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith("['DeliveryAbandoned'] the back end had not finished "), line
    assert line.endswith(" when the server stopped"), line
