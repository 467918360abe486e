"""The new faults as data, without a socket: parameters checked at load, plans rendered into the
exact actions the wire performs, and delays drawn reproducibly from the seed (FakeClock, no sleep).
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from smtpfake.engine import FakeClock, Session, Shared
from smtpfake.journal import Journal
from smtpfake.scenario import ScenarioError, load_mapping, load_text
from smtpfake.scenario.faults import REGISTRY
from smtpfake.scenario.plan import Action, Close, Reset, Send, Sleep

from ..support import scenario
from ..support.engine import sent

NEW_FAULTS = ("hang", "abort", "drip", "fragment", "truncate", "malformed")


def open_session(
    data: dict[str, Any], seed: int | None = None, shared: Shared | None = None
) -> Session:
    return Session(
        load_mapping(data), shared or Shared(seed=seed), Journal(), peer="t", clock=FakeClock()
    )


def greeted(data: dict[str, Any]) -> Session:
    session = open_session(data)
    session.connect()
    return session


def test_every_new_fault_is_registered_with_a_doc() -> None:
    for name in NEW_FAULTS:
        assert name in REGISTRY, name
        doc = REGISTRY[name].doc
        assert doc and "\n" not in doc and len(doc) <= 100, (name, doc)


def test_every_fault_has_its_readme_account() -> None:
    # the README's "what it does" table is generated from these (tests/test_readme.py)
    for name, cls in REGISTRY.items():
        text = cls.reference
        assert len(text) >= 20 and "\n" not in text and not text.endswith("."), (name, text)


# -- parameters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("hang: 0", "seconds must be more than 0"),
        ("hang: {seconds: -1}", "seconds must be more than 0"),
        ("abort: {how: fin}", "how must be one of: reset, close; got 'fin'"),
        ("abort: -2", "seconds must not be negative"),
        ("drip: 0", "interval must be more than 0 (a drip with no pause is a fragment)"),
        ("drip: {bytes: 0}", "bytes must be at least 1"),
        ("fragment: 0", "bytes must be at least 1"),
        ("fragment: {interval: -0.1}", "interval must be at least 0"),
        ("truncate: 0", "bytes must be at least 1 (for no reply use disconnect)"),
        ("truncate: {}", "missing parameter(s): bytes"),
        (
            "malformed: crlf",
            "unknown kind 'crlf' (allowed: bad-code, mixed-codes, bare-lf, long-line, no-space)",
        ),
        ("malformed: {kind: long-line, length: 512}", "length must be over 512 octets"),
        ("malformed: {kind: bare-lf, code: 550}", "code is only for kind mixed-codes"),
        ("malformed: {kind: bare-lf, length: 2000}", "length is only for kind long-line"),
        ("malformed: {kind: mixed-codes, code: 699}", "reply code must be three digits"),
        ("drip: {bytez: 2}", "unknown parameter 'bytez'; did you mean 'bytes'?"),
        ("hang: soon", "expected a number"),
    ],
)
def test_bad_parameters_are_reported_where_they_are(fault: str, message: str) -> None:
    text = textwrap.dedent(
        f"""\
        summary: s
        expect: e
        rules:
          - on: rcpt
            {fault}
        """
    )
    with pytest.raises(ScenarioError) as err:
        load_text(text, source="bad.yaml")
    (problem,) = err.value.problems
    assert message in problem.message, problem.message
    assert str(problem).startswith("bad.yaml:5:"), str(problem)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"hang": 2.5}, {"seconds": 2.5}),
        ({"hang": {}}, {"seconds": 3600.0}),
        ({"abort": 1}, {"seconds": 1.0, "how": "reset"}),
        ({"drip": 0.2}, {"bytes": 1, "interval": 0.2}),
        ({"drip": {"bytes": 4}}, {"bytes": 4, "interval": 1.0}),
        ({"fragment": 3}, {"bytes": 3, "interval": 0.0}),
        ({"truncate": 7}, {"bytes": 7}),
        ({"malformed": "bare-lf"}, {"kind": "bare-lf", "code": None, "length": 1024}),
    ],
)
def test_shorthands_and_defaults(fault: dict[str, Any], expected: dict[str, Any]) -> None:
    (rule,) = load_mapping(scenario({"on": "mail", **fault})).rules
    (loaded,) = rule.faults
    assert {k: getattr(loaded, k) for k in expected} == expected


# -- plans into actions --------------------------------------------------------------------------


def test_hang_sleeps_then_closes_without_a_reply_and_does_not_act() -> None:
    session = greeted(scenario({"on": "end_of_data", "delay": 1, "hang": 30}))
    session.receive(b"EHLO c\r\n")
    session.receive(b"MAIL FROM:<a@x.test>\r\n")
    session.receive(b"RCPT TO:<b@x.test>\r\n")
    session.receive(b"DATA\r\n")
    session.receive(b"body\r\n")
    assert session.receive(b".\r\n") == (Sleep(1.0), Sleep(30.0), Close())
    # nothing was answered, so nothing was accepted
    assert session.observer.messages() == ()  # type: ignore[attr-defined]


def test_hang_at_the_greeting() -> None:
    assert open_session(scenario({"on": "connect", "hang": {}})).connect() == (
        Sleep(3600.0),
        Close(),
    )


@pytest.mark.parametrize(
    ("how", "end"), [({}, Reset()), ({"how": "close"}, Close())], ids=["reset", "close"]
)
def test_abort_answers_then_stops_reading_then_ends(how: dict[str, Any], end: Action) -> None:
    session = greeted(scenario({"on": "data", "abort": {"seconds": 2, **how}}))
    for line in (b"EHLO c\r\n", b"MAIL FROM:<a@x.test>\r\n", b"RCPT TO:<b@x.test>\r\n"):
        session.receive(line)
    actions = session.receive(b"DATA\r\n")
    assert actions == (Send(b"354 End data with <CR><LF>.<CR><LF>\r\n"), Sleep(2.0), end)


def test_drip_and_fragment_pace_the_same_bytes() -> None:
    plain = sent(greeted(scenario()).receive(b"NOOP\r\n"))
    drip = greeted(scenario({"on": "noop", "drip": {"bytes": 4, "interval": 0.5}}))
    actions = drip.receive(b"NOOP\r\n")
    assert sent(actions) == plain == b"250 2.0.0 Ok\r\n"
    assert actions == (
        Send(b"250 "),
        Sleep(0.5),
        Send(b"2.0."),
        Sleep(0.5),
        Send(b"0 Ok"),
        Sleep(0.5),
        Send(b"\r\n"),
    )
    frag = greeted(scenario({"on": "noop", "fragment": 5})).receive(b"NOOP\r\n")
    assert frag == (Send(b"250 2"), Send(b".0.0 "), Send(b"Ok\r\n"))


def test_drip_a_421_still_closes() -> None:
    session = greeted(scenario({"on": "noop", "reply": "421 4.3.2 bye", "drip": {"bytes": 8}}))
    actions = session.receive(b"NOOP\r\n")
    assert sent(actions) == b"421 4.3.2 bye\r\n"
    assert actions[-1] == Close()


def test_truncate_cuts_mid_line_then_closes_and_records_what_went_out() -> None:
    journal = Journal()
    session = Session(
        load_mapping(scenario({"on": "mail", "truncate": 6})), Shared(), journal, clock=FakeClock()
    )
    session.connect()
    session.receive(b"EHLO c\r\n")
    actions = session.receive(b"MAIL FROM:<a@x.test>\r\n")
    assert actions == (Send(b"250 2."), Close())
    for action in actions:  # carried out, as the wire reports it
        session.performed(action)
    (record,) = journal.sessions()
    assert record.transcript[-2].text == "250 2."
    assert record.transcript[-1].text == "(connection closed)"


def test_truncate_longer_than_the_reply_sends_it_whole() -> None:
    actions = greeted(scenario({"on": "noop", "truncate": 500})).receive(b"NOOP\r\n")
    assert actions == (Send(b"250 2.0.0 Ok\r\n"), Close())


def test_truncate_of_a_malformed_reply_cuts_the_malformed_bytes() -> None:
    rule = {"on": "noop", "malformed": "bad-code", "truncate": 5}
    assert greeted(scenario(rule)).receive(b"NOOP\r\n") == (Send(b"2x0 2"), Close())


def test_truncate_after_disconnect_has_nothing_to_cut() -> None:
    actions = greeted(scenario({"on": "noop", "disconnect": True, "truncate": 3}))
    assert actions.receive(b"NOOP\r\n") == (Close(),)


EHLO_LINES = [b"smtpfake.test", b"PIPELINING", b"SIZE 33554432", b"8BITMIME"]


@pytest.mark.parametrize(
    ("kind", "noop", "ehlo_head"),
    [
        ("bad-code", b"2x0 2.0.0 Ok\r\n", b"2x0-smtpfake.test\r\n2x0-PIPELINING\r\n"),
        ("bare-lf", b"250 2.0.0 Ok\n", b"250-smtpfake.test\n250-PIPELINING\n"),
        ("no-space", b"250\r\n", b"250-smtpfake.test\r\n250-PIPELINING\r\n"),
        ("mixed-codes", b"250-2.0.0 Ok\r\n451 2.0.0 Ok\r\n", b"250-smtpfake.test\r\n"),
    ],
)
def test_malformed_kinds(kind: str, noop: bytes, ehlo_head: bytes) -> None:
    session = greeted(scenario({"on": ["noop", "ehlo"], "malformed": kind}))
    ehlo = sent(session.receive(b"EHLO c\r\n"))
    assert ehlo.startswith(ehlo_head)
    assert sent(session.receive(b"NOOP\r\n")) == noop
    if kind == "no-space":
        assert ehlo.endswith(b"250-HELP\r\n250\r\n")  # every line kept, then a bare code
    if kind == "mixed-codes":
        assert ehlo.endswith(b"\r\n451 HELP\r\n")


def test_malformed_mixed_codes_with_a_chosen_code_and_on_a_negative_reply() -> None:
    session = greeted(
        scenario(
            {"on": "noop", "malformed": {"kind": "mixed-codes", "code": 550}},
            {"on": "vrfy", "reply": "550 5.1.1 no", "malformed": "mixed-codes"},
        )
    )
    assert sent(session.receive(b"NOOP\r\n")) == b"250-2.0.0 Ok\r\n550 2.0.0 Ok\r\n"
    assert sent(session.receive(b"VRFY x\r\n")) == b"550-5.1.1 no\r\n250 5.1.1 no\r\n"


@pytest.mark.parametrize("length", [513, 1024, 9000])
def test_malformed_long_line_has_exactly_the_length(length: int) -> None:
    session = greeted(
        scenario({"on": "noop", "malformed": {"kind": "long-line", "length": length}})
    )
    data = sent(session.receive(b"NOOP\r\n"))
    assert len(data) == length
    assert data.startswith(b"250 2.0.0 Ok x") and data.endswith(b"x\r\n")
    assert data.count(b"\r\n") == 1


def test_malformed_does_not_change_what_the_server_does() -> None:
    """A malformed 354 still opens the data phase: only the bytes are broken."""
    session = greeted(scenario({"on": "data", "malformed": "bad-code"}))
    for line in (b"EHLO c\r\n", b"MAIL FROM:<a@x.test>\r\n", b"RCPT TO:<b@x.test>\r\n"):
        session.receive(line)
    assert sent(session.receive(b"DATA\r\n")).startswith(b"3x4 ")
    assert session.receive(b"body\r\n") == ()
    assert sent(session.receive(b".\r\n")).startswith(b"250 ")


# -- delay: reproducible draws ---------------------------------------------------------------------

DELAYS = {
    "uniform": {"min": 0.5, "max": 2.0},
    "lognormal": {"median": 1.0, "sigma": 1.5, "max": 8.0},
}


def draws(
    delay: dict[str, Any], *, seed: int | None, server_seed: int | None = None, n: int = 20
) -> list[float]:
    """The delays a session sleeps before each of n NOOP replies (no time passes)."""
    data = scenario({"on": "noop", "delay": delay})
    if seed is not None:
        data["seed"] = seed
    session = open_session(data, seed=server_seed)
    session.connect()
    out: list[float] = []
    for _ in range(n):
        actions = session.receive(b"NOOP\r\n")
        assert isinstance(actions[0], Sleep) and isinstance(actions[1], Send), actions
        out.append(actions[0].seconds)
    return out


@pytest.mark.parametrize("kind", list(DELAYS))
def test_same_seed_same_delays_different_seed_different(kind: str) -> None:
    first = draws(DELAYS[kind], seed=7)
    assert draws(DELAYS[kind], seed=7) == first
    assert draws(DELAYS[kind], seed=8) != first
    assert len(set(first)) == len(first)  # actually random, not one value repeated


@pytest.mark.parametrize("kind", list(DELAYS))
def test_the_server_seed_applies_when_the_scenario_has_none(kind: str) -> None:
    first = draws(DELAYS[kind], seed=None, server_seed=3)
    assert draws(DELAYS[kind], seed=None, server_seed=3) == first
    assert draws(DELAYS[kind], seed=None, server_seed=4) != first
    # an explicit server seed wins over the scenario's own (--seed, use(seed=), the fixture)
    assert draws(DELAYS[kind], seed=3, server_seed=99) == draws(
        DELAYS[kind], seed=None, server_seed=99
    )
    assert draws(DELAYS[kind], seed=3, server_seed=99) != draws(DELAYS[kind], seed=3)


def test_uniform_delays_stay_in_range() -> None:
    values = draws(DELAYS["uniform"], seed=1, n=200)
    assert all(0.5 <= v <= 2.0 for v in values)
    assert min(values) < 0.7 and max(values) > 1.8  # spread over the range


def test_lognormal_delays_are_capped_and_centred_on_the_median() -> None:
    values = sorted(draws(DELAYS["lognormal"], seed=1, n=400))
    assert all(0 < v <= 8.0 for v in values)
    assert values[-1] == 8.0  # sigma 1.5 puts well over 1 in 400 beyond 8x the median
    median = values[len(values) // 2]
    assert 0.7 < median < 1.4


def test_fixed_delay_is_exact() -> None:
    assert draws({"seconds": 0.25}, seed=1, n=3) == [0.25, 0.25, 0.25]


def test_each_connection_draws_its_own_sequence_reproducibly() -> None:
    """One RNG per connection: connection 2's delays do not depend on connection 1's traffic."""
    data = scenario({"on": "noop", "delay": DELAYS["uniform"]}) | {"seed": 5}

    def run(noops_on_first: int) -> list[float]:
        shared = Shared()
        first = open_session(data, shared=shared)
        first.connect()
        for _ in range(noops_on_first):
            first.receive(b"NOOP\r\n")
        second = open_session(data, shared=shared)
        second.connect()
        return [second.receive(b"NOOP\r\n")[0].seconds for _ in range(5)]  # type: ignore[union-attr]

    assert run(0) == run(3)
    shared = Shared()
    one = open_session(data, shared=shared)
    one.connect()
    own = [one.receive(b"NOOP\r\n")[0].seconds for _ in range(5)]  # type: ignore[union-attr]
    assert own != run(0)
