"""Per-connection facts (greeted, tls, authenticated, message, size, body) and state scoped to a
``per`` key: in the engine, at load time, and on the wire with parallel real clients."""

from __future__ import annotations

import base64
import smtplib
from typing import Any

import pytest

from smtpfake.scenario import ScenarioError, load_mapping, load_text
from smtpfake.server import Server

from ..support.engine import Engine


def engine(*rules: dict[str, Any], **server: Any) -> Engine:
    return Engine(load_mapping({"server": server, "rules": list(rules)}))


def plain(user: str, password: str) -> str:
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


# -- greeted ---------------------------------------------------------------------------------------


def test_503_after_helo_is_per_connection() -> None:
    fake = Engine("503-after-helo")
    helo = fake.connect()
    assert helo.cmd("HELO client.test") == 250
    ehlo = fake.connect()
    assert ehlo.ehlo() == 250
    assert helo.reply("MAIL FROM:<a@x.test>") == b"503 5.5.1 Error: send EHLO first\r\n"
    assert ehlo.mail() == 250  # the other connection's HELO does not count here
    silent = fake.connect()
    assert silent.mail() == 250  # greeted: none is not helo
    assert helo.ehlo() == 250
    assert helo.mail() == 250  # a later EHLO on the same connection


def test_greeted_list_and_none() -> None:
    fake = engine({"on": "mail", "greeted": ["none", "helo"], "reply": "530 5.7.0 say EHLO"})
    c = fake.connect()
    assert c.mail() == 530
    assert c.cmd("HELO x") == 250 and c.mail() == 530
    assert c.ehlo() == 250 and c.mail() == 250


def test_starttls_starts_the_greeting_over() -> None:
    fake = engine({"on": "mail", "greeted": "none", "reply": "503 5.5.1 EHLO first"}, tls=True)
    c = fake.connect()
    assert c.ehlo() == 250
    c.secure()
    assert c.mail() == 503  # RFC 3207 §4.2: nothing learnt before TLS is kept


# -- tls, authenticated ----------------------------------------------------------------------------


def test_tls_fact() -> None:
    fake = engine({"on": "mail", "tls": False, "reply": "530 5.7.0 TLS first"}, tls=True)
    c = fake.connect()
    assert c.ehlo() == 250 and c.mail() == 530
    c.secure()
    assert c.ehlo() == 250 and c.mail() == 250


@pytest.mark.parametrize(
    ("wanted", "user", "code"),
    [(True, "alice", 550), (True, None, 250), (False, None, 550), ("b*", "bob", 550)],
)
def test_authenticated_fact(wanted: Any, user: str | None, code: int) -> None:
    fake = engine(
        {"on": "mail", "authenticated": wanted, "reply": "550 5.7.1 not you"},
        auth={"users": {"alice": "a", "bob": "b"}},
    )
    c = fake.connect()
    assert c.ehlo() == 250
    if user is not None:
        assert c.cmd(f"AUTH PLAIN {plain(user, user[0])}") == 235
    assert c.mail() == code


# -- message, size, body ---------------------------------------------------------------------------


def test_message_index_counts_transactions_begun_in_the_session() -> None:
    fake = engine({"on": ["mail", "end_of_data"], "message": 2, "reply": "451 4.3.0 second"})
    c = fake.connect()
    c.ehlo()
    assert c.deliver() == (250, 250, 354, 250)
    assert c.mail() == 451  # the MAIL that would begin message 2
    assert c.deliver()[0] == 451  # a refused MAIL began nothing: still message 2
    other = fake.connect()
    other.ehlo()
    assert other.deliver() == (250, 250, 354, 250)  # each session counts its own


def test_message_index_at_end_of_data() -> None:
    fake = engine({"on": "end_of_data", "message": [2, 3], "reply": "452 4.3.1 full"})
    c = fake.connect()
    c.ehlo()
    assert [c.deliver()[-1] for _ in range(4)] == [250, 452, 452, 250]


