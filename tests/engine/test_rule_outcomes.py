"""Rules explain themselves: which rule fired on each command, how often per session, and why
the others on that stage did not (near misses), in the journal, its JSON and the failure report."""

from __future__ import annotations

import smtplib

import pytest

from smtpfake.engine import ManualClock
from smtpfake.scenario import load_mapping, resolve
from smtpfake.serialize import session_from_json, session_to_json
from smtpfake.server import Server

from ..support.engine import Engine

pytest_plugins = ["pytester"]


def test_near_misses_say_what_was_wanted_and_found() -> None:
    fake = Engine(
        load_mapping(
            {
                "rules": [
                    {"name": "second mail", "on": "mail", "nth": 2, "reply": "451 4.3.0 x"},
                    {"name": "after grey", "on": "mail", "state": "greylisted", "close": True},
                    {"on": "helo", "next_state": "greylisted"},
                    {"name": "big", "on": "mail", "size": {"min": 100}, "reply": "552 5.3.4 b"},
                ]
            }
        )
    )
    c = fake.connect()
    c.ehlo()
    assert c.mail() == 250
    record = c.record
    assert record.near_misses == (
        "MAIL a@x.test: second mail: nth: wanted 2, was 1",
        "MAIL a@x.test: after grey: state: wanted greylisted, was started",
        "MAIL a@x.test: big: size: wanted 100.., was none",
    )
    assert record.rule_hits == {}
    (outcome,) = record.outcomes
    assert (outcome.stage, outcome.fired) == ("mail", None)


def test_within_and_hit_counts_for_greylisting() -> None:
    fake = Engine("greylisting")
    c = fake.connect()
    c.ehlo()
    assert c.deliver() == (250, 451)
    fake.advance(312)
    assert c.deliver() == (250, 250, 354, 250)
    record = c.record
    assert record.rule_hits == {"greylisted": 1}
    assert record.near_misses == ("RCPT b@y.test: greylisted: within 300 s: 312 s elapsed",)
    assert [o.fired for o in record.outcomes] == ["greylisted", None]


def test_counters_times_and_probability_explain_themselves() -> None:
    fake = Engine(
        load_mapping(
            {
                "rules": [
                    {"on": "noop", "after": 2, "reply": "250 2.0.0 after"},
                    {"on": "noop", "times": 1, "reply": "250 2.0.0 once"},
                    {"on": "noop", "probability": 0, "reply": "250 2.0.0 never"},
                ]
            }
        )
    )
    c = fake.connect()
    for _ in range(3):
        c.cmd("NOOP")
    record = c.record
    assert record.rule_hits == {"rule 2 (on noop)": 1, "rule 1 (on noop)": 1}
    assert record.near_misses[:2] == (
        "NOOP: rule 1 (on noop): after: wanted more than 2, was 1",
        "NOOP: rule 1 (on noop): after: wanted more than 2, was 2",
    )
    assert record.near_misses[2].startswith(
        "NOOP: rule 2 (on noop): times: wanted fewer than 1 firings, was 1"
    )
    assert "rule 3 (on noop): probability: wanted a draw below 0, was 0." in record.near_misses[3]


def test_stages_without_rules_record_nothing() -> None:
    fake = Engine("default")
    c = fake.connect()
    c.ehlo()
    c.deliver()
    assert c.record.outcomes == ()
    assert "rules fired" not in c.record.format()


def test_the_journal_json_round_trips_and_format_lists_them() -> None:
    fake = Engine("greylisting")
    c = fake.connect()
    c.ehlo()
    c.deliver()
    record = c.record
    data = session_to_json(record)
    assert data["rule_hits"] == {"greylisted": 1}
    again = session_from_json(data)
    assert again.format() == record.format()
    assert again.near_misses == record.near_misses and again.rule_hits == record.rule_hits
    text = record.format()
    assert "  rules fired: greylisted x1" in text


