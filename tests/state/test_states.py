"""Named states with transitions (as WireMock scenarios): shared across connections, reset by
server.reset() and server.use()."""

from __future__ import annotations

from smtpfake.server import Server

from ..support.engine import Engine
from .driver import rules

# The first message is accepted and moves the server to "full"; from then on every MAIL gets 452
# until some client sends NOOP, which "empties the disk".
DISK = (
    {"on": "end_of_data", "state": "started", "next_state": "full"},
    {"on": "mail", "state": "full", "reply": "452 4.3.1 Insufficient system storage"},
    {"on": "noop", "state": "full", "next_state": "started", "reply": "250 2.0.0 Disk emptied"},
)


def test_a_rule_moves_the_state_and_others_require_it() -> None:
    fake = Engine(rules(*DISK))
    conn = fake.connect()
    conn.ehlo()
    assert conn.deliver()[-1] == 250
    assert fake.shared.state == "full"
    assert conn.deliver() == (452,)
    assert conn.cmd("NOOP") == 250
    assert fake.shared.state == "started"
    assert conn.deliver()[-1] == 250
    assert fake.shared.state == "full"


def test_the_state_is_shared_across_connections() -> None:
    fake = Engine(rules(*DISK))
    first = fake.connect()
    first.ehlo()
    second = fake.connect()
    second.ehlo()
    assert first.deliver()[-1] == 250
    assert second.deliver() == (452,)  # the other connection moved the server
    assert fake.connect().greeting == 220


def test_a_rule_without_a_fault_may_just_move_the_state() -> None:
    old = {"on": "mail", "state": "old-client", "reply": "550 5.7.1 Use EHLO"}
    fake = Engine(rules({"on": "helo", "next_state": "old-client"}, old))
    conn = fake.connect()
    assert conn.cmd("HELO c.test") == 250  # the normal reply: the rule only moved the state
    assert fake.shared.state == "old-client"
    assert conn.mail() == 550


def test_state_lists_and_the_first_matching_rule_moves() -> None:
    fake = Engine(
        rules(
            {"on": "noop", "state": "started", "next_state": "a", "reply": "250 2.0.0 to a"},
            {"on": "noop", "state": "a", "next_state": "b", "reply": "250 2.0.0 to b"},
            {"on": "noop", "state": ["a", "b"], "next_state": "started", "reply": 421},
        )
    )
    conn = fake.connect()
    codes = [conn.cmd("NOOP") for _ in range(3)]
    assert codes == [250, 250, 421]  # started -> a -> b -> started (rule 3, as b != a)
    assert fake.shared.state == "started"


def test_a_rule_in_another_state_does_not_count() -> None:
    # Counters see only occurrences in the rule's state: "after 1" means after 1 NOOP in state x.
    fake = Engine(
        rules(
            {"on": "helo", "next_state": "x"},
            {"on": "noop", "state": "x", "after": 1, "reply": 421},
        )
    )
    conn = fake.connect()
    assert [conn.cmd("NOOP"), conn.cmd("NOOP")] == [250, 250]
    conn.cmd("HELO c.test")
    assert [conn.cmd("NOOP"), conn.cmd("NOOP")] == [250, 421]


def session_codes(server: Server, lines: list[bytes]) -> list[int]:
    session = server.new_connection("127.0.0.1:40000").session
    codes = [int(a.data[:3]) for a in session.connect() if hasattr(a, "data")]
    for line in lines:
        codes += [int(a.data[:3]) for a in session.receive(line) if hasattr(a, "data")]
    session.disconnected()
    return codes


def test_reset_and_use_return_to_the_initial_state() -> None:
    scenario = {
        "rules": [
            {"on": "noop", "state": "started", "next_state": "tripped"},
            {"on": "connect", "state": "tripped", "reply": "421 4.3.2 Tripped"},
        ]
    }
    server = Server(scenario)  # not started: sessions are driven through new_connection()
    assert session_codes(server, [b"NOOP\r\n"]) == [220, 250]
    assert session_codes(server, []) == [421]
    server.reset()
    assert session_codes(server, [b"NOOP\r\n"]) == [220, 250]
    assert session_codes(server, []) == [421]
    server.use(scenario)
    assert session_codes(server, []) == [220]