@pytest.mark.parametrize(
    ("size", "line", "code"),
    [
        ({"min": 1000}, "MAIL FROM:<a@x.test> SIZE=1000", 552),
        ({"min": 1000}, "MAIL FROM:<a@x.test> SIZE=999", 250),
        ({"min": 1000}, "MAIL FROM:<a@x.test>", 250),
        ({"max": 10}, "MAIL FROM:<a@x.test> SIZE=10", 552),
        ("none", "MAIL FROM:<a@x.test>", 552),
        ("none", "MAIL FROM:<a@x.test> SIZE=5", 250),
    ],
)
def test_declared_size(size: Any, line: str, code: int) -> None:
    fake = engine({"on": "mail", "size": size, "reply": "552 5.3.4 too big"})
    c = fake.connect()
    c.ehlo()
    assert c.cmd(line) == code


def test_declared_size_is_known_on_rcpt_and_forgotten_by_the_next_mail() -> None:
    fake = engine({"on": "rcpt", "size": {"min": 100}, "reply": "452 4.2.2 over quota"})
    c = fake.connect()
    c.ehlo()
    assert c.cmd("MAIL FROM:<a@x.test> SIZE=500") == 250
    assert c.rcpt() == 452
    assert c.cmd("RSET") == 250
    assert c.cmd("MAIL FROM:<a@x.test>") == 250
    assert c.rcpt() == 250


@pytest.mark.parametrize(
    ("body", "params", "code"),
    [
        ("8bitmime", "BODY=8BITMIME", 554),
        ("8bitmime", "BODY=7BIT", 250),
        (["7bit", "none"], "", 554),
        ("none", "BODY=8bitmime", 250),
    ],
)
def test_declared_body(body: Any, params: str, code: int) -> None:
    fake = engine({"on": "mail", "body": body, "reply": "554 5.6.1 no 8-bit here"})
    c = fake.connect()
    c.ehlo()
    assert c.cmd(f"MAIL FROM:<a@x.test> {params}".strip()) == code


# -- state kept per key ----------------------------------------------------------------------------


def test_state_per_connection() -> None:
    fake = engine(
        {"on": "helo", "per": "connection", "next_state": "old-client"},
        {"on": "mail", "per": "connection", "state": "old-client", "reply": "503 5.5.1 no"},
    )
    helo, ehlo = fake.connect(), fake.connect()
    assert helo.cmd("HELO x") == 250
    assert ehlo.ehlo() == 250
    assert helo.mail() == 503
    assert ehlo.mail() == 250  # its own state is still 'started'
    assert fake.shared.state == "started"  # the server-wide state never moved


def test_state_per_client_spans_its_connections() -> None:
    fake = engine(
        {
            "on": "rcpt",
            "per": "client",
            "state": "started",
            "next_state": "seen",
            "reply": "451 4.7.1 come back",
        },
    )
    first = fake.connect("192.0.2.1:1000")
    first.ehlo()
    assert first.deliver() == (250, 451)
    again = fake.connect("192.0.2.1:2000")
    again.ehlo()
    assert again.deliver() == (250, 250, 354, 250)
    other = fake.connect("192.0.2.2:1000")
    other.ehlo()
    assert other.deliver() == (250, 451)


# -- load-time problems ----------------------------------------------------------------------------


