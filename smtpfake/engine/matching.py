"""Which rule fires: the first whose stage and conditions all hold.

A rule's conditions are checked in three steps, so that the same seed and the same client traffic
give the same faults run after run:

1. filters: stage, ``match``, ``nth``, ``connection``, ``state``. An occurrence that passes them is
   *counted* by the rule (under its ``per`` key), whether or not this or an earlier rule answers it:
   "the first 2 attempts" means attempts, not answers.
2. counters: ``first``, ``after``, ``every`` (over all time, or over a ``window``), ``within`` and
   ``times``.
3. ``probability``: one draw from the session's seeded RNG, made only for a rule that passed all
   the rest and only until one rule fires, so draws depend on nothing but the traffic.
"""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
from collections import deque
from dataclasses import dataclass

from smtpfake.engine.shared import KeyCounter, Shared
from smtpfake.scenario.faults.base import FaultContext
from smtpfake.scenario.model import Rule, Stage


@dataclass(frozen=True)
class Occurrence:
    """One thing happening in a session that rules may react to."""

    stage: Stage
    argument: str  # address for MAIL/RCPT, domain for HELO/EHLO, the raw argument otherwise
    nth: int  # how many times this stage has occurred in the session, this one included
    connection: int
    peer: str = ""  # the client as the wire gives it: "ip:port"
    sender: str = ""  # MAIL FROM of the open transaction (at MAIL, the argument is the sender)
    recipients: tuple[str, ...] = ()  # accepted RCPT TOs so far (at RCPT, the argument is one)
    time: float = 0.0  # the session clock's now()

    def part(self, name: str) -> str:
        """One part of a ``per`` key."""
        if name == "connection":
            return str(self.connection)
        if name == "client":
            return client_ip(self.peer)
        if name == "sender":
            return (self.argument if self.stage is Stage.MAIL else self.sender).lower()
        if name == "recipient":
            if self.stage is Stage.RCPT:
                return self.argument.lower()
            return ",".join(sorted(r.lower() for r in self.recipients))
        raise ValueError(f"unknown per-key part {name!r}")  # the loader lets no other through


@functools.lru_cache(maxsize=4096)  # per rule and command otherwise: it was 60% of a busy engine
def client_ip(peer: str) -> str:
    """The address without the port: greylisting keys on the IP, and every connection of one
    client comes from a different port. Accepts "ip:port", "[v6]:port" and a bare IPv4."""
    if peer.startswith("["):
        return peer[1:].partition("]")[0]
    try:
        return str(ipaddress.IPv4Address(peer))
    except ValueError:
        pass
    host, sep, port = peer.rpartition(":")
    return host if sep and port.isdigit() else peer


def _passes_rest(rule: Rule, occ: Occurrence, shared: Shared, argument: str) -> bool:
    """The filters but the stage (select() looks only at the stage's rules); ``argument``: the
    occurrence's, lowercased once."""
    if rule.nth is not None and occ.nth not in rule.nth:
        return False
    if rule.connection is not None and occ.connection not in rule.connection:
        return False
    if rule.state is not None and shared.state not in rule.state:
        return False
    return rule.match is None or fnmatch.fnmatchcase(argument, _lower(rule.match))


@functools.lru_cache(maxsize=1024)
def _lower(pattern: str) -> str:
    return pattern.lower()


def count(
    rule: Rule, occ: Occurrence, shared: Shared, parts: dict[str, str] | None = None
) -> tuple[KeyCounter, int]:
    """Count the occurrence for the rule; returns its counters and the count ``first``/``after``/
    ``every`` look at (within the window if there is one), this occurrence included. ``parts``:
    the occurrence's ``per`` key parts computed so far (select() shares them between rules)."""
    key: tuple[str, ...] = ()
    if rule.per:
        if parts is None:
            parts = {}
        for name in rule.per:
            if name not in parts:
                parts[name] = occ.part(name)
        key = tuple(parts[name] for name in rule.per)
    counter = shared.counter(rule.index, key)
    counter.seen += 1
    if counter.first_time is None:
        counter.first_time = occ.time
    if rule.window is not None:
        recent = counter.recent if counter.recent is not None else deque()
        counter.recent = recent
        while recent and recent[0] <= occ.time - rule.window:
            recent.popleft()
        recent.append(occ.time)
        return counter, len(recent)
    if rule.fixed_window is not None:
        start = counter.window_start
        if start is None or occ.time >= start + rule.fixed_window:
            counter.window_start, counter.window_seen = occ.time, 0
        counter.window_seen += 1
        return counter, counter.window_seen
    return counter, counter.seen


def passes_counters(rule: Rule, occ: Occurrence, counter: KeyCounter, n: int) -> bool:
    if rule.first is not None and n > rule.first:
        return False
    if rule.after is not None and n <= rule.after:
        return False
    if rule.every is not None and n % rule.every:
        return False
    if rule.within is not None:
        assert counter.first_time is not None  # set by count()
        if occ.time - counter.first_time >= rule.within:
            return False
    return rule.times is None or counter.fired < rule.times


#: rule sets seen lately -> their rules for each stage, in order (a scenario's rules are looked
#: at on every command; sorting them by stage once per scenario, not per command, is what keeps
#: a scenario of many rules cheap). Keyed by identity: the tuple is kept alive by the entry.
_BY_STAGE: dict[int, tuple[tuple[Rule, ...], dict[Stage, tuple[Rule, ...]]]] = {}


def rules_for(rules: tuple[Rule, ...], stage: Stage) -> tuple[Rule, ...]:
    """The rules that may fire on ``stage`` (theirs or ``any``), in scenario order."""
    entry = _BY_STAGE.get(id(rules))
    if entry is None or entry[0] is not rules:
        index = {
            s: tuple(r for r in rules if s in r.stages or Stage.ANY in r.stages) for s in Stage
        }
        if len(_BY_STAGE) >= 64:
            _BY_STAGE.pop(next(iter(_BY_STAGE)))
        entry = _BY_STAGE[id(rules)] = (rules, index)
    return entry[1][stage]


def select(
    rules: tuple[Rule, ...], occ: Occurrence, shared: Shared, ctx: FaultContext
) -> Rule | None:
    """The rule that fires for this occurrence, if any, with its firing recorded: counters, the
    rule's firing count and the server's state move on. ``ctx.rng`` is asked for only when a
    ``probability`` is drawn."""
    chosen: tuple[Rule, KeyCounter] | None = None
    candidates = rules_for(rules, occ.stage)
    if not candidates:
        return None
    argument = occ.argument.lower()
    parts: dict[str, str] = {}
    for rule in candidates:
        if not _passes_rest(rule, occ, shared, argument):
            continue
        counter, n = count(rule, occ, shared, parts)
        if chosen is not None or not passes_counters(rule, occ, counter, n):
            continue
        if rule.probability is not None and not ctx.rng.random() < rule.probability:
            continue
        chosen = (rule, counter)
    if chosen is None:
        return None
    rule, counter = chosen
    counter.fired += 1
    shared.fired[rule.index] += 1
    if rule.next_state is not None:
        shared.state = rule.next_state
    return rule
