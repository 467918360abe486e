"""A rule that does not fire changes nothing a client sees: a session on a stage with rules sends
a reply no rule changed without making a Plan (Session.decide), and the journal keeps each rule
outcome's fields until one is read (Journal.quick_outcome); a journal that does more in
``outcome()`` still gets every Outcome."""

from __future__ import annotations

from smtpfake.engine import Session
from smtpfake.engine.records import Outcome, SessionInfo
from smtpfake.engine.state import Mode
from smtpfake.journal import Journal
from smtpfake.scenario import load_mapping
from smtpfake.scenario.plan import Action

from ..support.engine import MAIL, PEER, Engine

#: every kind of reply the default scenario gives: 2xx, 3xx, 4xx (too many recipients), 5xx
TRAFFIC = (
    b"EHLO client.test\r\n",
    b"MAIL FROM:<a@x.test>\r\n",
    b"RCPT TO:<b@y.test>\r\n",
    b"RCPT TO:<c@y.test>\r\n",  # 452: over max_recipients (RFC 5321 §4.5.3.1.10)
    b"RCPT TO:<nonsense\r\n",  # 501
    b"VRFY x\r\n",
    b"BOGUS\r\n",  # 500
    b"DATA\r\n",
    *(line + b"\n" for line in MAIL.split(b"\n")[:-1]),
    b".\r\n",
    b"RSET\r\n",
    b"MAIL FROM:<a@x.test> SIZE=10\r\n",
    b"QUIT\r\n",
)
SERVER = {"max_recipients": 1, "retry_after": 60}  # a 4xx also holds the client off


def run(engine: Engine) -> tuple[list[tuple[Action, ...]], Session]:
    driver = engine.connect()
    return [driver.send(line) for line in TRAFFIC], driver.session


def test_a_rule_on_every_stage_that_never_fires_changes_no_reply() -> None:
    plain = Engine(load_mapping({"server": SERVER}))
    ruled = Engine(
        load_mapping({"server": SERVER, "rules": [{"on": "any", "match": "*@never", "reply": 550}]})
    )
    expected, without = run(plain)
    got, with_rule = run(ruled)
    assert got == expected
    assert b"452" in b"".join(a.data for a in expected[3] if hasattr(a, "data"))
    assert (with_rule.transactions, with_rule.mode) == (without.transactions, without.mode)
    assert without.transactions == 2 and without.mode is Mode.CLOSED
    assert ruled.shared.retry_not_before == plain.shared.retry_not_before != {}  # from the 452
    (record,) = ruled.journal.sessions()
    assert [e.text for e in record.transcript] == [
        e.text for e in plain.journal.sessions()[0].transcript
    ]
    assert all(isinstance(o, Outcome) and o.fired is None for o in record.outcomes)
    assert [o.stage for o in record.outcomes[:3]] == ["connect", "ehlo", "mail"]
    assert (
        record.near_misses[2]
        == "MAIL a@x.test: rule 1 (on any): match: wanted *@never, was a@x.test"
    )


class Counting(Journal):
    """A journal that does more with each outcome, as a log would."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Outcome] = []

    def outcome(self, info: SessionInfo, outcome: Outcome) -> None:
        self.seen.append(outcome)
        super().outcome(info, outcome)


def test_a_journal_that_overrides_outcome_is_given_every_outcome() -> None:
    engine = Engine(load_mapping({"rules": [{"on": "rcpt", "match": "*@gone.test", "reply": 550}]}))
    engine.journal = journal = Counting()
    assert journal.quick_outcome is None and Journal().quick_outcome is not None
    driver = engine.connect(PEER)
    assert driver.ehlo() == 250 and driver.mail() == 250
    assert driver.rcpt("x@gone.test") == 550 and driver.rcpt() == 250
    assert [(o.argument, o.fired) for o in journal.seen] == [
        ("x@gone.test", "rule 1 (on rcpt)"),
        ("b@y.test", None),
    ]
    (record,) = journal.sessions()
    assert record.outcomes == tuple(journal.seen)
    assert record.near_misses == (
        "RCPT b@y.test: rule 1 (on rcpt): match: wanted *@gone.test, was b@y.test",
    )
