"""Each stage's rules as one generated Python function: matching.select_steps() written out for
those rules, made once per scenario (engine/compiled.py).

select_steps() interprets: per rule and command it unpacks a step, loops over check functions
and reads the rule's fields. The function generated here does the same checks in the same
order, with each rule's conditions inlined as ``if``/``elif`` and its values as literals (or
closure cells), the facts of the occurrence read once, a run of rules that only ``match``
judged by one lookup on the argument, and of each near miss only what varies kept
(engine/nearmisses.py). What it decides is select_steps()'s, to the draw: the same rule fires,
the same counters move (in the same order), the same draws are made, the same near misses are
read (flat, four items each: rule, condition, wanted, was).
tests/engine/test_rulecode_differential.py holds the two to that over random rules and traffic.

To read what a stage checks: ``compiled(scenario).selectors[Stage.RCPT].source``.
"""

from __future__ import annotations

import fnmatch
import functools
import math
import re
from collections import deque
from collections.abc import Callable
from typing import Any

from smtpfake.engine.matching import (
    NOT_COUNTED,
    Occurrence,
    Step,
    client_ip,
    compile_rules,
    count,
    record_firing,
)
from smtpfake.engine.nearmisses import Layout, NearMisses
from smtpfake.engine.shared import KeyCounter, Shared
from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.faults.base import FaultContext
from smtpfake.scenario.model import INITIAL_STATE, Rule, Stage

#: (occurrence, shared, fault context) -> (the rule that fired or None, its near misses)
Select = Callable[[Occurrence, Shared, FaultContext], "tuple[Rule | None, NearMisses]"]

#: arguments whose ``match`` outcomes a selector remembers (clients repeat their addresses)
MATCH_MEMO = 256
#: fewest rules in a row that only ``match`` for them to be judged as one run
RUN = 2


@frozen_dataclass
class Selector:
    """``select``: the generated function; ``source``: its Python source (a factory whose
    parameters are the values and helpers it binds); ``rules``: the rules it checks, in order."""

    select: Select
    source: str
    rules: tuple[Rule, ...]


def build(rules: tuple[Rule, ...]) -> Selector:
    """The selector for one stage's rules (Scenario.rules_by_stage: its own and ``any``)."""
    writer = _Writer(rules)
    source = writer.source()
    namespace: dict[str, Any] = {}
    # named for its rules, so that a profile tells the stages' functions apart
    exec(_code(source, f"<smtpfake rules {_spans([r.index for r in rules])}>"), namespace)
    select: Select = namespace["make"](**writer.cells)
    return Selector(select, source, rules)


@functools.lru_cache(maxsize=256)
def _code(source: str, name: str) -> Any:
    """Compiled once per distinct source: a test suite loads the same scenario many times."""
    return compile(source, name, "exec")


def _spans(indexes: list[int]) -> str:
    """``1-20,23``: rule indexes (ascending) as runs."""
    spans: list[list[int]] = []
    for index in indexes:
        if spans and index == spans[-1][-1] + 1:
            spans[-1][1:] = [index]
        else:
            spans.append([index])
    return ",".join("-".join(map(str, span)) for span in spans)


# -- what the generated code calls ----------------------------------------------------------


def _fire(
    steps: tuple[Step, ...],
    layout: Layout,
    position: int,
    counter: KeyCounter | None,
    occ: Occurrence,
    shared: Shared,
    misses: list[Any],
) -> tuple[Rule, NearMisses]:
    """The rule at ``position`` fires: count it if it is not counted on every occurrence, count
    the rules after it that are (their filters checked as select_steps() does), record the
    firing."""
    rule = steps[position][0]
    keys: dict[tuple[str, ...], tuple[str, ...]] = {}
    if counter is None:
        counter, _ = count(rule, occ, shared, keys)
    for later, checks, counting, _ in steps[position + 1 :]:
        if counting != NOT_COUNTED and all(check(later, occ, shared) is None for check in checks):
            count(later, occ, shared, keys)
    record_firing(rule, counter, occ, shared)
    return rule, NearMisses(layout, tuple(misses))


