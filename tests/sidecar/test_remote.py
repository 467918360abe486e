"""One control interface, two transports: the same test bodies against an in-process server and
against a sidecar process driven over HTTP by RemoteSmtpFake."""

from __future__ import annotations

import gc
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smtpfake.control import SmtpFake
from smtpfake.engine.records import Message
from smtpfake.http import ApiServer
from smtpfake.journal import SessionRecord
from smtpfake.remote import RemoteError, RemoteSmtpFake
from smtpfake.scenario import ScenarioError
from smtpfake.server import Server

from .conftest import TIMEOUT, Sidecar, call

Fake = SmtpFake | RemoteSmtpFake


@pytest.fixture(params=["in-process", "sidecar"])
def fake(request: pytest.FixtureRequest, shared_server: Server) -> Iterator[Fake]:
    control: Fake
    if request.param == "in-process":
        control = SmtpFake(shared_server)
    else:
        car: Sidecar = request.getfixturevalue("shared_sidecar")
        control = RemoteSmtpFake(car.url)
    control.use("default", seed=0)
    control.reset()
    yield control
    control.use("default", seed=0)
    control.reset()


def deliver(fake: Fake, subject: str = "parity", to: tuple[str, ...] = ("b@y.test",)) -> None:
    data = f"From: a@x.test\r\nSubject: {subject}\r\n\r\nSame body either way.\r\n".encode()
    with smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT) as client:
        client.sendmail("a@x.test", list(to), data)


# -- the same bodies, both transports --------------------------------------------------------------


def test_mail_and_rcpt_parameters_read_the_same_either_way(fake: Fake) -> None:
    fake.use({"summary": "dsn", "expect": "deliver", "server": {"extensions_add": ["DSN"]}})
    with smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT) as client:
        client.ehlo("c.test")
        assert client.mail("a@x.test", ["BODY=8BITMIME", "RET=FULL", "ENVID=Ab1"])[0] == 250
        assert client.rcpt("b@y.test", ["NOTIFY=FAILURE", "ORCPT=rfc822;B@y.test"])[0] == 250
        assert client.rcpt("c@y.test")[0] == 250
        assert client.data(b"Subject: dsn\r\n\r\nx\r\n")[0] == 250
    (msg,) = fake.wait_for_messages(1, timeout=2)
    assert msg.mail_options == ("BODY=8BITMIME", "RET=FULL", "ENVID=Ab1")
    assert msg.rcpt_options == (("NOTIFY=FAILURE", "ORCPT=rfc822;B@y.test"), ())
    (session,) = fake.sessions
    assert session.messages[0].rcpt_options == msg.rcpt_options


def test_delivery_is_recorded(fake: Fake) -> None:
    assert fake.scenario_name == "default"
    deliver(fake, to=("b@y.test", "c@y.test"))
    (msg,) = fake.wait_for_messages(1, timeout=2)
    assert isinstance(msg, Message)
    assert (msg.mail_from, msg.rcpt_tos) == ("a@x.test", ("b@y.test", "c@y.test"))
    assert msg.subject == "parity"
    assert msg.message.get_content().strip() == "Same body either way."
    assert msg.data.endswith(b"Same body either way.\r\n")
    fake.assert_delivered(1)
    (session,) = fake.wait_for_sessions(1, timeout=2)
    assert isinstance(session, SessionRecord)
    assert session.commands[0].lower().startswith("ehlo")
    assert session.commands[-1] == "QUIT"
    assert session.reply_codes[:2] == (220, 250)
    assert session.messages == (msg,)
    fake.assert_no_violations()
    assert "C: QUIT" in fake.transcript()


def test_each_command_is_paired_with_its_reply(fake: Fake) -> None:
    """SessionRecord.exchanges() and end_of_data() on both transports (the sidecar's records
    come back from JSON)."""
    deliver(fake)
    (session,) = fake.wait_for_sessions(1, timeout=2)
    assert [(x.command.text.split(" ")[0].upper(), x.code) for x in session.exchanges()] == [
        ("EHLO", 250),
        ("MAIL", 250),
        ("RCPT", 250),
        ("DATA", 354),
        (".", 250),
        ("QUIT", 221),
    ]
    (listed,) = fake.messages  # the journal's message list: the same message, read again
    for message in (session.messages[0], listed):
        end = session.end_of_data(message)
        assert end is not None and end.reply is not None
        assert end.command.text == "." and end.command.time == message.time
        assert end.reply.text == f"250 2.0.0 Ok: queued as {message.queue_id}"


