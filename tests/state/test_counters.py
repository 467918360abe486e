"""Counting: per session (nth), per connection index, across the server (after, every, first,
times, windows) and per key (per: client, sender, recipient and combinations)."""

from __future__ import annotations

from ..support.engine import Engine
from .driver import rules

REFUSE = "451 4.3.0 Try again later"


def rcpt_codes(fake: Engine, recipients: list[str], sender: str = "a@x.test") -> list[int]:
    """One connection, one MAIL, then each RCPT; the RCPT codes."""
    conn = fake.connect()
    conn.ehlo()
    conn.mail(sender)
    codes = [conn.rcpt(r) for r in recipients]
    conn.quit()
    return codes


def messages(fake: Engine, count: int, **kw: str) -> list[int]:
    """``count`` connections, one message each; the last code of each."""
    out = []
    for _ in range(count):
        conn = fake.connect(**kw)
        conn.ehlo()
        out.append(conn.deliver()[-1])
        conn.quit()
    return out


# -- the existing session and connection scopes -----------------------------------------------


def test_nth_counts_within_the_session() -> None:
    fake = Engine(rules({"on": "rcpt", "nth": 2, "reply": REFUSE}))
    assert rcpt_codes(fake, ["1@y.test", "2@y.test", "3@y.test"]) == [250, 451, 250]
    assert rcpt_codes(fake, ["1@y.test", "2@y.test"]) == [250, 451]


def test_connection_counts_connections() -> None:
    fake = Engine(rules({"on": "mail", "connection": [2, 3], "reply": REFUSE}))
    assert messages(fake, 4) == [250, 451, 451, 250]


# -- across the server ------------------------------------------------------------------------


def test_after_n_fires_from_the_n_plus_first_across_connections() -> None:
    fake = Engine(rules({"on": "end_of_data", "after": 2, "reply": "554 5.3.4 Enough"}))
    assert messages(fake, 4) == [250, 250, 554, 554]
    assert len(fake.journal.messages()) == 2


def test_every_nth_across_connections() -> None:
    fake = Engine(rules({"on": "mail", "every": 3, "reply": REFUSE}))
    assert messages(fake, 7) == [250, 250, 451, 250, 250, 451, 250]


def test_first_n_then_succeed() -> None:
    fake = Engine(rules({"on": "mail", "first": 2, "reply": REFUSE}))
    assert messages(fake, 4) == [451, 451, 250, 250]


def test_first_and_after_make_a_range() -> None:
    fake = Engine(rules({"on": "mail", "after": 1, "first": 3, "reply": REFUSE}))
    assert messages(fake, 5) == [250, 451, 451, 250, 250]


def test_counts_only_what_passes_the_rule_filters() -> None:
    # `after` counts the RCPTs the rule's match lets through, not every RCPT.
    fake = Engine(rules({"on": "rcpt", "match": "*@slow.test", "after": 1, "reply": REFUSE}))
    codes = rcpt_codes(fake, ["a@fast.test", "a@slow.test", "b@fast.test", "b@slow.test"])
    assert codes == [250, 250, 250, 451]


def test_an_attempt_answered_by_an_earlier_rule_still_counts() -> None:
    # "Every 2nd RCPT": the vip RCPT answered by rule 1 is still the 2nd RCPT for rule 2.
    fake = Engine(
        rules(
            {"on": "rcpt", "match": "vip@*", "reply": "250 2.1.5 Welcome"},
            {"on": "rcpt", "every": 2, "reply": REFUSE},
        )
    )
    assert rcpt_codes(fake, ["a@y.test", "vip@y.test", "b@y.test", "c@y.test"]) == [
        250,
        250,
        250,
        451,
    ]


def test_times_limits_firings_not_attempts() -> None:
    # With probability in play, `times` counts firings while `first` counts attempts.
    fake = Engine(rules({"on": "noop", "probability": 0.5, "times": 3, "reply": REFUSE}), seed=1)
    conn = fake.connect()
    codes = [conn.cmd("NOOP") for _ in range(40)]
    fired_at = [i for i, code in enumerate(codes) if code == 451]
    assert len(fired_at) == 3
    assert fired_at[-1] > 2  # some attempts were not drawn to fire, and did not use up `times`


# -- per key ------------------------------------------------------------------------------------


