"""What rules cost the engine: sessions per CPU second, sans I/O, side by side with ``default``
(no rules) measured in the same run.

Each session: greeting, EHLO, MAIL, RCPT, DATA, a small body, ".", QUIT, driven straight into
engine Sessions (no sockets), with a manual clock. Scenarios:
- ``default``: no rules (the baseline);
- ``greylisting``: one rule on RCPT, keyed per client+sender+recipient, passing after its delay;
- ``busy``: bench/throughput.py's 50 rules that never fire, all checked on every command, each
  leaving a near miss in the journal (see "Rules explain themselves" in the README).
Rounds alternate between scenarios so that noise from other processes spreads over all of them;
the best round of each is shown. CPU time (time.process_time), every loop bounded in count.

Usage: python bench/rule_matching.py [--sessions 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time

from throughput import busy_scenario  # bench/ is the script's directory, so first on sys.path

from smtpfake.engine import ManualClock, Session, Shared
from smtpfake.journal import Journal
from smtpfake.scenario import Scenario, load_mapping, resolve

LINES = (
    b"EHLO client.test\r\n",
    b"MAIL FROM:<a@x.test>\r\n",
    b"RCPT TO:<b@y.test>\r\n",
    b"DATA\r\n",
    b"Subject: bench\r\n",
    b"\r\n",
    b"hello\r\n",
    b".\r\n",
    b"QUIT\r\n",
)


def sessions_per_second(scenario: Scenario, count: int) -> float:
    shared, journal, clock = Shared(), Journal(), ManualClock()
    start = time.process_time()
    for i in range(count):
        session = Session(scenario, shared, journal, peer=f"192.0.2.{i % 250}:{i}", clock=clock)
        session.connect()
        for line in LINES:
            session.receive(line)
        session.disconnected()
        clock.advance(0.01)
        if i % 500 == 499:
            journal.clear()  # as a test's reset does; the journal stays small
    return count / max(time.process_time() - start, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best of each is shown")
    args = parser.parse_args()
    scenarios = {
        "default": resolve("default"),
        "greylisting": resolve("greylisting", params={"delay": 0.05}),
        "busy": load_mapping(busy_scenario()),
    }
    best = dict.fromkeys(scenarios, 0.0)
    for _ in range(args.repeat):
        for name, scenario in scenarios.items():
            best[name] = max(best[name], sessions_per_second(scenario, args.sessions))
    print(f"{'scenario':<12} {'sessions/s':>11} {'vs default':>11}")
    for name, rate in best.items():
        print(f"{name:<12} {rate:>11.0f} {rate / best['default']:>10.2f}x")


if __name__ == "__main__":
    main()
