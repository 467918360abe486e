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
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from smtpfake.engine.shared import KeyCounter, Shared
from smtpfake.scenario.model import Rule, Stage


@dataclass(frozen=True)
class Miss:
    """Why a rule on this stage did not fire: the first condition that did not hold, with what
    it wanted and what it found (a near miss, as WireMock reports them). Formatted on demand."""

    rule: int  # the rule's index
    condition: str
    wanted: Any
    was: Any

    def __str__(self) -> str:
        wanted, was = _shown(self.wanted), _shown(self.was)
        if self.condition == "within":
            return f"within {wanted} s: {was} s elapsed"
        return f"{self.condition}: wanted {wanted}, was {was}"


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return " or ".join(_shown(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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
    # Facts about the connection before this command (the rule conditions of the same names):
    greeted: str = "none"  # "helo", "ehlo" or "none" (TLS starts the session over)
    tls: bool = False  # TLS is active
    auth_user: str | None = None  # who AUTH succeeded for; None: not authenticated
    message: int = 0  # the mail transaction: at MAIL the one it would begin, then the one open
    size: int | None = None  # SIZE= of this transaction's MAIL
    body: str | None = None  # BODY= of this transaction's MAIL, upper case

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


def state_key(rule: Rule, occ: Occurrence) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """Whose state the rule reads and moves: the server's (None), or its ``per`` key's."""
    if rule.per is None:
        return None
    return rule.per, tuple(occ.part(p) for p in rule.per)


def _authenticated(rule: Rule, user: str | None) -> bool:
    wanted = rule.authenticated
    if isinstance(wanted, bool):
        return (user is not None) is wanted
    return user is not None and fnmatch.fnmatchcase(user.lower(), str(wanted).lower())


def filter_miss(rule: Rule, occ: Occurrence, shared: Shared) -> Miss | None:
    """The first filter (after the stage, which the caller checks) that does not hold."""
    i = rule.index
    if rule.nth is not None and occ.nth not in rule.nth:
        return Miss(i, "nth", rule.nth, occ.nth)
    if rule.connection is not None and occ.connection not in rule.connection:
        return Miss(i, "connection", rule.connection, occ.connection)
    if rule.match is not None and not fnmatch.fnmatchcase(occ.argument.lower(), rule.match.lower()):
        return Miss(i, "match", rule.match, occ.argument or "(nothing)")
    if rule.greeted is not None and occ.greeted not in rule.greeted:
        return Miss(i, "greeted", rule.greeted, occ.greeted)
    if rule.tls is not None and occ.tls is not rule.tls:
        return Miss(i, "tls", rule.tls, occ.tls)
    if rule.authenticated is not None and not _authenticated(rule, occ.auth_user):
        was = occ.auth_user if occ.auth_user is not None else False
        return Miss(i, "authenticated", rule.authenticated, was)
    if rule.message is not None and occ.message not in rule.message:
        return Miss(i, "message", rule.message, occ.message)
    if rule.size is not None and not rule.size.holds(occ.size):
        return Miss(i, "size", str(rule.size), occ.size)
    if rule.body is not None and (occ.body or "none").lower() not in rule.body:
        return Miss(i, "body", rule.body, (occ.body or "none").lower())
    if rule.state is not None:
        state = shared.state_of(state_key(rule, occ))
        if state not in rule.state:
            return Miss(i, "state", rule.state, state)
    return None


def passes_filters(rule: Rule, occ: Occurrence, shared: Shared) -> bool:
    if occ.stage not in rule.stages and Stage.ANY not in rule.stages:
        return False
    return filter_miss(rule, occ, shared) is None


def count(rule: Rule, occ: Occurrence, shared: Shared) -> tuple[KeyCounter, int]:
    """Count the occurrence for the rule; returns its counters and the count ``first``/``after``/
    ``every`` look at (within the window if there is one), this occurrence included."""
    key = tuple(occ.part(p) for p in rule.per) if rule.per else ()
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


def counter_miss(rule: Rule, occ: Occurrence, counter: KeyCounter, n: int) -> Miss | None:
    """The first counter condition that does not hold (``n``: the count count() returned)."""
    i = rule.index
    if rule.first is not None and n > rule.first:
        return Miss(i, "first", f"at most {rule.first}", n)
    if rule.after is not None and n <= rule.after:
        return Miss(i, "after", f"more than {rule.after}", n)
    if rule.every is not None and n % rule.every:
        return Miss(i, "every", f"a multiple of {rule.every}", n)
    if rule.within is not None:
        assert counter.first_time is not None  # set by count()
        elapsed = occ.time - counter.first_time
        if elapsed >= rule.within:
            return Miss(i, "within", rule.within, round(elapsed, 3))
    if rule.times is not None and counter.fired >= rule.times:
        return Miss(i, "times", f"fewer than {rule.times} firings", counter.fired)
    return None


def passes_counters(rule: Rule, occ: Occurrence, counter: KeyCounter, n: int) -> bool:
    return counter_miss(rule, occ, counter, n) is None


def select(
    rules: tuple[Rule, ...], occ: Occurrence, shared: Shared, rng: random.Random
) -> Rule | None:
    """The rule that fires for this occurrence, if any, with its firing recorded: counters, the
    rule's firing count and the server's (or the key's) state move on."""
    return select_explained(rules, occ, shared, rng)[0]


def select_explained(
    rules: tuple[Rule, ...], occ: Occurrence, shared: Shared, rng: random.Random
) -> tuple[Rule | None, tuple[Miss, ...]]:
    """select(), and why each rule on this stage before the one that fired (every one, if none
    fired) did not fire."""
    chosen: tuple[Rule, KeyCounter] | None = None
    misses: list[Miss] = []
    for rule in rules:
        if occ.stage not in rule.stages and Stage.ANY not in rule.stages:
            continue
        miss = filter_miss(rule, occ, shared)
        if miss is not None:
            if chosen is None:
                misses.append(miss)
            continue
        counter, n = count(rule, occ, shared)
        if chosen is not None:
            continue
        miss = counter_miss(rule, occ, counter, n)
        if miss is None and rule.probability is not None:
            draw = rng.random()
            if not draw < rule.probability:
                miss = Miss(rule.index, "probability", f"a draw below {rule.probability:g}", draw)
        if miss is not None:
            misses.append(miss)
            continue
        chosen = (rule, counter)
    if chosen is None:
        return None, tuple(misses)
    rule, counter = chosen
    counter.fired += 1
    shared.fired[rule.index] += 1
    if rule.next_state is not None:
        shared.move(state_key(rule, occ), rule.next_state)
    return rule, tuple(misses)