def test_per_sender_and_recipient_first_attempts_fail() -> None:
    fake = Engine(rules({"on": "rcpt", "per": "sender+recipient", "first": 2, "reply": REFUSE}))
    pair = ("a@x.test", "b@y.test")
    assert [rcpt_codes(fake, [pair[1]], pair[0])[0] for _ in range(2)] == [451, 451]
    # other pairs have their own count: a new recipient, or the same one from a new sender
    assert rcpt_codes(fake, ["c@y.test"], "a@x.test") == [451]
    assert rcpt_codes(fake, ["b@y.test"], "z@x.test") == [451]
    assert rcpt_codes(fake, [pair[1]], pair[0]) == [250]  # third attempt of the pair
    assert rcpt_codes(fake, [pair[1]], pair[0]) == [250]


def test_per_key_ignores_address_case() -> None:
    fake = Engine(rules({"on": "rcpt", "per": "recipient", "first": 1, "reply": REFUSE}))
    assert rcpt_codes(fake, ["Bob@Y.test", "bob@y.TEST"]) == [451, 250]


def test_per_sender_at_mail_uses_the_address_being_given() -> None:
    fake = Engine(rules({"on": "mail", "per": "sender", "first": 1, "reply": REFUSE}))
    conn = fake.connect()
    conn.ehlo()
    assert [conn.mail("a@x.test"), conn.mail("b@x.test"), conn.mail("a@x.test")] == [451, 451, 250]


def test_per_recipient_at_end_of_data_is_the_whole_recipient_list() -> None:
    fake = Engine(rules({"on": "end_of_data", "per": "recipient", "first": 1, "reply": REFUSE}))
    conn = fake.connect()
    conn.ehlo()
    assert conn.deliver("a@x.test", "b@y.test", "c@y.test")[-1] == 451
    assert conn.deliver("a@x.test", "c@y.test", "b@y.test")[-1] == 250  # same set, other order
    assert conn.deliver("a@x.test", "b@y.test")[-1] == 451


def test_per_client_keys_on_the_ip_not_the_port() -> None:
    fake = Engine(rules({"on": "connect", "per": "client", "first": 1, "reply": "421 4.7.0 Later"}))
    assert fake.connect("192.0.2.1:1000").greeting == 421
    assert fake.connect("192.0.2.1:1001").greeting == 220
    assert fake.connect("192.0.2.2:1000").greeting == 421
    assert fake.connect("[2001:db8::1]:25").greeting == 421
    assert fake.connect("[2001:db8::1]:26").greeting == 220


def test_per_connection_after_n() -> None:
    fake = Engine(rules({"on": "mail", "per": "connection", "after": 2, "reply": REFUSE}))
    for _ in range(2):
        conn = fake.connect()
        conn.ehlo()
        assert [conn.deliver()[0] for _ in range(4)] == [250, 250, 451, 451]


def test_times_is_per_key_with_per() -> None:
    fake = Engine(rules({"on": "rcpt", "per": "recipient", "times": 1, "reply": REFUSE}))
    assert rcpt_codes(fake, ["a@y.test", "a@y.test", "b@y.test", "b@y.test"]) == [
        451,
        250,
        451,
        250,
    ]


# -- windows over the injectable clock ----------------------------------------------------------


def test_sliding_window() -> None:
    fake = Engine(rules({"on": "noop", "after": 2, "window": 60, "reply": REFUSE}))
    conn = fake.connect()
    assert [conn.cmd("NOOP") for _ in range(3)] == [250, 250, 451]  # 3 within 60 s
    fake.advance(59)
    assert conn.cmd("NOOP") == 451  # the first three are still in the window
    fake.advance(1)  # 60 s after the first three: they leave the window
    assert [conn.cmd("NOOP"), conn.cmd("NOOP")] == [250, 451]  # 59 s-old one + 2 new


def test_fixed_window_starts_at_the_first_occurrence() -> None:
    fake = Engine(rules({"on": "noop", "after": 2, "fixed_window": 60, "reply": REFUSE}))
    conn = fake.connect()
    fake.advance(7)  # windows do not align to the clock, only to the first occurrence
    assert [conn.cmd("NOOP") for _ in range(3)] == [250, 250, 451]
    fake.advance(59.5)
    assert conn.cmd("NOOP") == 451  # the window that began 59.5 s ago is still full
    fake.advance(0.5)
    assert [conn.cmd("NOOP") for _ in range(3)] == [250, 250, 451]  # a fresh window


def test_within_seconds_of_the_first_occurrence() -> None:
    fake = Engine(rules({"on": "noop", "within": 30, "reply": REFUSE}))
    conn = fake.connect()
    assert conn.cmd("NOOP") == 451
    fake.advance(29.9)
    assert conn.cmd("NOOP") == 451
    fake.advance(0.1)
    assert conn.cmd("NOOP") == 250