def _match_table(
    layout: Layout, globs: list[str], runs: list[list[int]]
) -> Callable[[str], tuple[Any, ...]]:
    """The ``match`` outcomes for an argument, remembered: one bool per distinct glob (lower
    case, _Writer.globs), then per run (positions in ``layout``) what its near misses keep
    (NearMisses) if every rule of it fails its ``match``, else None. Globs as
    fnmatch.fnmatchcase() reads them (fnmatch.translate), on the lower-cased argument."""
    rules = tuple(rule for rule, _ in layout)
    # what a rule of a run keeps for a missed match: the argument, after which way (0: a run's
    # rules check match first) if it has several
    prefix = [() if len(ways) == 1 else (0,) for _, ways in layout]
    tests = [re.compile(fnmatch.translate(glob)).match for glob in globs]
    where = {glob: j for j, glob in enumerate(globs)}
    memo: dict[str, tuple[Any, ...]] = {}

    def judge(argument: str) -> tuple[Any, ...]:
        known = memo.get(argument)  # one lookup: another thread may clear the memo
        if known is not None:
            return known
        lowered = argument.lower()
        hits = tuple(test(lowered) is not None for test in tests)
        shown = argument or "(nothing)"
        outcomes: list[Any] = list(hits)
        for run in runs:
            matched = [hits[where[_lower_glob(rules[p])]] for p in run]
            outcomes.append(
                None if any(matched) else tuple(x for p in run for x in (*prefix[p], shown))
            )
        made = tuple(outcomes)
        if len(memo) >= MATCH_MEMO:
            memo.clear()
        memo[argument] = made
        return made

    return judge


def _group(shared: Shared, members: str, key: tuple[str, ...], size: int) -> list[Any]:
    """The counters of a group of rules (_groups()) for one key: Shared.groups."""
    groups = shared.groups
    found = groups.get((members, key))
    if found is None:
        found = groups[(members, key)] = [None] * size
    return found


def _lower_glob(rule: Rule) -> str:
    assert rule.match is not None
    return rule.match.lower()


def _auth_glob(wanted: str) -> Callable[[str], Any]:
    """``authenticated: GLOB`` as fnmatch.fnmatchcase() reads it, on the lower-cased user."""
    return re.compile(fnmatch.translate(wanted.lower())).match


# -- the generator ----------------------------------------------------------------------------

#: ``per`` parts as Occurrence.part() computes them, from the prologue's locals
_PART_CODE = {
    "connection": "str(occ.connection)",
    "client": "CLIENT_IP(occ.peer)",
    "sender": "(argument if stage is MAIL else occ.sender).lower()",
    "recipient": "argument.lower() if stage is RCPT"
    ' else ",".join(sorted([r.lower() for r in occ.recipients]))',
}

#: the occurrence's facts the filters read, each a local of the generated function
_FACTS = {
    "nth": "nth = occ.nth",
    "connection": "connection = occ.connection",
    "greeted": "greeted = occ.greeted",
    "tls": "tls = occ.tls",
    "authenticated": "auth_user = occ.auth_user",
    "message": "message = occ.message",
    "size": "size = occ.size",
    "body": 'body = (occ.body or "none").lower()',
}


def _literal(value: object) -> str | None:
    """``value`` as Python source that evaluates to an equal value of the same type, if it has
    one (a constant in the generated code); None: it is bound as a closure cell."""
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, tuple):
        items = [_literal(v) for v in value]
        if all(item is not None for item in items):
            return "(" + "".join(f"{item}, " for item in items) + ")"
    return None