def send_a_lookalike(fake: Fake) -> None:
    """A message, then a command line that reads like the engine's note on it."""
    with smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT) as client:
        client.sendmail("a@x.test", ["b@y.test"], b"Subject: x\r\n\r\nhi\r\n")
        assert client.docmd(LOOKALIKE)[0] == 500


LOOKALIKE = "(message data, 5 bytes)"  # a 5-byte message's note (the one sent is 18 bytes)


def test_a_line_that_reads_like_a_note_is_a_line_on_both_transports(fake: Fake) -> None:
    """TranscriptEntry.note, not the text, tells the engine's notes from lines; it survives the
    sidecar's JSON, and exchanges() pairs the look-alike with its 500."""
    send_a_lookalike(fake)
    (session,) = fake.wait_for_sessions(1, timeout=2)
    noted = [(e.side, e.text) for e in session.transcript if e.note]
    assert noted == [
        ("client", "(message data, 18 bytes)"),
        ("server", "(connection closed)"),
        ("client", "(client closed the connection)"),
    ]
    (line,) = [e for e in session.transcript if e.text == LOOKALIKE]
    assert line.side == "client" and not line.note
    last = session.exchanges()[-2:]
    assert [(x.command.text, x.code) for x in last] == [(LOOKALIKE, 500), ("QUIT", 221)]
    assert f"C: {LOOKALIKE}\n" in fake.transcript()
    assert "C* (message data, 18 bytes)\n" in fake.transcript()


def test_the_api_json_carries_the_note_flag(shared_sidecar: Sidecar) -> None:
    remote = RemoteSmtpFake(shared_sidecar.url)
    remote.use("default", seed=0)
    remote.reset()
    send_a_lookalike(remote)
    remote.wait_for_sessions(1, timeout=2)
    (listed,) = call(shared_sidecar.url, "GET", "/api/sessions").body["sessions"]
    by_text = {e["text"]: e for e in listed["transcript"]}
    assert by_text["(message data, 18 bytes)"]["note"] is True
    assert by_text["(connection closed)"]["note"] is True
    assert by_text["(client closed the connection)"] | {"time": 0} == {
        "time": 0,
        "side": "client",
        "text": "(client closed the connection)",
        "rule": None,
        "event": True,
        "note": True,
    }
    assert "note" not in by_text[LOOKALIKE] and "note" not in by_text["QUIT"]


def test_switching_scenario_by_name(fake: Fake) -> None:
    fake.use("421-at-greeting")
    assert fake.scenario_name == "421-at-greeting"
    with pytest.raises(smtplib.SMTPConnectError) as caught:
        smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT)
    assert caught.value.smtp_code == 421
    (session,) = fake.wait_for_sessions(1, timeout=2)
    assert session.reply_codes == (421,)
    assert session.transcript[0].rule
    assert fake.messages == ()


def test_violations_and_the_assertion_helpers(fake: Fake) -> None:
    fake.use("strict-503-ordering")
    with smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT) as client:
        assert client.docmd("MAIL", "FROM:<a@x.test>")[0] == 503
    fake.wait_for_sessions(1, timeout=2)
    assert [v.kind for v in fake.violations] == ["bad-sequence"]
    with pytest.raises(AssertionError, match="1 protocol violation"):
        fake.assert_no_violations()
    with pytest.raises(AssertionError, match="expected 1 accepted message"):
        fake.assert_delivered(1)


def test_inline_dict_and_yaml_file(fake: Fake, tmp_path: Path) -> None:
    fake.use({"rules": [{"on": "rcpt", "match": "bad@*", "reply": "550 5.1.1 no"}]})
    with smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT) as client:
        client.ehlo("x.test")
        client.mail("a@x.test")
        assert client.rcpt("bad@y.test")[0] == 550
    path = tmp_path / "greet-554.yaml"
    path.write_text(
        "summary: No service.\nexpect: Give up.\nrules:\n  - on: connect\n    reply: 554 no\n"
    )
    fake.use(path, seed=3)
    assert fake.scenario_name == "greet-554"
    with pytest.raises(smtplib.SMTPConnectError) as caught:
        smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT)
    assert caught.value.smtp_code == 554


