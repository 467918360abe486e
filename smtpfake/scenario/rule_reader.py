"""Reading ``rules:``: each rule's stages, conditions and faults, and the checks that need
several keys or several rules at once (conditions that never hold, states never entered).

RULE_KEYS (the keys besides the faults) is at the end, built from the table of conditions.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from smtpfake.scenario import limits
from smtpfake.scenario.facts_reader import FactsReader
from smtpfake.scenario.fault_reader import FaultReader
from smtpfake.scenario.faults import REGISTRY, Fault
from smtpfake.scenario.model import INITIAL_STATE, PER_PARTS, Rule, Stage
from smtpfake.scenario.nodes import MappingNode, Node, SequenceNode
from smtpfake.scenario.yamlwalk import INVALID, did_you_mean, is_number, is_text, kind, rejected

_COUNTERS = ("first", "after", "every")
# Where a per-key part has a value: no sender before MAIL, no recipient before RCPT.
_PER_STAGES = {
    "sender": frozenset(
        {Stage.MAIL, Stage.RCPT, Stage.DATA, Stage.END_OF_DATA, Stage.BDAT, Stage.ANY}
    ),
    "recipient": frozenset({Stage.RCPT, Stage.DATA, Stage.END_OF_DATA, Stage.BDAT, Stage.ANY}),
}
STAGES = tuple(s.value for s in Stage)
#: what ``per`` keys: a rule with ``per`` sets at least one of these
PER_NEEDS = ("times", "within", *_COUNTERS, "state", "next_state")


class RuleReader(FaultReader, FactsReader):
    def __init__(self, source: str) -> None:
        super().__init__(source)
        # state names rules require (with where) and move to; checked once all rules are read
        self.states_required: list[tuple[str, Node, str]] = []
        self.states_entered: set[str] = set()

    def rules(self, node: Node) -> Any:
        if rejected(node):
            return INVALID
        if not isinstance(node, SequenceNode):
            self.problem(node, f"rules: expected a list of rules, got {kind(node)}")
            return INVALID
        if len(node.value) > limits.MAX_RULES:
            self.problem(
                node.value[limits.MAX_RULES],
                f"rules: {len(node.value):,} rules; a scenario has at most {limits.MAX_RULES:,}",
            )
            return INVALID
        rules = tuple(self.rule(n, i + 1) for i, n in enumerate(node.value))
        # A required state no rule moves to is a typo or a rule that can never fire.
        entered = {INITIAL_STATE, *self.states_entered}
        for name, state_node, what in self.states_required:
            if name not in entered:
                self.problem(
                    state_node,
                    f"{what}: state '{name}' is never entered: the server starts in "
                    f"'{INITIAL_STATE}' and no rule has next_state: {name}"
                    f"{did_you_mean(name, sorted(entered))}",
                )
        self.state_scopes(rules)
        return rules

    def rule(self, node: Node, index: int) -> Any:
        where = f"rules[{index}]"
        kw: dict[str, Any] = {}
        faults: list[Fault] = []
        entries = self.mapping(node, where)  # once: each call reports the mapping's problems
        fault_keys = [k for k, _, _ in entries if k in REGISTRY]
        suggested: set[str] = set()  # what misspelt keys were probably meant to be
        for key, key_node, value in entries:
            what = f"{where}.{key}"
            if key == "on":
                kw["stages"] = self.stages(value, what)
            elif key in ("name", "match"):
                kw[key] = self.string(value, what)
            elif key in ("nth", "connection"):
                kw[key] = self.int_list(value, what)
            elif key == "times":
                kw[key] = self.integer(value, what, 1)
            elif key in _CONDITIONS:
                kw[key] = self.condition(key, value, what)
            elif key in REGISTRY:
                fault = self.fault(REGISTRY[key], key_node, value, what)
                if fault is not None:
                    faults.append(fault)
            else:
                allowed = (*RULE_KEYS, *REGISTRY)
                suggested.update(difflib.get_close_matches(key, allowed, n=1, cutoff=0.6))
                self.problem(
                    key_node,
                    f"{where}: unknown key '{key}'{did_you_mean(key, allowed)} "
                    f"(conditions: {', '.join(RULE_KEYS)}; faults: {', '.join(sorted(REGISTRY))})",
                )
        if isinstance(node, MappingNode):
            # A misspelt 'on' or fault is reported once, as the unknown key with its did-you-mean.
            if "stages" not in kw and "on" not in suggested:
                self.problem(
                    node, f"{where}: missing 'on' (where the rule fires: {', '.join(STAGES)})"
                )
            no_effect = not fault_keys and "next_state" not in kw  # moving state is an effect
            if no_effect and "stages" in kw and not suggested & REGISTRY.keys():
                self.problem(
                    node,
                    f"{where}: the rule does nothing; add a fault ({', '.join(sorted(REGISTRY))})",
                )
        if any(v is INVALID for v in kw.values()) or "stages" not in kw:
            return INVALID
        for key, key_node, _ in entries:
            # A fault that only acts on some stages (cut_body: data) would silently do nothing.
            only = REGISTRY[key].stages if key in REGISTRY else None
            wrong = sorted(s.value for s in kw["stages"] if only and s.value not in only)
            if wrong:
                self.problem(
                    key_node,
                    f"{where}.{key}: works only on {', '.join(sorted(only or ()))}, "
                    f"not on {', '.join(wrong)}",
                )
                return INVALID
        if not self.conditions_agree(kw, {k: v for k, _, v in entries}, where):
            return INVALID
        return Rule(index=index, faults=tuple(faults), location=self.loc(node), **kw)

    def condition(self, key: str, node: Node, what: str) -> Any:
        """A counting, chance or state condition (see Rule and engine/matching.py)."""
        return _CONDITIONS[key](self, node, what)

    def count(self, node: Node, what: str) -> Any:
        return self.integer(node, what, 1)

    def probability(self, node: Node, what: str) -> Any:
        value = self.typed(node, what, is_number, "a number from 0 to 1")
        if value is not INVALID:
            value = self.ranged(node, what, value, 0, 1, want="from 0 to 1 (0.3 = 30%)")
        return value if value is INVALID else float(value)

    def required_states(self, node: Node, what: str) -> Any:
        """``state``: one name or a list of them."""
        nodes = node.value if isinstance(node, SequenceNode) else [node]
        names = [self.state_name(n, what, required=True) for n in nodes]
        if not names:
            self.problem(node, f"{what}: expected at least one state name")
        return INVALID if INVALID in names or not names else tuple(names)

    def next_state(self, node: Node, what: str) -> Any:
        return self.state_name(node, what, required=False)

    def state_name(self, node: Node, what: str, *, required: bool) -> Any:
        name = self.typed(node, what, is_text, "a state name")
        if name is INVALID:
            return INVALID
        name = str(name).strip()
        if not name:
            self.problem(node, f"{what}: a state name must not be empty")
            return INVALID
        if required:
            self.states_required.append((name, node, what))
        else:
            self.states_entered.add(name)
        return name

    def per_key(self, node: Node, what: str) -> Any:
        """``client``, ``sender``, ``recipient`` joined with ``+``, or ``connection`` alone."""
        text = self.string(node, what)
        if text is INVALID:
            return INVALID
        parts = [p.strip() for p in text.split("+")]
        for part in parts:
            if part not in PER_PARTS:
                self.problem(
                    node,
                    f"{what}: unknown key part '{part}'{did_you_mean(part, PER_PARTS)} "
                    f"(allowed: {', '.join(PER_PARTS)}; join client, sender and recipient "
                    "with '+', e.g. sender+recipient)",
                )
                return INVALID
        if len(set(parts)) != len(parts) or ("connection" in parts and len(parts) > 1):
            self.problem(node, f"{what}: each part once, and 'connection' alone (got '{text}')")
            return INVALID
        return tuple(p for p in PER_PARTS if p in parts)

    def conditions_agree(self, kw: dict[str, Any], nodes: dict[str, Node], where: str) -> bool:
        """Problems only visible across keys: conditions that can never hold or do nothing."""
        before = len(self.problems)
        if "window" in kw and "fixed_window" in kw:
            self.problem(nodes["fixed_window"], f"{where}: give window or fixed_window, not both")
        for key in ("window", "fixed_window"):
            if key in kw and not any(k in kw for k in _COUNTERS):
                self.problem(
                    nodes[key],
                    f"{where}.{key}: it bounds what first, after and every count; add one of them",
                )
        if "first" in kw and "after" in kw and kw["first"] <= kw["after"]:
            self.problem(
                nodes["first"],
                f"{where}: first: {kw['first']} with after: {kw['after']} can never hold "
                "(first must be more than after)",
            )
        self.facts_agree(kw, nodes, where)
        if "per" in kw:
            if not any(k in kw for k in PER_NEEDS):
                self.problem(
                    nodes["per"],
                    f"{where}.per: it keys the counters and the state, so add one of: "
                    f"{', '.join(PER_NEEDS)}",
                )
            for part in kw["per"]:
                wrong = sorted(s.value for s in kw["stages"] - _PER_STAGES.get(part, kw["stages"]))
                if wrong:
                    self.problem(
                        nodes["per"],
                        f"{where}.per: there is no {part} yet on {', '.join(wrong)} "
                        f"(a {part} is known on: "
                        f"{', '.join(sorted(s.value for s in _PER_STAGES[part]))})",
                    )
        return len(self.problems) == before

    def stages(self, node: Node, what: str) -> Any:
        nodes = node.value if isinstance(node, SequenceNode) else [node]
        if not nodes:
            self.problem(node, f"{what}: expected at least one stage ({', '.join(STAGES)})")
            return INVALID
        out: set[Stage] = set()
        for n in nodes:
            value = self.string(n, what)
            if value is INVALID:
                return INVALID
            if value not in STAGES:
                self.problem(
                    n,
                    f"{what}: unknown stage '{value}'{did_you_mean(value, STAGES)} "
                    f"(allowed: {', '.join(STAGES)})",
                )
                return INVALID
            out.add(Stage(value))
        return frozenset(out)


#: The conditions for counting, chance and state, each with its reader (see RuleReader.condition).
_CONDITIONS: dict[str, Callable[[RuleReader, Node, str], Any]] = {
    "per": RuleReader.per_key,
    "first": RuleReader.count,
    "after": RuleReader.count,
    "every": RuleReader.count,
    "window": RuleReader.seconds,
    "fixed_window": RuleReader.seconds,
    "within": RuleReader.seconds,
    "probability": RuleReader.probability,
    "state": RuleReader.required_states,
    "next_state": RuleReader.next_state,
    "greeted": RuleReader.greeted,
    "tls": RuleReader.boolean,
    "authenticated": RuleReader.authenticated,
    "message": RuleReader.int_list,
    "size": RuleReader.size_bounds,
    "body": RuleReader.body_types,
}
RULE_KEYS = ("on", "name", "match", "nth", "connection", "times", *_CONDITIONS)
