"""The engine's side of the asynchronous 421 (timers) and of cutting the message body: events in,
actions out, with a fake clock (no sockets, no sleeps)."""

from __future__ import annotations

import pytest

from smtpfake.engine.session import CLOSE_AFTER_TIMER, IDLE_TIMER
from smtpfake.scenario import ScenarioError, load_text, resolve
from smtpfake.scenario.faults.body import CutBody
from smtpfake.scenario.plan import Close, Reset, Send

from ..support import scenario
from ..support.engine import MAIL, Engine

# -- timers --------------------------------------------------------------------------------------


def test_idle_timeout_sends_421_and_closes() -> None:
    c = Engine(scenario(idle_timeout=0.2)).open()
    c.greet()
    assert c.event(c.session.timer_fired(IDLE_TIMER)) == (
        Send(b"421 4.4.2 smtpfake.test Error: timeout exceeded\r\n"),
        Close(),
    )
    c.session.disconnected()
    assert c.kinds() == []  # the server hung up: no no-quit
    last = c.record.transcript[-2:]
    assert [e.text for e in last] == [
        "421 4.4.2 smtpfake.test Error: timeout exceeded",
        "(connection closed)",
    ]
    assert {e.rule for e in last} == {"server.idle"}
    assert c.event(c.session.timer_fired(IDLE_TIMER)) == ()  # already closed
    assert c.reply("NOOP") == b""


def test_without_idle_timeout_the_idle_close_is_silent() -> None:
    c = Engine().open()
    c.greet()
    assert c.event(c.session.timed_out()) == (Close(),)
    assert c.record.transcript[-1].text == "(connection closed: idle timeout)"


def test_close_after_sends_421_whatever_the_client_is_doing() -> None:
    c = Engine(scenario(close_after=5)).open()
    c.greet()
    c.reply("MAIL FROM:<a@x.test>")
    assert c.event(c.session.timer_fired(CLOSE_AFTER_TIMER)) == (
        Send(b"421 4.3.2 smtpfake.test Service not available, closing transmission channel\r\n"),
        Close(),
    )
    assert c.record.transcript[-1].rule == "server.close_after"


def test_a_timer_in_the_middle_of_the_data_delivers_nothing() -> None:
    c = Engine(scenario(close_after=5)).open()
    c.greet()
    c.reply("MAIL FROM:<a@x.test>")
    c.reply("RCPT TO:<b@x.test>")
    c.reply("DATA")
    c.reply(b"Subject: half\r\n")
    (bye, _) = c.event(c.session.timer_fired(CLOSE_AFTER_TIMER))
    assert isinstance(bye, Send) and bye.data.startswith(b"421 4.3.2 ")
    assert c.reply(".") == b""
    assert c.engine.journal.messages() == ()
    assert "(message data, 15 bytes, unfinished)" in c.record.commands


def test_without_enhanced_codes_the_421_has_none() -> None:
    c = Engine(scenario(idle_timeout=1, extensions=["PIPELINING"])).open()
    c.greet()
    assert c.event(c.session.timer_fired(IDLE_TIMER))[0] == Send(
        b"421 smtpfake.test Error: timeout exceeded\r\n"
    )


def test_an_unknown_timer_is_a_bug() -> None:
    c = Engine().open()
    with pytest.raises(ValueError, match="unknown timer"):
        c.session.timer_fired("nap")