class _Writer:
    """Writes the source of ``make(**cells)``, which returns the stage's select function."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self.steps = compile_rules(rules)
        self.lines: list[str] = []
        self.depth = 2
        self.known: set[str] = set()  # locals set by now on every path (once())
        self.cells: dict[str, Any] = {}
        self.pers = list(dict.fromkeys(r.per for r in rules if r.per))
        self.globs = list(dict.fromkeys(_lower_glob(r) for r in rules if r.match is not None))
        self.runs = _runs(rules)
        self.layout: Layout = tuple((rule, _ways(rule)) for rule in rules)
        self.groups = _groups(rules)
        self.slot = {
            p: (k, slot) for k, group in enumerate(self.groups) for slot, p in enumerate(group)
        }

    def source(self) -> str:
        rules = self.rules
        self.bind("FIRE", functools.partial(_fire, self.steps, self.layout))
        self.bind("LAYOUT", self.layout)
        self.bind("NEAR_MISSES", NearMisses)
        self.prologue()
        run_at = {run[0]: k for k, run in enumerate(self.runs)}
        i = 0
        while i < len(rules):
            k = run_at.get(i)
            if k is None:
                self.rule(i)
                i += 1
                continue
            run = self.runs[k]
            first, last = rules[run[0]].index, rules[run[-1]].index
            self.line(f"# rules {first}-{last}: only match, judged together")
            self.line(f"run = mt[{len(self.globs) + k}]")
            self.line("if run is not None:")
            self.line("    misses += run")
            self.line("else:")
            self.depth += 1
            for p in run:
                self.rule(p)
            self.depth -= 1
            i = run[-1] + 1
        self.line("return None, NEAR_MISSES(LAYOUT, tuple(misses))")
        head = [
            "def make(" + ", ".join(self.cells) + "):",
            "    def select(occ, shared, ctx):",
        ]
        return "\n".join([*head, *self.lines, "    return select", ""])

    def once(self, name: str, value: str) -> None:
        """``name = value`` the first time it is reached (``name`` starts as None); no test is
        written where it was already set by code every path here runs (the function's top
        level: a rule there runs whenever it is reached)."""
        if name not in self.known:
            self.line(f"if {name} is None:")
            self.line(f"    {name} = {value}")
        if self.depth == 2:
            self.known.add(name)

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def bind(self, name: str, value: Any) -> str:
        self.cells[name] = value
        return name

    def value(self, i: int, field: str, value: object) -> str:
        """Source for one of rule ``i``'s values: a literal, or a cell named for it."""
        literal = _literal(value)
        return literal if literal is not None else self.bind(f"{field.upper()}{i}", value)

    def prologue(self) -> None:
        rules = self.rules
        used = {name for r in rules for name in r.conditions_set}
        self.line("misses = []  # what the near misses keep (nearmisses.NearMisses)")
        self.line("keep = misses.append")
        if self.globs or any(p in per for per in self.pers for p in ("sender", "recipient")):
            self.line("argument = occ.argument")
        if self.globs:
            self.bind("MATCHES", _match_table(self.layout, self.globs, self.runs))
            self.line("mt = MATCHES(argument)")
        for name, code in _FACTS.items():
            if name in used:
                self.line(code)
        if "state" in used and any(r.per is None and r.state for r in rules):
            self.line("state = shared.state")
        if any(r.per and r.state for r in rules):
            self.line("states_get = shared.states.get")
        if self.groups:
            self.bind("GROUP", _group)
            self.line(f"{' = '.join(f'g{k}' for k in range(len(self.groups)))} = None  # GROUP()")
        if any(r.counted for r in rules):
            self.line("now = occ.time")
            if any(r.counted and i not in self.slot for i, r in enumerate(rules)):
                self.line("counters_get = shared.counters.get")
            self.line("new_counter = shared.counter")
        if any(r.probability is not None for r in rules):
            self.line("draw = None  # ctx.rng.random, asked for on the first draw")
        if self.pers:
            if any(p in per for per in self.pers for p in ("sender", "recipient")):
                self.line("stage = occ.stage")
                self.bind("MAIL", Stage.MAIL)
                self.bind("RCPT", Stage.RCPT)
            if any("client" in per for per in self.pers):
                self.bind("CLIENT_IP", client_ip)
        for k, per in enumerate(self.pers):
            parts = "".join(f"{_PART_CODE[p]}, " for p in per)
            self.line(f"key{k} = ({parts})  # per {'+'.join(per)}")

    def rule(self, i: int) -> None:
        rule = self.rules[i]
        self.line(f"# {rule.label!r}")
        opened = self.filters(i)
        self.counting(i)
        opened += self.counter_conditions(i)
        self.probability(i)
        self.depth -= opened

    def chain(self, first: bool, fails: str, i: int, condition: str, was: str) -> None:
        """One condition of rule ``i`` in an if/elif chain: when it fails, what is kept."""
        self.line(f"{'if' if first else 'elif'} {fails}:")
        self.line(f"    {self.keep(i, condition, was)}")

    def keep(self, i: int, condition: str, was: str) -> str:
        """What rule ``i`` keeps when ``condition`` fails (NearMisses)."""
        ways = self.layout[i][1]
        if len(ways) == 1:
            return f"keep({was})"
        return f"misses += ({[name for name, _ in ways].index(condition)}, {was})"

    def filters(self, i: int) -> int:
        """The filter conditions as an if/elif chain; returns 1 if it left an ``else`` open."""
        rule = self.rules[i]
        first = True
        for name in rule.conditions_set:
            wanted = self.value(i, name, getattr(rule, name))
            fails, was = self.filter_code(i, name, wanted)
            self.chain(first, fails, i, name, was)
            first = False
        if first:
            return 0
        self.line("else:")
        self.depth += 1
        return 1

    def filter_code(self, i: int, name: str, wanted: str) -> tuple[str, str]:
        """(the test that the filter fails, what the near miss says it was)."""
        rule = self.rules[i]
        if name == "match":
            return f"not mt[{self.globs.index(_lower_glob(rule))}]", 'argument or "(nothing)"'
        if name == "tls":
            return f"tls is not {wanted}", "tls"
        if name == "authenticated":
            was = "auth_user if auth_user is not None else False"
            if isinstance(rule.authenticated, bool):
                return f"(auth_user is not None) is not {wanted}", was
            test = self.bind(f"AUTH{i}", _auth_glob(str(rule.authenticated)))
            return f"auth_user is None or {test}(auth_user.lower()) is None", was
        if name == "size":
            return f"not {wanted}.holds(size)", "size"
        if name == "state":
            if rule.per is None:
                return f"state not in {wanted}", "state"
            k = self.pers.index(rule.per)
            per = self.value(i, "per", rule.per)
            got = f"states_get(({per}, key{k}), {INITIAL_STATE!r})"
            return f"(state{i} := {got}) not in {wanted}", f"state{i}"
        # nth, connection, greeted, message, body: membership of the local of that name
        return f"{name} not in {wanted}", name

    def counting(self, i: int) -> None:
        """Count the occurrence for the rule (matching.count(), inline): ``c`` its counter,
        ``n`` the count its conditions read."""
        rule = self.rules[i]
        if not rule.counted:
            return
        key = "()" if not rule.per else f"key{self.pers.index(rule.per)}"
        if i in self.slot:
            k, slot = self.slot[i]
            members = ",".join(str(self.rules[p].index) for p in self.groups[k])
            self.once(f"g{k}", f"GROUP(shared, {members!r}, {key}, {len(self.groups[k])})")
            self.line(f"c = g{k}[{slot}]")
            self.line("if c is None:")
            self.line(f"    c = g{k}[{slot}] = new_counter({rule.index}, {key})")
        else:
            self.line(f"c = counters_get(({rule.index}, {key}))")
            self.line("if c is None:")
            self.line(f"    c = new_counter({rule.index}, {key})")
        simple = rule.window is None and rule.fixed_window is None
        reads = any(getattr(rule, name) is not None for name in ("first", "after", "every"))
        self.line("c.seen = n = c.seen + 1" if simple and reads else "c.seen += 1")
        self.line("if c.first_time is None:")
        self.line("    c.first_time = now")
        if rule.window is not None:
            self.bind("DEQUE", deque)
            window = self.value(i, "window", rule.window)
            self.line("recent = c.recent")
            self.line("if recent is None:")
            self.line("    recent = c.recent = DEQUE()")
            self.line(f"while recent and recent[0] <= now - {window}:")
            self.line("    recent.popleft()")
            self.line("recent.append(now)")
            self.line("n = len(recent)")
        elif rule.fixed_window is not None:
            fixed = self.value(i, "fixed_window", rule.fixed_window)
            self.line("start = c.window_start")
            self.line(f"if start is None or now >= start + {fixed}:")
            self.line("    c.window_start, c.window_seen = now, 0")
            self.line("c.window_seen += 1")
            self.line("n = c.window_seen")

    def counter_conditions(self, i: int) -> int:
        """matching.counter_miss() for the conditions the rule sets, as an if/elif chain."""
        rule = self.rules[i]
        checks: list[tuple[str, str, str]] = []  # (condition, test that it fails, was)
        for name, fails in (("first", "n > {}"), ("after", "n <= {}"), ("every", "n % {}")):
            if getattr(rule, name) is not None:
                checks.append((name, fails.format(self.value(i, name, getattr(rule, name))), "n"))
        if rule.within is not None:
            within = self.value(i, "within", rule.within)
            checks.append(("within", f"now - c.first_time >= {within}", "now - c.first_time"))
        if rule.times is not None:
            checks.append(("times", f"c.fired >= {rule.times}", "c.fired"))
        for k, (name, fails, was) in enumerate(checks):
            self.chain(k == 0, fails, i, name, was)
        if not checks:
            return 0
        self.line("else:")
        self.depth += 1
        return 1

    def probability(self, i: int) -> None:
        rule = self.rules[i]
        counter = "c" if rule.counted else "None"  # not counted: counted when it fires
        fire = f"return FIRE({i}, {counter}, occ, shared, misses)"
        if rule.probability is None:
            self.line(fire)
            return
        p = self.value(i, "probability", rule.probability)
        self.once("draw", "ctx.rng.random")
        self.line("d = draw()")
        self.line(f"if d < {p}:")
        self.line(f"    {fire}")
        self.line(self.keep(i, "probability", "d"))