def test_scenario_errors_point_at_the_callers_file(fake: Fake, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("summary: x\nexpect: y\nrules:\n  - on: rcptt\n    reply: 550 no\n")
    with pytest.raises(ScenarioError) as caught:
        fake.use(str(path))
    assert str(caught.value.problems[0]).startswith(f"{path}:4:9: ")
    with pytest.raises(ScenarioError, match="did you mean '421-at-greeting'"):
        fake.use("421-at-greetin")
    assert fake.scenario_name == "default"


def test_a_bad_dict_names_key_paths_on_both_transports(fake: Fake) -> None:
    # the YAML the remote client uploads is its own copy: a line:col in it would mislead
    with pytest.raises(ScenarioError) as caught:
        fake.use({"rules": [{"on": "rcpt", "rply": "452 x"}, {"on": "mail", "reply": "45 x"}]})
    first, second = str(caught.value).splitlines()
    assert first.startswith("rules[1]: unknown key 'rply'; did you mean 'reply'? (conditions: ")
    assert second.startswith("rules[2].reply: reply code must be three digits")
    assert second.endswith("got 45")
    assert fake.scenario_name == "default"


def test_wait_times_out(fake: Fake) -> None:
    deliver(fake)
    with pytest.raises(TimeoutError, match="2 message"):
        fake.wait_for_messages(2, timeout=0.2)


def test_reset_forgets(fake: Fake) -> None:
    deliver(fake)
    fake.wait_for_sessions(1, timeout=2)
    fake.reset()
    assert fake.messages == ()
    assert fake.sessions == ()
    assert fake.transcript() == "(no sessions)"


def test_starttls_verifies_the_certificate_with_the_fakes_ca(fake: Fake) -> None:
    fake.use("tls-required")
    context = fake.client_ssl_context()
    assert context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    with smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT) as client:
        client.ehlo("client.test")
        # a hostname check against fake.host (127.0.0.1): the certificate must name it
        client.starttls(context=context)
        client.ehlo("client.test")
        client.sendmail("a@x.test", ["b@y.test"], b"Subject: over tls\r\n\r\nhi\r\n")
    (session,) = fake.wait_for_sessions(1, timeout=2)
    assert session.tls
    assert fake.messages[0].subject == "over tls"
    pem = Path(fake.ca_file).read_text(encoding="ascii")
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    fake.assert_no_violations()


def test_a_client_that_does_not_trust_the_ca_fails_the_handshake(fake: Fake) -> None:
    fake.use("tls-required")
    with smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT) as client:
        client.ehlo("client.test")
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(context=ssl.create_default_context())  # the system CAs only
    (session,) = fake.wait_for_sessions(1, timeout=2)
    assert not session.tls
    assert fake.messages == ()


def test_auth_user_is_recorded(fake: Fake) -> None:
    fake.use("530-auth-required")
    with smtplib.SMTP(fake.host, fake.port, timeout=TIMEOUT) as client:
        client.login("alice", "secret")
        client.sendmail("a@x.test", ["b@y.test"], b"Subject: authed\r\n\r\nhi\r\n")
    (session,) = fake.wait_for_sessions(1, timeout=2)
    assert session.auth_user == "alice"
    assert not session.tls
    assert "authenticated as 'alice'" in fake.transcript()


# -- what only the remote client has ---------------------------------------------------------------


def test_remote_url_forms_and_errors(shared_sidecar: Sidecar) -> None:
    remote = RemoteSmtpFake(shared_sidecar.url + "/api/")
    assert remote.url == shared_sidecar.url
    assert remote.address == (shared_sidecar.smtp_host, shared_sidecar.smtp_port)
    assert remote.health()["status"] == "ready"
    assert "default" in {s["name"] for s in remote.scenarios()}
    with pytest.raises(ValueError, match="API URL"):
        RemoteSmtpFake("127.0.0.1:8025")
    with pytest.raises(TypeError, match="Scenario object"):
        remote.use(Server("default").scenario)


def test_remote_ca_is_downloaded_once(shared_sidecar: Sidecar) -> None:
    url = shared_sidecar.url
    remote = RemoteSmtpFake(url)
    remote.use("default")
    with pytest.raises(RemoteError, match=r"no server\.tls") as caught:
        _ = remote.ca_file
    assert (caught.value.status, caught.value.body["reason"]) == (404, "no-tls")
    try:
        remote.use("tls-required")
        path = remote.ca_file
        assert Path(path).read_text(encoding="ascii") == call(url, "GET", "/api/tls/ca").body
        remote.use("default")
        # the sidecar keeps its CA: the file stays valid and is not fetched again
        assert remote.ca_file == path
        remote.client_ssl_context()
    finally:
        remote.use("default")
    folder = Path(path).parent
    del remote, caught  # the error's traceback holds the client too
    gc.collect()
    assert not folder.exists(), "the temporary CA file outlived its client"


def test_remote_unreachable() -> None:
    remote = RemoteSmtpFake("http://127.0.0.1:9", timeout=2)
    with pytest.raises(RemoteError, match="cannot reach"):
        remote.reset()


