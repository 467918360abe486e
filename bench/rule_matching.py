"""What rules cost the engine: sessions per CPU second, sans I/O, side by side with ``default``
(no rules) measured in the same run; and the rules alone, per command: the generated code a
session runs (engine/rulecode.py) against the interpreter it replaced (matching.select_steps),
on the same commands.

Each session: greeting, EHLO, MAIL, RCPT, DATA, a small body, ".", QUIT, driven straight into
engine Sessions (no sockets), with a manual clock. Scenarios:
- ``default``: no rules (the baseline);
- ``greylisting``: one rule on RCPT, keyed per client+sender+recipient, passing after its delay;
- ``busy``: bench/throughput.py's 50 rules that never fire, all checked on every command, each
  leaving a near miss in the journal (see "Rules explain themselves" in the README).
Each measurement runs in a child process; rounds alternate between scenarios (and checkouts)
so that noise from other processes spreads over all of them; the best round of each is shown.
CPU time (time.process_time), every loop bounded in count.

``--baseline DIR`` also measures the sessions with smtpfake imported from another checkout (e.g.
``git worktree add /tmp/base main``), in the same interleaved rounds.

Usage: python bench/rule_matching.py [--sessions 2000] [--repeat 5] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from typing import Any

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
SCENARIOS = ("default", "greylisting", "busy")


def scenario(name: str) -> Scenario:
    if name == "busy":
        return load_mapping(busy_scenario())
    if name == "greylisting":
        return resolve("greylisting", params={"delay": 0.05})
    return resolve(name)


def run_sessions(scenario: Scenario, count: int) -> None:
    shared, journal, clock = Shared(), Journal(), ManualClock()
    for i in range(count):
        session = Session(scenario, shared, journal, peer=f"192.0.2.{i % 250}:{i}", clock=clock)
        session.connect()
        for line in LINES:
            session.receive(line)
        session.disconnected()
        clock.advance(0.01)
        if i % 500 == 499:
            journal.clear()  # as a test's reset does; the journal stays small


def sessions_per_second(scenario: Scenario, count: int) -> float:
    start = time.process_time()
    run_sessions(scenario, count)
    return count / max(time.process_time() - start, 1e-9)


def measured_in_child(name: str, count: int, tree: str | None) -> float:
    """sessions_per_second() in a fresh process, smtpfake imported from ``tree`` if given."""
    env = None if tree is None else {**os.environ, "PYTHONPATH": os.path.abspath(tree)}
    out = subprocess.run(
        [sys.executable, __file__, "--measure", name, "--sessions", str(count)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    return float(out.split()[-1])


# -- the rules alone ------------------------------------------------------------------------------


class Context:
    """A session's FaultContext as far as rules use it: its RNG, seeded as a session's is."""

    def __init__(self, connection: int) -> None:
        self.connection = connection
        self._rng: random.Random | None = None

    @property
    def rng(self) -> random.Random:
        if self._rng is None:
            self._rng = random.Random(f"0:{self.connection}")
        return self._rng

    def now(self) -> float:
        return 0.0


def rules_alone(name: str, count: int, repeat: int) -> tuple[float, float] | None:
    """µs per command with rules: (the interpreter, the generated code), the best of ``repeat``
    rounds over the commands ``count`` sessions meet; None for a scenario without rules."""
    from smtpfake.engine.compiled import compiled
    from smtpfake.engine.matching import compile_rules, select_steps

    made = scenario(name)
    generated = compiled(made).select
    kept = dict(generated)
    seen: list[Any] = []  # the occurrences the sessions met, in order
    for stage, chosen in kept.items():
        if chosen is not None:
            generated[stage] = lambda occ, shared, ctx, chosen=chosen: (
                seen.append(occ) or chosen(occ, shared, ctx)
            )
    run_sessions(made, count)
    generated.update(kept)
    if not seen:
        return None
    steps = {stage: compile_rules(rules) for stage, rules in made.rules_by_stage.items()}

    def interpreted(occ: Any, shared: Shared, ctx: Any) -> Any:
        return select_steps(steps[occ.stage], occ, shared, ctx)

    def replay(choose: Any) -> float:
        shared, kept, ctx = Shared(), [], Context(0)
        start = time.process_time()
        for occ in seen:
            if occ.connection != ctx.connection:
                ctx = Context(occ.connection)
            kept.append(choose(occ, shared, ctx))
        return (time.process_time() - start) / len(seen) * 1e6

    old = new = float("inf")
    for _ in range(repeat):
        old = min(old, replay(interpreted))
        new = min(new, replay(lambda occ, shared, ctx: generated[occ.stage](occ, shared, ctx)))
    return old, new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best of each is shown")
    parser.add_argument("--baseline", metavar="DIR", help="also measure smtpfake from DIR")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # in a child: one measurement
    args = parser.parse_args()
    if args.measure:
        print(sessions_per_second(scenario(args.measure), args.sessions))
        return
    trees: dict[str, str | None] = {"now": None}
    if args.baseline:
        trees["baseline"] = args.baseline
    best = {(tree, name): 0.0 for tree in trees for name in SCENARIOS}
    for _ in range(args.repeat):
        for name in SCENARIOS:
            for tree, where in trees.items():
                rate = measured_in_child(name, args.sessions, where)
                best[tree, name] = max(best[tree, name], rate)
    print(f"engine alone: sessions per CPU second, best of {args.repeat} interleaved rounds")
    head = f"{'scenario':<12} {'sessions/s':>11} {'vs default':>11}"
    if args.baseline:
        head += f" {'baseline':>11} {'vs default':>11} {'now/baseline':>13}"
    print(head)
    for name in SCENARIOS:
        rate = best["now", name]
        line = f"{name:<12} {rate:>11.0f} {rate / best['now', 'default']:>10.2f}x"
        if args.baseline:
            base = best["baseline", name]
            line += f" {base:>11.0f} {base / best['baseline', 'default']:>10.2f}x"
            line += f" {rate / base:>12.2f}x"
        print(line)
    print("\nrules alone: CPU µs per command on a stage with rules, the same commands replayed")
    print(f"{'scenario':<12} {'interpreter':>12} {'generated':>10} {'speed-up':>9}")
    for name in SCENARIOS:
        alone = rules_alone(name, min(args.sessions, 1000), args.repeat)
        if alone is not None:
            old, new = alone
            print(f"{name:<12} {old:>12.2f} {new:>10.2f} {old / new:>8.2f}x")


if __name__ == "__main__":
    main()
