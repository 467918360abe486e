"""Rules: where they fire (stage, match), when (nth, connection, times) and what they do."""

from __future__ import annotations

from typing import Any

import pytest

from smtpfake.scenario.plan import Close, Reset, Send, Sleep

from ..support.engine import Driver, Engine, sent


def _rules(*rules: dict[str, Any], **server: Any) -> Engine:
    doc: dict[str, Any] = {"rules": list(rules)}
    if server:
        doc["server"] = server
    return Engine(doc)


# How to reach each stage from a fresh connection: (stage, the lines before, the line itself).
# None as the line means the greeting (connect).
STAGE_PATHS: dict[str, tuple[list[str], str | None]] = {
    "connect": ([], None),
    "helo": ([], "HELO c.test"),
    "ehlo": ([], "EHLO c.test"),
    "mail": (["EHLO c.test"], "MAIL FROM:<a@x.test>"),
    "rcpt": (["EHLO c.test", "MAIL FROM:<a@x.test>"], "RCPT TO:<b@x.test>"),
    "data": (["EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>"], "DATA"),
    "end_of_data": (
        ["EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "DATA", "hello"],
        ".",
    ),
    "bdat": (["EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>"], "BDAT 0 LAST"),
    "rset": (["EHLO c.test"], "RSET"),
    "noop": (["EHLO c.test"], "NOOP"),
    "vrfy": (["EHLO c.test"], "VRFY b@x.test"),
    "expn": (["EHLO c.test"], "EXPN list"),
    "help": (["EHLO c.test"], "HELP"),
    "quit": (["EHLO c.test"], "QUIT"),
    "starttls": (["EHLO c.test"], "STARTTLS"),
    "auth": (["EHLO c.test"], "AUTH PLAIN"),
    "unknown": (["EHLO c.test"], "FROB"),
}


def _reach(d: Driver, stage: str) -> tuple[Any, ...]:
    """Play up to the stage; return the actions for the stage's own event."""
    before, line = STAGE_PATHS[stage]
    if line is None:
        return d.connect()
    greeting = d.connect()
    assert sent(greeting).startswith(b"220 ")
    for prior in before:
        assert sent(d.send(prior))[:1] in (b"", b"2", b"3"), prior
    return d.send(line)


def test_every_stage_is_covered_here() -> None:
    from smtpfake.scenario import Stage

    assert set(STAGE_PATHS) == {s.value for s in Stage} - {"any"}


@pytest.mark.parametrize("stage", [*STAGE_PATHS, "any"])
def test_421_from_a_rule_is_followed_by_close(stage: str) -> None:
    engine = _rules({"on": stage, "reply": "421 4.3.2 Going down"})
    d = engine.open()
    target = "connect" if stage == "any" else stage
    actions = _reach(d, target)
    # RFC 5321 §3.8; the greeting never carries an enhanced code, but this one is the rule's text.
    assert actions == (Send(b"421 4.3.2 Going down\r\n"), Close())
    # Closed: whatever the client sends next is not answered.
    assert d.send("NOOP") == ()
    assert d.record.replies[-1] == "(connection closed)"


def test_421_with_close_closes_once() -> None:
    d = _rules({"on": "rcpt", "reply": "421 4.3.2 Bye", "close": True}).open()
    assert _reach(d, "rcpt") == (Send(b"421 4.3.2 Bye\r\n"), Close())


def test_421_with_delay_sleeps_sends_then_closes() -> None:
    d = _rules({"on": "mail", "reply": "421 4.3.2 Bye", "delay": 2.5}).open()
    assert _reach(d, "mail") == (Sleep(2.5), Send(b"421 4.3.2 Bye\r\n"), Close())


def test_421_multiline_is_followed_by_close() -> None:
    rule = {"on": "connect", "reply": {"code": 421, "text": ["busy", "come back later"]}}
    d = _rules(rule).open()
    assert d.connect() == (Send(b"421-busy\r\n421 come back later\r\n"), Close())


@pytest.mark.parametrize("stage", ["connect", "mail", "rcpt", "end_of_data", "quit"])
def test_disconnect_closes_without_a_reply(stage: str) -> None:
    d = _rules({"on": stage, "disconnect": True}).open()
    assert _reach(d, stage) == (Close(),)
    assert d.record.replies[-1] == "(connection closed)"
    assert d.send("NOOP") == ()


@pytest.mark.parametrize("stage", ["connect", "ehlo", "rcpt", "data"])
def test_reset_aborts_without_a_reply(stage: str) -> None:
    d = _rules({"on": stage, "reset": True}).open()
    assert _reach(d, stage) == (Reset(),)
    assert d.record.replies[-1] == "(connection reset)"


def test_delay_sleeps_before_the_normal_reply() -> None:
    d = _rules({"on": "rcpt", "delay": 1.5}).open()
    assert _reach(d, "rcpt") == (Sleep(1.5), Send(b"250 2.1.5 Ok\r\n"))


def test_delay_at_the_greeting() -> None:
    d = _rules({"on": "connect", "delay": 0.25}).open()
    assert d.connect() == (Sleep(0.25), Send(b"220 smtpfake.test ESMTP smtpfake\r\n"))


def test_delay_with_reply_sleeps_then_sends_the_rules_reply() -> None:
    d = _rules({"on": "ehlo", "delay": 3, "reply": "554 5.7.1 Go away"}).open()
    assert _reach(d, "ehlo") == (Sleep(3.0), Send(b"554 5.7.1 Go away\r\n"))


def _drawn_delays(seed: int) -> list[float]:
    engine = Engine(
        {"seed": seed, "rules": [{"on": "noop", "delay": {"min": 1.0, "max": 2.0}}]},
    )
    out = []
    for _ in range(3):
        d = engine.open()
        d.greet()
        for _ in range(3):
            (sleep, _reply) = d.send("NOOP")
            assert isinstance(sleep, Sleep)
            out.append(sleep.seconds)
    return out


def test_random_delay_is_reproducible_from_the_seed() -> None:
    first = _drawn_delays(7)
    assert all(1.0 <= s <= 2.0 for s in first)
    assert first == _drawn_delays(7)
    assert first != _drawn_delays(8)


def test_close_after_the_reply() -> None:
    d = _rules({"on": "mail", "reply": "550 5.7.1 No", "close": True}).open()
    assert _reach(d, "mail") == (Send(b"550 5.7.1 No\r\n"), Close())


def test_multiline_reply_from_a_rule() -> None:
    rule = {
        "on": "noop",
        "reply": {"code": 250, "text": ["one", "two", "three"], "enhanced": "2.0.0"},
    }
    d = _rules(rule).open()
    assert _reach(d, "noop") == (Send(b"250-2.0.0 one\r\n250-2.0.0 two\r\n250 2.0.0 three\r\n"),)


def test_rule_label_is_in_the_transcript() -> None:
    d = _rules({"on": "noop", "name": "slow noop", "reply": "250 2.0.0 fine"}).open()
    _reach(d, "noop")
    entry = d.record.transcript[-1]
    assert (entry.side, entry.text, entry.rule) == ("server", "250 2.0.0 fine", "slow noop")


# -- when: nth, connection, times, match --------------------------------------------------------


def test_nth_counts_occurrences_within_the_session() -> None:
    engine = _rules({"on": "rcpt", "nth": 2, "reply": "452 4.2.2 Mailbox full"})
    for _ in range(2):  # the count starts again on each connection
        d = engine.open()
        d.greet()
        assert d.code("MAIL FROM:<a@x.test>") == 250
        assert d.code("RCPT TO:<1@x.test>") == 250
        assert d.reply("RCPT TO:<2@x.test>") == b"452 4.2.2 Mailbox full\r\n"
        assert d.code("RCPT TO:<3@x.test>") == 250


def test_nth_list_skips_unlisted() -> None:
    d = _rules({"on": "noop", "nth": [2, 3], "reply": "250 2.0.0 ruled"}).open()
    d.greet()
    replies = [d.reply("NOOP") for _ in range(4)]
    assert replies == [
        b"250 2.0.0 Ok\r\n",
        b"250 2.0.0 ruled\r\n",
        b"250 2.0.0 ruled\r\n",
        b"250 2.0.0 Ok\r\n",
    ]


def test_connection_picks_the_nth_connection() -> None:
    engine = _rules({"on": "connect", "connection": [2, 4], "reply": "421 4.3.2 busy"})
    greetings = [sent(engine.open().connect())[:3] for _ in range(5)]
    assert greetings == [b"220", b"421", b"220", b"421", b"220"]


def test_times_counts_across_sessions_sharing_one_shared() -> None:
    engine = _rules({"on": "connect", "times": 2, "reply": "421 4.3.2 busy"})
    greetings = [sent(engine.open().connect())[:3] for _ in range(4)]
    assert greetings == [b"421", b"421", b"220", b"220"]
    # A new Shared (a reset or a new scenario) starts the count again.
    fresh = Engine(engine.scenario)
    assert sent(fresh.open().connect())[:3] == b"421"


def test_times_counts_firings_not_occurrences() -> None:
    # nth 2 with times 1: only the second RCPT of the first session that has one fires.
    engine = _rules({"on": "rcpt", "nth": 2, "times": 1, "reply": "451 4.3.0 later"})
    codes = []
    for _ in range(2):
        d = engine.open()
        d.greet()
        d.send("MAIL FROM:<a@x.test>")
        codes += [d.code("RCPT TO:<1@x.test>"), d.code("RCPT TO:<2@x.test>")]
    assert codes == [250, 451, 250, 250]


def test_times_counts_within_one_session_too() -> None:
    d = _rules({"on": "noop", "times": 2, "reply": "250 2.0.0 ruled"}).open()
    d.greet()
    assert [d.reply("NOOP") for _ in range(3)] == [
        b"250 2.0.0 ruled\r\n",
        b"250 2.0.0 ruled\r\n",
        b"250 2.0.0 Ok\r\n",
    ]


@pytest.mark.parametrize(
    ("address", "hit"),
    [
        ("bob@blocked.test", True),
        ("BOB@Blocked.TEST", True),  # addresses compare without case
        ("bob@sub.blocked.test", False),
        ("bob@blocked.test.example", False),
        ("blocked.test@ok.test", False),
    ],
)
def test_match_glob_on_the_recipient_address(address: str, hit: bool) -> None:
    rule = {"on": "rcpt", "match": "*@blocked.test", "reply": "550 5.1.1 No such user"}
    d = _rules(rule).open()
    d.greet()
    d.send("MAIL FROM:<a@x.test>")
    assert d.code(f"RCPT TO:<{address}>") == (550 if hit else 250)


def test_match_glob_on_the_sender_address_with_parameters() -> None:
    d = _rules({"on": "mail", "match": "spam?@*", "reply": "550 5.7.1 Rejected"}).open()
    d.greet()
    assert d.code("MAIL FROM:<spam1@x.test> SIZE=10 BODY=8BITMIME") == 550
    assert d.code("MAIL FROM:<spam12@x.test>") == 250


@pytest.mark.parametrize("verb", ["HELO", "EHLO"])
def test_match_glob_on_the_helo_domain(verb: str) -> None:
    rule = {"on": ["helo", "ehlo"], "match": "bad*.test", "reply": "550 5.7.1 Go away"}
    engine = _rules(rule)
    d = engine.open()
    d.connect()
    assert d.reply(f"{verb} badhost.test") == b"550 5.7.1 Go away\r\n"
    assert d.code(f"{verb} goodhost.test") == 250


def test_first_matching_rule_wins() -> None:
    engine = _rules(
        {"on": "rcpt", "match": "vip@*", "reply": "250 2.1.5 VIP"},
        {"on": "rcpt", "reply": "450 4.2.0 Try later"},
    )
    d = engine.open()
    d.greet()
    d.send("MAIL FROM:<a@x.test>")
    assert d.reply("RCPT TO:<vip@x.test>") == b"250 2.1.5 VIP\r\n"
    assert d.reply("RCPT TO:<other@x.test>") == b"450 4.2.0 Try later\r\n"


def test_any_matches_every_stage() -> None:
    d = _rules({"on": "any", "delay": 1}).open()
    assert isinstance(d.connect()[0], Sleep)
    assert isinstance(d.send("EHLO c.test")[0], Sleep)
    assert isinstance(d.send("FROB")[0], Sleep)


# -- a refusing rule does not change the state ------------------------------------------------


def test_rule_rejecting_mail_leaves_state_unchanged() -> None:
    d = _rules({"on": "mail", "nth": 1, "reply": "550 5.7.1 Not you"}).open()
    d.greet()
    assert d.code("MAIL FROM:<a@x.test>") == 550
    assert d.reply("RCPT TO:<b@x.test>") == b"503 5.5.1 Error: need MAIL command\r\n"
    assert d.violations[-1].kind == "bad-sequence"
    assert d.code("MAIL FROM:<a@x.test>") == 250
    assert d.code("RCPT TO:<b@x.test>") == 250


def test_rule_rejecting_the_only_rcpt_makes_data_503() -> None:
    d = _rules({"on": "rcpt", "reply": "450 4.2.0 Busy"}).open()
    d.greet()
    d.send("MAIL FROM:<a@x.test>")
    assert d.code("RCPT TO:<b@x.test>") == 450
    assert d.reply("DATA") == b"503 5.5.1 Error: need RCPT command\r\n"


def test_rule_rejecting_data_keeps_command_mode() -> None:
    d = _rules({"on": "data", "reply": "451 4.3.0 Not now"}).open()
    d.greet()
    d.send("MAIL FROM:<a@x.test>")
    d.send("RCPT TO:<b@x.test>")
    assert d.code("DATA") == 451
    # Not in the body: NOOP is a command and gets its reply.
    assert d.code("NOOP") == 250


def test_rule_rejecting_end_of_data_records_no_message() -> None:
    engine = _rules({"on": "end_of_data", "nth": 1, "reply": "554 5.6.0 Rejected"})
    d = engine.open()
    d.greet()
    assert d.transaction("a@x.test", "b@x.test") == b"554 5.6.0 Rejected\r\n"
    assert engine.journal.messages() == ()
    assert d.transaction("a@x.test", "b@x.test").startswith(b"250 2.0.0 Ok")
    assert len(engine.journal.messages()) == 1


def test_rule_rejecting_helo_leaves_client_unannounced() -> None:
    d = _rules({"on": "ehlo", "nth": 1, "reply": "554 5.7.1 No"}, require_helo=True).open()
    d.connect()
    assert d.code("EHLO c.test") == 554
    assert d.code("MAIL FROM:<a@x.test>") == 503
    assert d.code("EHLO c.test") == 250
    assert d.code("MAIL FROM:<a@x.test>") == 250


def test_times_holds_across_interleaved_sessions() -> None:
    engine = _rules({"on": "rcpt", "times": 1, "reply": "451 4.3.0 once"})
    first, second = engine.open(), engine.open()
    for d in (first, second):
        d.greet()
        d.send("MAIL FROM:<a@x.test>")
    assert second.code("RCPT TO:<b@x.test>") == 451
    assert first.code("RCPT TO:<b@x.test>") == 250
    assert second.code("RCPT TO:<c@x.test>") == 250
    assert (first.session.index, second.session.index) == (1, 2)
