"""Which rule fires: the first whose stage and conditions all hold.

A rule's conditions are checked in three steps, so that the same seed and the same client traffic
give the same faults run after run:

1. filters: stage, ``nth``, ``connection``, ``match``, the facts of the connection (``greeted``,
   ``tls``, ``authenticated``, ``message``, ``size``, ``body``) and ``state`` (the server's, or
   with ``per`` the key's). An occurrence that passes them is *counted* by the rule (under its
   ``per`` key), whether or not this or an earlier rule answers it: "the first 2 attempts" means
   attempts, not answers.
2. counters: ``first``, ``after``, ``every`` (over all time, or over a ``window``), ``within`` and
   ``times``.
3. ``probability``: one draw from the session's seeded RNG, made only for a rule that passed all
   the rest and only until one rule fires, so draws depend on nothing but the traffic.

For every rule on the stage that does not fire before the one that does, the first condition
that failed is kept as a near miss (``Miss``): the journal shows them when a test fails.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections import deque
from collections.abc import Callable
from typing import Any

# re-exported: Occurrence and client_ip lived here (callers and tests import them from here)
from smtpfake.engine.occurrence import Occurrence as Occurrence
from smtpfake.engine.occurrence import client_ip as client_ip
from smtpfake.engine.shared import KeyCounter, Shared
from smtpfake.scenario.faults.base import FaultContext
from smtpfake.scenario.model import Rule, Stage

#: a near miss: (rule, condition, wanted, was), a plain tuple since one is made for every rule
#: a command passes by; records.describe_miss() words it when it is read
Miss = tuple[Rule, str, Any, Any]


def state_key(rule: Rule, occ: Occurrence) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """Whose state the rule reads and moves: the server's (None), or its ``per`` key's."""
    if rule.per is None:
        return None
    return rule.per, tuple(occ.part(p) for p in rule.per)


def _nth(rule: Rule, occ: Occurrence, shared: Shared) -> Miss | None:
    assert rule.nth is not None
    return None if occ.nth in rule.nth else (rule, "nth", rule.nth, occ.nth)


def _connection(rule: Rule, occ: Occurrence, shared: Shared) -> Miss | None:
    assert rule.connection is not None
    if occ.connection in rule.connection:
        return None
    return (rule, "connection", rule.connection, occ.connection)


def _match(rule: Rule, occ: Occurrence, shared: Shared) -> Miss | None:
    assert rule.match is not None
    if fnmatch.fnmatchcase(occ.argument.lower(), _lower(rule.match)):
        return None
    return (rule, "match", rule.match, occ.argument or "(nothing)")


def _greeted(rule: Rule, occ: Occurrence, shared: Shared) -> Miss | None:
    assert rule.greeted is not None
    return None if occ.greeted in rule.greeted else (rule, "greeted", rule.greeted, occ.greeted)


def _tls(rule: Rule, occ: Occurrence, shared: Shared) -> Miss | None:
    return None if occ.tls is rule.tls else (rule, "tls", rule.tls, occ.tls)


def _auth(rule: Rule, occ: Occurrence, shared: Shared) -> Miss | None:
    wanted, user = rule.authenticated, occ.auth_user
    if isinstance(wanted, bool):
        holds = (user is not None) is wanted
    else:
        holds = user is not None and fnmatch.fnmatchcase(user.lower(), str(wanted).lower())
    return None if holds else (rule, "authenticated", wanted, user if user is not None else False)


def _message(rule: Rule, occ: Occurrence, shared: Shared) -> Miss | None:
    assert rule.message is not None
    return None if occ.message in rule.message else (rule, "message", rule.message, occ.message)


def _size(rule: Rule, occ: Occurrence, shared: Shared) -> Miss | None:
    assert rule.size is not None
    return None if rule.size.holds(occ.size) else (rule, "size", rule.size, occ.size)


def _body(rule: Rule, occ: Occurrence, shared: Shared) -> Miss | None:
    assert rule.body is not None
    body = (occ.body or "none").lower()
    return None if body in rule.body else (rule, "body", rule.body, body)


def _state(rule: Rule, occ: Occurrence, shared: Shared) -> Miss | None:
    assert rule.state is not None
    state = shared.state_of(state_key(rule, occ))
    return None if state in rule.state else (rule, "state", rule.state, state)


Check = Callable[[Rule, Occurrence, Shared], "Miss | None"]

#: the filters, by the Rule field that sets them, in model.FILTER_FIELDS order (the cheap ones
#: first, the state last: it may key on the client)
FILTERS: dict[str, Check] = {
    "nth": _nth,
    "connection": _connection,
    "match": _match,
    "greeted": _greeted,
    "tls": _tls,
    "authenticated": _auth,
    "message": _message,
    "size": _size,
    "body": _body,
    "state": _state,
}


def filter_miss(rule: Rule, occ: Occurrence, shared: Shared) -> Miss | None:
    """The first filter (after the stage, which the caller checks) that does not hold. Only the
    filters the rule sets are checked (Rule.conditions_set, made once per rule)."""
    for name in rule.conditions_set:
        miss = FILTERS[name](rule, occ, shared)
        if miss is not None:
            return miss
    return None


def passes_filters(rule: Rule, occ: Occurrence, shared: Shared) -> bool:
    if occ.stage not in rule.stages and Stage.ANY not in rule.stages:
        return False
    return filter_miss(rule, occ, shared) is None


@functools.lru_cache(maxsize=1024)
def _lower(pattern: str) -> str:
    return pattern.lower()


#: arguments whose ``match`` outcome one rule remembers (clients repeat their addresses)
MATCH_MEMO = 256


def _compiled_match(rule: Rule) -> Check:
    """The ``match`` check with its glob compiled once (what fnmatch.fnmatchcase does per call:
    the same regular expression, fnmatch.translate's), and its outcome remembered for the last
    arguments seen: a function of the argument alone."""
    assert rule.match is not None
    test = re.compile(fnmatch.translate(rule.match.lower())).match
    memo: dict[str, tuple[Miss | None]] = {}  # the outcome in a 1-tuple: None is an outcome

    def check(rule: Rule, occ: Occurrence, shared: Shared) -> Miss | None:
        argument = occ.argument
        known = memo.get(argument)  # one lookup: another thread may clear the memo
        if known is not None:
            return known[0]
        miss = None
        if test(argument.lower()) is None:
            miss = (rule, "match", rule.match, argument or "(nothing)")
        if len(memo) >= MATCH_MEMO:
            memo.clear()
        memo[argument] = (miss,)
        return miss

    return check


#: how a rule is counted on each occurrence that passes its filters
NOT_COUNTED, COUNTED, WINDOWED = 0, 1, 2
#: a rule ready to be checked: (the rule, its filter checks in FILTERS order, how it is counted
#: (NOT_COUNTED: no condition reads its count, Rule.counted; WINDOWED: over a ``window`` or
#: ``fixed_window``), its probability); engine/compiled.py makes them once per scenario
Step = tuple[Rule, tuple[Check, ...], int, "float | None"]


def compile_rules(rules: tuple[Rule, ...]) -> tuple[Step, ...]:
    """Each rule with its checks looked up (and its ``match`` glob compiled) once."""
    return tuple(
        (
            rule,
            tuple(
                _compiled_match(rule) if name == "match" else FILTERS[name]
                for name in rule.conditions_set
            ),
            _counting(rule),
            rule.probability,
        )
        for rule in rules
    )


def _counting(rule: Rule) -> int:
    if not rule.counted:
        return NOT_COUNTED
    return COUNTED if rule.window is None and rule.fixed_window is None else WINDOWED


def _key(
    per: tuple[str, ...], occ: Occurrence, keys: dict[tuple[str, ...], tuple[str, ...]] | None
) -> tuple[str, ...]:
    """The occurrence's key for ``per`` parts, kept in ``keys`` for the next rule with them."""
    key = tuple([occ.part(name) for name in per])  # a list: no generator
    if keys is not None:
        keys[per] = key
    return key


def count(
    rule: Rule,
    occ: Occurrence,
    shared: Shared,
    keys: dict[tuple[str, ...], tuple[str, ...]] | None = None,
) -> tuple[KeyCounter, int]:
    """Count the occurrence for the rule; returns its counters and the count ``first``/``after``/
    ``every`` look at (within the window if there is one), this occurrence included. ``keys``:
    the occurrence's ``per`` keys computed so far, by ``per`` (select() shares them)."""
    key: tuple[str, ...] = ()
    per = rule.per
    if per:
        found_key = keys.get(per) if keys is not None else None
        key = found_key if found_key is not None else _key(per, occ, keys)
    found = shared.counters.get((rule.index, key))
    counter = found if found is not None else shared.counter(rule.index, key)
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
    if rule.first is not None and n > rule.first:
        return (rule, "first", rule.first, n)
    if rule.after is not None and n <= rule.after:
        return (rule, "after", rule.after, n)
    if rule.every is not None and n % rule.every:
        return (rule, "every", rule.every, n)
    if rule.within is not None:
        assert counter.first_time is not None  # set by count()
        elapsed = occ.time - counter.first_time
        if elapsed >= rule.within:
            return (rule, "within", rule.within, elapsed)
    if rule.times is not None and counter.fired >= rule.times:
        return (rule, "times", rule.times, counter.fired)
    return None


def passes_counters(rule: Rule, occ: Occurrence, counter: KeyCounter, n: int) -> bool:
    return counter_miss(rule, occ, counter, n) is None


def select(
    rules: tuple[Rule, ...], occ: Occurrence, shared: Shared, ctx: FaultContext
) -> Rule | None:
    """The rule that fires for this occurrence, if any, with its firing recorded: counters, the
    rule's firing count and the server's (or the key's) state move on."""
    on_stage = tuple(r for r in rules if occ.stage in r.stages or Stage.ANY in r.stages)
    return select_steps(compile_rules(on_stage), occ, shared, ctx)[0]


def select_explained(
    rules: tuple[Rule, ...], occ: Occurrence, shared: Shared, ctx: FaultContext
) -> tuple[Rule | None, tuple[Any, ...]]:
    """select() over ``rules``, the scenario's rules on the occurrence's stage (Scenario.
    rules_by_stage), and why each of them before the one that fired (all, if none fired) did
    not fire: the near misses flat, four items each (rule, condition, wanted, was), since a
    journal keeps them for every command and one container is far cheaper to keep than many.
    ``ctx.rng`` is asked for only when a ``probability`` is drawn."""
    return select_steps(compile_rules(rules), occ, shared, ctx)


def select_steps(
    compiled: tuple[Step, ...], occ: Occurrence, shared: Shared, ctx: FaultContext
) -> tuple[Rule | None, tuple[Any, ...]]:
    """select_explained() over rules compiled beforehand (compile_rules()). The reference
    interpreter: a session runs engine/rulecode.py's function generated for the stage's rules,
    which must decide exactly as this does (tests/engine/test_rulecode_differential.py)."""
    chosen: tuple[Rule, KeyCounter] | None = None
    misses: list[Any] = []
    keys: dict[tuple[str, ...], tuple[str, ...]] = {}  # ``per`` keys, shared between rules
    counters = shared.counters
    rng = None  # asked for on the first draw
    for rule, checks, counting, probability in compiled:
        miss = None
        for check in checks:
            miss = check(rule, occ, shared)
            if miss is not None:
                break
        if miss is not None:
            if chosen is None:
                misses += miss
            continue
        if counting == NOT_COUNTED:
            # no condition reads its count: counted (for ``fired``) only if it fires
            if chosen is not None:
                continue
            counter = None
        elif counting == COUNTED:
            # count() without a window, inline: most counting rules, each on every occurrence
            per = rule.per
            key = () if not per else keys.get(per) or _key(per, occ, keys)
            counter = counters.get((rule.index, key)) or shared.counter(rule.index, key)
            counter.seen += 1
            if counter.first_time is None:
                counter.first_time = occ.time
            if chosen is not None:
                continue
            miss = counter_miss(rule, occ, counter, counter.seen)
        else:
            counter, n = count(rule, occ, shared, keys)
            if chosen is not None:
                continue
            miss = counter_miss(rule, occ, counter, n)
        if miss is None and probability is not None:
            if rng is None:
                rng = ctx.rng
            draw = rng.random()
            if not draw < probability:
                miss = (rule, "probability", probability, draw)
        if miss is not None:
            misses += miss
            continue
        if counter is None:
            counter, _ = count(rule, occ, shared, keys)
        chosen = (rule, counter)
    if chosen is None:
        return None, tuple(misses)
    rule, counter = chosen
    record_firing(rule, counter, occ, shared)
    return rule, tuple(misses)


def record_firing(rule: Rule, counter: KeyCounter, occ: Occurrence, shared: Shared) -> None:
    """The rule fired: its firing counts (``counter``: its counters for the occurrence's key)
    and the server's (or the key's) state moves to its ``next_state``."""
    counter.fired += 1
    shared.fired[rule.index] += 1
    if rule.next_state is not None:
        shared.move(state_key(rule, occ), rule.next_state)