def test_near_misses_on_the_wire_and_in_the_failure_report(pytester: pytest.Pytester) -> None:
    with Server(resolve("rate-limit", params={"per_connection": 1}), clock=ManualClock()) as srv:
        with smtplib.SMTP(srv.host, srv.port, timeout=5) as client:
            assert client.sendmail("a@x.test", ["b@y.test"], b"Subject: x\r\n\r\nx\r\n") == {}
            with pytest.raises(smtplib.SMTPSenderRefused):
                client.sendmail("a@x.test", ["b@y.test"], b"x\r\n")
        (record,) = srv.journal.wait(lambda j: [s for s in j.sessions() if s.ended is not None], 5)
        assert record.rule_hits == {"per-connection limit": 1}
        assert record.near_misses[0] == (
            "MAIL a@x.test: per-connection limit: after: wanted more than 1, was 1"
        )
    pytester.makepyfile(
        """
        import smtplib
        import pytest

        @pytest.mark.smtpfake("greylisting")
        def test_fails(smtpfake):
            with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
                c.ehlo()
                c.mail("a@x.test")
                c.rcpt("b@y.test")
                smtpfake.advance(400)
                c.rcpt("b@y.test")
            smtpfake.wait_for_sessions(1)
            assert False
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*rules fired: greylisted x1*",
            "*? RCPT b@y.test: greylisted: within 300 s: 400* s elapsed*",  # and real ms
        ]
    )


def test_format_lists_the_first_near_misses_only() -> None:
    fake = Engine(load_mapping({"rules": [{"on": "noop", "nth": 99, "close": True}]}))
    c = fake.connect()
    for _ in range(25):
        c.cmd("NOOP")
    text = c.record.format()
    assert text.count("? NOOP: rule 1 (on noop): nth: wanted 99") == 20
    assert text.endswith("  ? ... and 5 more (session.near_misses)")
    assert len(c.record.near_misses) == 25


def test_server_wide_hits() -> None:
    with Server("503-after-helo") as server:
        for hello in ("HELO", "EHLO", "HELO"):
            with smtplib.SMTP(server.host, server.port, timeout=5) as client:
                client.docmd(hello, "client.test")
                client.mail("a@x.test")
        server.journal.wait(lambda j: sum(s.ended is not None for s in j.sessions()) == 3, 5)
        assert server.rule_hits == {"helo is not enough": 2}
        assert [s.rule_hits for s in server.sessions] == [
            {"helo is not enough": 1},
            {},
            {"helo is not enough": 1},
        ]
        server.reset()
        assert server.rule_hits == {}


def test_a_match_is_judged_alike_when_remembered_and_after_the_memo_is_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from smtpfake.engine import matching

    monkeypatch.setattr(matching, "MATCH_MEMO", 2)  # full after two addresses: cleared often
    fake = Engine(
        load_mapping(
            {
                "rules": [
                    {"name": "busy", "on": "rcpt", "match": "*@busy.test", "reply": "450 4.2.1 b"}
                ]
            }
        )
    )
    c = fake.connect()
    assert c.cmd("EHLO client.test") == 250
    assert c.cmd("MAIL FROM:<a@x.test>") == 250
    addresses = ["a@busy.test", "b@free.test", "a@busy.test", "c@free.test", "B@BUSY.TEST"]
    addresses += ["b@free.test", "a@busy.test"]
    codes = [c.cmd(f"RCPT TO:<{address}>") for address in addresses]
    assert codes == [450, 250, 450, 250, 450, 250, 450]
    record = fake.journal.sessions()[0]
    assert record.rule_hits == {"busy": 4}
    assert record.near_misses == (
        "RCPT b@free.test: busy: match: wanted *@busy.test, was b@free.test",
        "RCPT c@free.test: busy: match: wanted *@busy.test, was c@free.test",
        "RCPT b@free.test: busy: match: wanted *@busy.test, was b@free.test",
    )