def test_a_timer_421_asks_for_the_retry_wait() -> None:
    engine = Engine(scenario(idle_timeout=1, retry_after=30))
    first = engine.open()
    first.greet()
    first.session.timer_fired(IDLE_TIMER)
    engine.clock.advance(1)
    second = engine.open()
    second.greet()
    assert second.kinds() == ["retry-too-soon"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("idle_timeout: 0", "server.idle_timeout: must be more than 0 seconds, got 0"),
        ("close_after: -1", "server.close_after: must be more than 0 seconds, got -1"),
        (
            "retry_after: soon",
            "server.retry_after: expected a number of seconds or a duration (250ms, 30s, 5m, "
            "1h), got str 'soon'",
        ),
    ],
)
def test_timer_settings_are_checked(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as error:
        load_text(f"summary: s\nexpect: e\nserver:\n  {text}\n")
    assert message in str(error.value)


def test_timer_settings_load() -> None:
    loaded = load_text(
        "summary: s\nexpect: e\nserver:\n  idle_timeout: 1\n  close_after: 2.5\n"
        "  retry_after: null\n"
    )
    assert (loaded.server.idle_timeout, loaded.server.close_after) == (1.0, 2.5)
    assert loaded.server.retry_after is None


# -- cutting the body ------------------------------------------------------------------------------

CUT = scenario({"on": "data", "cut_body": 20})


def test_the_cut_comes_once_the_body_reaches_after_bytes() -> None:
    c = Engine(CUT).open()
    c.greet()
    c.reply("MAIL FROM:<a@x.test>")
    c.reply("RCPT TO:<b@x.test>")
    assert c.reply("DATA")[:3] == b"354"
    s = c.session
    assert c.send(b"Subject: 123456\r\n") == ()  # 17 octets
    assert c.send(b"\r\n") == ()  # 19
    assert c.send(b"x\r\n") == (Reset(),)  # 22: past 20
    texts = [(e.text, e.rule) for e in c.record.transcript[-2:]]
    assert texts == [
        ("(message data, 22 bytes so far)", None),
        ("(connection reset)", "rule 1 (on data)"),
    ]
    assert s.receive(b".\r\n") == ()  # the session is over
    assert c.engine.journal.messages() == ()
    s.disconnected()
    # the "." above ends the text after the close, not judged; no no-quit: the server cut it
    assert c.kinds() == []


def test_a_shorter_message_is_not_cut() -> None:
    c = Engine(scenario({"on": "data", "cut_body": 1000})).open()
    c.greet()
    assert c.transaction(body=MAIL)[:3] == b"250"
    assert len(c.engine.journal.messages()) == 1
    assert c.transaction(body=MAIL)[:3] == b"250"  # the cut is armed per DATA, and never fired here


def test_the_cut_can_close_instead() -> None:
    c = Engine(scenario({"on": "data", "cut_body": {"after_bytes": 1, "how": "close"}})).open()
    c.greet()
    c.reply("MAIL FROM:<a@x.test>")
    c.reply("RCPT TO:<b@x.test>")
    c.reply("DATA")
    assert c.send(b"x\r\n") == (Close(),)
    assert c.record.transcript[-1].text == "(connection closed)"


def test_a_refused_data_arms_no_cut() -> None:
    c = Engine(scenario({"on": "data", "cut_body": 1})).open()
    c.greet()
    assert c.reply("DATA")[:3] == b"503"
    c.reply("MAIL FROM:<a@x.test>")
    c.reply("RCPT TO:<b@x.test>")
    c.reply("DATA")
    assert c.session.receive(b"x\r\n") == (Reset(),)


def test_the_cut_fires_on_the_connection_the_rule_names() -> None:
    engine = Engine("reset-mid-data")
    body = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 2 + b"y\r\n"  # 1016, 2016, ...
    first = engine.open()
    first.greet()
    first.reply("MAIL FROM:<a@x.test>")
    first.reply("RCPT TO:<b@x.test>")
    first.reply("DATA")
    replies = [first.session.receive(line) for line in body.splitlines(keepends=True)]
    assert replies[-2:] == [(Reset(),), ()]
    second = engine.open()
    second.greet()
    assert second.transaction(body=body)[:3] == b"250"
    assert len(engine.journal.messages()) == 1


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{on: data, cut_body: 0}", "after_bytes must be at least 1, got 0"),
        ("{on: data, cut_body: {after_bytes: 5, how: fin}}", "how must be one of: reset, close"),
        ("{on: rcpt, cut_body: 5}", "rules[1].cut_body: works only on bdat, data, not on rcpt"),
        ("{on: [data, mail], cut_body: 5}", "works only on bdat, data, not on mail"),
    ],
)
def test_cut_body_is_checked(rule: str, message: str) -> None:
    with pytest.raises(ScenarioError) as error:
        load_text(f"summary: s\nexpect: e\nrules:\n  - {rule}\n")
    assert message in str(error.value)


def test_the_built_in_scenarios_say_what_they_do() -> None:
    cut = resolve("reset-mid-data")
    (rule,) = cut.rules
    assert rule.faults == (CutBody(1024, "reset"),)
    assert rule.connection == (1,)
    assert "retry" in cut.expect
    idle = resolve("421-idle-timeout")
    assert idle.server.idle_timeout == 2.0
    assert "421" in idle.expect
