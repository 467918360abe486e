"""Reading the rule conditions on facts about the connection (``greeted``, ``tls``,
``authenticated``, ``message``, ``size``, ``body``) and checking state scopes (``state`` with
``per``). RuleReader inherits these; engine/matching.py evaluates them."""

from __future__ import annotations

from typing import Any

from smtpfake.scenario.errors import Problem
from smtpfake.scenario.model import BODY_TYPES, GREETINGS, INITIAL_STATE, Rule, SizeBounds, Stage
from smtpfake.scenario.nodes import MappingNode, Node, ScalarNode, SequenceNode
from smtpfake.scenario.yamlwalk import INVALID, Walker, did_you_mean, is_int, kind

#: where a transaction fact has a value: its MAIL, and what follows it
TRANSACTION_STAGES = frozenset(
    {Stage.MAIL, Stage.RCPT, Stage.DATA, Stage.END_OF_DATA, Stage.BDAT, Stage.ANY}
)
#: the conditions that only hold inside a mail transaction
TRANSACTION_FACTS = ("message", "size", "body")


class FactsReader(Walker):
    def words(self, node: Node, what: str, allowed: tuple[str, ...]) -> Any:
        """One word of ``allowed`` or a list of them (case-insensitive), as a tuple."""
        nodes = node.value if isinstance(node, SequenceNode) else [node]
        out: list[str] = []
        for n in nodes:
            value = self.string(n, what)
            if value is INVALID:
                return INVALID
            word = value.strip().lower()
            if word not in allowed:
                self.problem(
                    n,
                    f"{what}: unknown value '{value}'{did_you_mean(word, allowed)} "
                    f"(allowed: {', '.join(allowed)})",
                )
                return INVALID
            out.append(word)
        if not out:
            self.problem(node, f"{what}: expected at least one of: {', '.join(allowed)}")
            return INVALID
        return tuple(dict.fromkeys(out))

    def greeted(self, node: Node, what: str) -> Any:
        return self.words(node, what, GREETINGS)

    def body_types(self, node: Node, what: str) -> Any:
        return self.words(node, what, BODY_TYPES)

    def authenticated(self, node: Node, what: str) -> Any:
        """true, false, or the user it succeeded for (a glob)."""
        value = self.scalar(node, what)
        if value is INVALID or isinstance(value, bool):
            return value
        if isinstance(value, str | int) and str(value).strip():
            return str(value).strip()
        self.problem(node, f"{what}: expected true, false or a user name (a glob such as 'bot-*')")
        return INVALID

    def size_bounds(self, node: Node, what: str) -> Any:
        """``none``, or ``{min, max}`` octets."""
        if isinstance(node, ScalarNode):
            value = self.scalar(node, what)
            if value == "none":
                return SizeBounds(declared=False)
            if value is not INVALID:
                self.problem(
                    node,
                    f"{what}: expected none (no SIZE= declared) or {{min: N, max: N}} octets, "
                    f"got {kind(node)}",
                )
            return INVALID
        kw, _ = self.fields(node, what, {"min": self.octets, "max": self.octets}, ("min", "max"))
        if not isinstance(node, MappingNode) or INVALID in kw.values():
            return INVALID
        if not kw:
            self.problem(node, f"{what}: give min, max or both")
            return INVALID
        low, high = kw.get("min"), kw.get("max")
        if low is not None and high is not None and low > high:
            self.problem(node, f"{what}: min {low} is more than max {high}")
            return INVALID
        return SizeBounds(minimum=low, maximum=high)

    def octets(self, node: Node, what: str) -> Any:
        return self.typed(node, what, lambda v: is_int(v) and v >= 0, "a number of octets")

    def facts_agree(self, kw: dict[str, Any], nodes: dict[str, Node], where: str) -> None:
        """A transaction fact on a stage outside any transaction could never hold."""
        for key in TRANSACTION_FACTS:
            if key not in kw:
                continue
            wrong = sorted(s.value for s in kw["stages"] - TRANSACTION_STAGES)
            if wrong:
                allowed = ", ".join(sorted(s.value for s in TRANSACTION_STAGES))
                self.problem(
                    nodes[key],
                    f"{where}.{key}: there is no mail transaction on {', '.join(wrong)} "
                    f"(it is known on: {allowed})",
                )

    def state_scopes(self, rules: tuple[Any, ...]) -> None:
        """A state a rule requires under a ``per`` key must be entered under the same key: the
        states of ``per: connection`` are each connection's own, apart from the server's."""
        scopes: dict[str, set[tuple[str, ...] | None]] = {}  # state -> the pers it is entered in
        for r in rules:
            if isinstance(r, Rule) and r.next_state:
                scopes.setdefault(r.next_state, set()).add(r.per)
        for rule in rules:
            if not isinstance(rule, Rule) or rule.state is None or rule.location is None:
                continue
            for name in rule.state:
                kept = scopes.get(name)
                # the initial state is everyone's; a state never entered at all is reported
                # by RuleReader.rules
                if name == INITIAL_STATE or not kept or rule.per in kept:
                    continue
                scope = "+".join(rule.per) if rule.per else "the server"
                where = sorted("+".join(p) if p else "the server" for p in kept)
                self.problems.append(
                    Problem(
                        rule.location,
                        f"rules[{rule.index}].state: '{name}' is never entered for {scope}: the "
                        f"rules with next_state: {name} keep it for {', '.join(where)} (give "
                        "them the same per:)",
                    )
                )