def _runs(rules: tuple[Rule, ...]) -> list[list[int]]:
    """Runs of at least RUN rules in a row whose first filter is ``match`` (no ``nth`` or
    ``connection`` before it): when all of them fail it, the run's near misses depend on the
    argument alone."""
    runs: list[list[int]] = []
    current: list[int] = []
    for i, rule in enumerate((*rules, None)):
        if rule is not None and rule.conditions_set[:1] == ("match",):
            current.append(i)
            continue
        if len(current) >= RUN:
            runs.append(current)
        current = []
    return runs


def _ways(rule: Rule) -> tuple[tuple[str, Any], ...]:
    """The ways the rule can miss, (condition, wanted) each, in the order they are checked:
    its filters, its counter conditions, its probability (matching.select_steps())."""
    names = (
        *rule.conditions_set,
        *(n for n in _COUNTER_CONDITIONS if getattr(rule, n) is not None),
    )
    ways = [(name, getattr(rule, name)) for name in names]
    if rule.probability is not None:
        ways.append(("probability", rule.probability))
    return tuple(ways)


#: matching.counter_miss()'s conditions, in its order
_COUNTER_CONDITIONS = ("first", "after", "every", "within", "times")


def _groups(rules: tuple[Rule, ...]) -> list[list[int]]:
    """Rules counted on the same key (the same ``per``, or none), at least two: their counters
    are looked up once a command for them all (positions in ``rules``). ``per: connection``
    keys are left out: their counters are forgotten when the connection ends."""
    by_per: dict[tuple[str, ...] | None, list[int]] = {}
    for i, rule in enumerate(rules):
        if rule.counted and "connection" not in (rule.per or ()):
            by_per.setdefault(rule.per, []).append(i)
    return [group for group in by_per.values() if len(group) >= 2]