def problems(rules: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_text(f"summary: s\nexpect: e\nrules:\n{rules}", source="t.yaml")
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            "  - {on: mail, greeted: hello, close: true}",
            "t.yaml:4:25: rules[1].greeted: unknown "
            "value 'hello'; did you mean 'helo'? (allowed: helo, ehlo, none)",
        ),
        (
            "  - {on: mail, tls: maybe, close: true}",
            "t.yaml:4:21: rules[1].tls: expected true or false, got str 'maybe'",
        ),
        (
            "  - {on: helo, message: 1, close: true}",
            "t.yaml:4:25: rules[1].message: there is no mail transaction on helo",
        ),
        (
            "  - {on: mail, size: 100, close: true}",
            "t.yaml:4:22: rules[1].size: expected none "
            "(no SIZE= declared) or {min: N, max: N} octets",
        ),
        (
            "  - {on: mail, size: {min: 5, max: 1}, close: true}",
            "t.yaml:4:22: rules[1].size: min 5 is more than max 1",
        ),
        ("  - {on: mail, size: {}, close: true}", "t.yaml:4:22: rules[1].size: give min, max"),
        (
            "  - {on: mail, body: 8bit, close: true}",
            "t.yaml:4:22: rules[1].body: unknown value '8bit'",
        ),
        (
            "  - {on: mail, authenticated: [a], close: true}",
            "t.yaml:4:31: rules[1].authenticated: expected a single value",
        ),
    ],
)
def test_bad_facts(rule: str, expected: str) -> None:
    found = problems(rule)
    assert any(p.startswith(expected) for p in found), found


def test_a_state_under_per_must_be_entered_under_the_same_per() -> None:
    found = problems(
        "  - {on: helo, next_state: old}\n"
        "  - {on: mail, per: connection, state: old, close: true}\n"
    )
    assert found == [
        "t.yaml:5:5: rules[2].state: 'old' is never entered for connection: the rules with "
        "next_state: old keep it for the server (give them the same per:)"
    ]


def test_per_with_only_a_state_is_fine() -> None:
    sc = load_text(
        "summary: s\nexpect: e\nrules:\n"
        "  - {on: helo, per: connection, next_state: old}\n"
        "  - {on: mail, per: connection, state: old, close: true}\n"
    )
    assert [r.per for r in sc.rules] == [("connection",), ("connection",)]


# -- on the wire -----------------------------------------------------------------------------------


def test_503_after_helo_with_parallel_real_clients() -> None:
    with Server("503-after-helo") as server:
        old = smtplib.SMTP(server.host, server.port, timeout=5)
        new = smtplib.SMTP(server.host, server.port, timeout=5)
        try:
            assert old.helo("old.test")[0] == 250
            assert new.ehlo("new.test")[0] == 250
            assert old.mail("a@x.test") == (503, b"5.5.1 Error: send EHLO first")
            assert new.sendmail("a@x.test", ["b@y.test"], b"Subject: x\r\n\r\nx\r\n") == {}
        finally:
            old.quit()
            new.quit()
        assert len(server.messages) == 1


def test_every_filter_field_has_its_check_in_order() -> None:
    from smtpfake.engine.matching import FILTERS
    from smtpfake.scenario.model import FILTER_FIELDS

    assert tuple(FILTERS) == FILTER_FIELDS


def test_a_connections_state_and_counters_are_forgotten_when_it_ends() -> None:
    fake = engine(
        {"on": "helo", "per": "connection", "next_state": "old-client"},
        {"on": "mail", "per": "connection", "after": 1, "reply": "421 4.7.0 one per connection"},
    )
    c = fake.connect()
    assert c.cmd("HELO x") == 250
    assert c.deliver() == (250, 250, 354, 250)
    assert fake.shared.states and fake.shared.counters
    c.quit()
    assert fake.shared.states == {}
    assert (2, ("1",)) not in fake.shared.counters


def test_tls_and_authenticated_facts_with_smtplib() -> None:
    rules = [
        {"on": "mail", "tls": False, "reply": "530 5.7.0 Must issue a STARTTLS command first"},
        {"on": "mail", "authenticated": "bot-*", "reply": "550 5.7.1 bots may not send"},
    ]
    server_settings = {"tls": True, "auth": {"users": {"alice": "a", "bot-1": "b"}}}
    with Server({"server": server_settings, "rules": rules}) as server:
        for user, password, code in (("alice", "a", 250), ("bot-1", "b", 550)):
            with smtplib.SMTP(server.host, server.port, timeout=5) as client:
                client.ehlo()
                assert client.mail("a@x.test")[0] == 530
                client.rset()
                client.starttls(context=server.tls_client_context())
                client.ehlo()
                client.login(user, password)
                assert client.mail("a@x.test")[0] == code
