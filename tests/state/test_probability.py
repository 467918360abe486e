"""``probability:``: seeded, reproducible, drawn only when everything else about the rule holds."""

from __future__ import annotations

from smtpfake.scenario import Scenario
from smtpfake.server import Server

from ..support.engine import Engine
from .driver import rules

FLAKY_RCPT = {"on": "rcpt", "probability": 0.3, "reply": "451 4.3.0 Try again"}


def pattern(scenario: Scenario, seed: int | None = None, sessions: int = 200) -> list[int]:
    """The RCPT reply code of each of ``sessions`` identical sessions."""
    fake = Engine(scenario, seed=seed)
    out = []
    for _ in range(sessions):
        conn = fake.connect()
        conn.ehlo()
        conn.mail()
        out.append(conn.rcpt())
        conn.quit()
    return out


def test_same_seed_gives_the_same_faults() -> None:
    scenario = rules(FLAKY_RCPT)
    first = pattern(scenario, seed=42)
    assert first == pattern(scenario, seed=42)
    assert set(first) == {250, 451}


def test_a_different_seed_gives_different_faults() -> None:
    scenario = rules(FLAKY_RCPT)
    assert pattern(scenario, seed=1) != pattern(scenario, seed=2)


def test_the_rate_is_near_p() -> None:
    # 4000 draws at p=0.3 (NOOPs, cheaper than sessions): the standard deviation of the count is
    # about 29, so 1050..1350 is over 5 sigma either side.
    fake = Engine(rules({"on": "noop", "probability": 0.3, "reply": "451 4.3.0 Try again"}), seed=7)
    codes = []
    for _ in range(4):
        conn = fake.connect()
        codes += [conn.cmd("NOOP") for _ in range(1000)]
    assert set(codes) == {250, 451}
    assert 1050 <= codes.count(451) <= 1350


def test_probability_0_never_and_1_always() -> None:
    assert set(pattern(rules({**FLAKY_RCPT, "probability": 0}), sessions=50)) == {250}
    assert set(pattern(rules({**FLAKY_RCPT, "probability": 1}), sessions=50)) == {451}


def test_no_draw_for_a_rule_whose_other_conditions_fail() -> None:
    # A rule that never matches must not consume random numbers, or adding it would change
    # which later faults fire.
    never = {"on": "rcpt", "match": "*@nowhere.test", "probability": 0.5, "reply": 550}
    also_never = {"on": "rcpt", "state": "later", "probability": 0.5, "reply": 550}
    go_later = {"on": "quit", "connection": 10_000, "next_state": "later"}
    alone = pattern(rules(FLAKY_RCPT), seed=3)
    assert pattern(rules(never, also_never, go_later, FLAKY_RCPT), seed=3) == alone


def test_no_draw_after_a_rule_has_fired() -> None:
    # Once the first rule fires, later probability rules are not drawn for: the delay drawn from
    # the RNG right after is the same as with no later rule at all.
    def delays(*extra: dict[str, object]) -> list[float]:
        first = {"on": "mail", "delay": {"min": 0, "max": 1}}
        fake = Engine(rules(first, *extra), seed=9)
        out = []
        for _ in range(20):
            conn = fake.connect()
            conn.ehlo()
            actions = conn.session.receive(b"MAIL FROM:<a@x.test>\r\n")
            actions += conn.session.receive(b"MAIL FROM:<a@x.test>\r\n")
            out += [a.seconds for a in actions if hasattr(a, "seconds")]
        return out

    later = {"on": "mail", "probability": 0.5, "reply": 451}
    assert delays() == delays(later)


def test_draws_depend_on_the_connection_not_on_interleaving() -> None:
    # Two connections served interleaved give each the same faults as served one after the other.
    scenario = rules({**FLAKY_RCPT, "probability": 0.5})

    def run(interleaved: bool) -> list[list[int]]:
        fake = Engine(scenario, seed=5)
        a, b = fake.connect(), fake.connect()
        for conn in (a, b):
            conn.ehlo()
            conn.mail()
        codes: list[list[int]] = [[], []]
        order = [0, 1] * 10 if interleaved else [0] * 10 + [1] * 10
        for i in order:
            conn = (a, b)[i]
            codes[i].append(conn.rcpt(f"r{len(codes[i])}@y.test"))
        return codes

    assert run(interleaved=True) == run(interleaved=False)


def test_an_explicit_seed_wins_over_the_scenarios_own() -> None:
    seeded = rules(FLAKY_RCPT, seed=11)
    # without an explicit seed the scenario's own applies
    assert pattern(seeded, sessions=100) == pattern(rules(FLAKY_RCPT), 11, sessions=100)
    # an explicit one (server, --seed, use(seed=), fixture) overrides it
    assert pattern(seeded, seed=1, sessions=100) != pattern(seeded, seed=2, sessions=100)
    assert pattern(seeded, seed=1, sessions=100) == pattern(rules(FLAKY_RCPT), 1, sessions=100)


def server_pattern(server: Server, sessions: int = 100) -> list[int]:
    out = []
    for i in range(sessions):
        session = server.new_connection(f"127.0.0.1:{40000 + i}").session
        session.connect()
        session.receive(b"EHLO c.test\r\n")
        session.receive(b"MAIL FROM:<a@x.test>\r\n")
        (send, *_) = session.receive(b"RCPT TO:<b@y.test>\r\n")
        out.append(int(send.data[:3]))  # type: ignore[union-attr]
        session.disconnected()
    return out


def test_server_seed_and_use_seed_are_honoured() -> None:
    # No sockets: the server's sessions are driven directly through new_connection().
    flaky = {"rules": [FLAKY_RCPT]}
    server = Server(flaky, seed=21)
    with_21 = server_pattern(server)
    assert with_21 == pattern(rules(FLAKY_RCPT), seed=21, sessions=100)
    server.reset()
    assert server_pattern(server) == with_21  # reset restarts counters, keeps the seed
    server.use(flaky, seed=22)
    with_22 = server_pattern(server)
    assert with_22 != with_21
    server.use(flaky)
    assert server_pattern(server) == with_21  # use()'s seed is for that use only; then the server's