def test_remote_with_token_and_a_wildcard_bind(sidecar_factory: Callable[..., Sidecar]) -> None:
    car = sidecar_factory(
        "--host", "0.0.0.0", "--port", "0", "--api-port", "0", env={"SMTPFAKE_API_TOKEN": "tok"}
    )
    with pytest.raises(RemoteError) as caught:
        RemoteSmtpFake(car.url).reset()
    assert caught.value.status == 401
    remote = RemoteSmtpFake(car.url, token="tok")
    # bound to all interfaces: mail goes to the host the API was reached at
    assert remote.host == "127.0.0.1"
    assert remote.port == car.smtp_port
    deliver(remote)
    assert remote.wait_for_messages(1, timeout=2)[0].subject == "parity"
    assert RemoteSmtpFake(car.url, token="tok", smtp_host="h", smtp_port=1).address == ("h", 1)


def test_events_from_the_remote_client(api: ApiServer) -> None:
    remote = RemoteSmtpFake(api.url)
    stream = remote.events(timeout=5)
    server = api.server
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.noop()
    seen = []
    for event in stream:
        seen.append(event["event"])
        if event["event"] == "closed":
            break
    stream.close()
    assert seen[0] == "connected" and seen[-1] == "closed"
    assert "command" in seen and "reply" in seen


def test_greylisting_in_milliseconds_over_http(api: ApiServer) -> None:
    """Parameters and the clock, through the sidecar: the README's greylisting test, remote."""
    remote = RemoteSmtpFake(api.url)
    server = api.server

    def try_rcpt() -> int:
        with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as smtp:
            smtp.ehlo()
            smtp.mail("app@example.test")
            return int(smtp.rcpt("user@example.test")[0])

    remote.use("greylisting", params={"delay": "5m"})
    assert remote.scenario()["params"][0]["value"] == 300
    assert try_rcpt() == 451
    before = remote.advance(0)
    assert remote.advance(299) == pytest.approx(before + 299, abs=1.0)
    assert try_rcpt() == 451  # too soon: still greylisted
    remote.advance(1)
    assert try_rcpt() == 250


def test_upload_with_parameters(api: ApiServer, tmp_path: Path) -> None:
    remote = RemoteSmtpFake(api.url)
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "summary: s\nexpect: e\nparams:\n  code: {type: int, default: 451}\n"
        "rules:\n  - {on: mail, reply: '${code} later'}\n"
    )
    remote.use(mine, params={"code": 452})
    with smtplib.SMTP(api.server.host, api.server.port, timeout=TIMEOUT) as smtp:
        smtp.ehlo()
        assert smtp.mail("a@x.test")[0] == 452
    with pytest.raises(ScenarioError):
        remote.use(mine, params={"code": "many"})
    with pytest.raises(ScenarioError):
        remote.use("greylisting", params={"nope": 1})


def test_a_read_waits_once_for_a_session_that_stays_open_on_both_transports(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[int] = []
    real = type(fake)._wait_ended

    def counting(self: Fake, keys: set[tuple[int, float, str]], limit: float) -> set[Any]:
        waits.append(len(keys))
        return real(self, keys, limit)

    monkeypatch.setattr(type(fake), "_wait_ended", counting)
    fake.settle_timeout = 0.05
    with socket.create_connection(fake.address, timeout=TIMEOUT) as sock:
        sock.recv(100)  # the greeting: the session has started
        assert fake.violations == ()
        assert fake.assert_delivered(0) == ()
        assert fake.transcript().count("220 ") == 1
        assert waits == [1]  # the first read waited it out; the others did not wait again
    assert fake.settle(timeout=TIMEOUT) is True
    assert [v.kind for v in fake.violations] == ["no-quit"]


def test_a_scenario_over_the_size_limit_is_a_scenario_error_both_ways(
    fake: Fake, tmp_path: Path
) -> None:
    """In-process a too-big file is a ScenarioError; through the sidecar its 413 was a
    RemoteError: the same exception, naming the limit, either way."""
    from smtpfake.scenario.limits import MAX_SCENARIO_BYTES

    big = tmp_path / "big.yaml"
    head = "summary: s\nexpect: e\n#"
    big.write_text(head + "x" * (MAX_SCENARIO_BYTES + 10 - len(head)) + "\n")
    with pytest.raises(ScenarioError) as info:
        fake.use(big)
    # told at the file, as in-process (a new-user pass: through the sidecar it lost big.yaml:)
    assert str(info.value).startswith(f"{big}: the scenario is 8,388,6"), str(info.value)
    assert "at most 8,388,608 bytes" in str(info.value)
    assert fake.scenario_name == "default"
