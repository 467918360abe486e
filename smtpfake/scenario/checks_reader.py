"""Reading ``checks:`` (see checks.py): the probe's judged checks, the client's inputs, tags.

```yaml
checks:
  tags: [tls]
  client: {tls: starttls, message: eight-bit, to: [a@probe.test, b@probe.test]}
  judge:
    - outcome: transient
      rfc: RFC 5321 §4.2.1
    - delivered: 1
      rfc: RFC 5321 §4.5.4.1
      clients: retrying
      level: should
```
"""

from __future__ import annotations

from typing import Any

from smtpfake.scenario.checks import (
    CHECK_KINDS,
    MESSAGE_NAMES,
    OUTCOMES,
    TLS_MODES,
    Check,
    Checks,
    ClientInput,
    ClientKind,
    Level,
)
from smtpfake.scenario.model import Stage
from smtpfake.scenario.nodes import MappingNode, Node, ScalarNode, SequenceNode
from smtpfake.scenario.violations import VIOLATION_KINDS
from smtpfake.scenario.yamlwalk import INVALID, Walker, did_you_mean, is_text, kind, rejected

CHECKS_KEYS = ("tags", "client", "judge")
CLIENT_KEYS = ("from", "to", "message", "tls", "auth")
#: what a check item may hold besides its kind
CHECK_ITEM_KEYS = ("rfc", "level", "clients")
_LEVELS = tuple(level.value for level in Level)
_CLIENTS = tuple(c.value for c in ClientKind)
#: what ``never-sent`` may name: the command verbs smtpfake reads (its stages but the greeting,
#: the final ".", unknown commands and "any"); a test holds them to the engine's commands
COMMAND_VERBS = tuple(
    s.value.upper()
    for s in Stage
    if s not in (Stage.CONNECT, Stage.END_OF_DATA, Stage.UNKNOWN, Stage.ANY)
)
#: the closed vocabulary of each check that lists names: (allowed, what one is called)
_VOCABULARY: dict[str, tuple[tuple[str, ...], str]] = {
    "no-violations": (tuple(VIOLATION_KINDS), "violation kind"),
    "forbid": (tuple(VIOLATION_KINDS), "violation kind"),
    "never-sent": (COMMAND_VERBS, "command verb"),
}


class ChecksReader(Walker):
    def checks(self, node: Node) -> Any:
        readers = {"tags": self.word_list, "client": self.client_input, "judge": self.judge}
        kw, _ = self.fields(node, "checks", readers, CHECKS_KEYS)
        if not isinstance(node, MappingNode) or any(v is INVALID for v in kw.values()):
            return INVALID
        return Checks(**kw)

    def word_list(self, node: Node, what: str) -> Any:
        """A list of strings (or one string)."""
        items = node.value if isinstance(node, SequenceNode) else [node]
        words = [self.typed(n, what, is_text, "a word") for n in items]
        return INVALID if INVALID in words else tuple(str(w) for w in words)

    def client_input(self, node: Node, what: str) -> Any:
        readers = {
            "from": self.string,
            "to": self.word_list,
            "message": lambda n, w: self.choice(n, w, MESSAGE_NAMES),
            "tls": lambda n, w: self.choice(n, w, TLS_MODES),
            "auth": self.boolean,
        }
        read, nodes = self.fields(node, what, readers, CLIENT_KEYS)
        if "to" in read and read["to"] == ():
            self.problem(nodes["to"], f"{what}.to: expected at least one address")
            return INVALID
        if not isinstance(node, MappingNode) or any(v is INVALID for v in read.values()):
            return INVALID
        names = {"from": "sender", "to": "recipients"}
        return ClientInput(**{names.get(k, k): v for k, v in read.items()})

    def judge(self, node: Node, what: str) -> Any:
        if rejected(node):
            return INVALID
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what}: expected a list of checks, got {kind(node)}")
            return INVALID
        items = [self.check(n, f"{what}[{i + 1}]") for i, n in enumerate(node.value)]
        return INVALID if INVALID in items else tuple(items)

    def check(self, node: Node, what: str) -> Any:
        entries = self.mapping(node, what)
        kinds = [(k, kn, v) for k, kn, v in entries if k in CHECK_KINDS]
        extra: dict[str, Any] = {}
        for key, key_node, value in entries:
            if key in CHECK_KINDS:
                continue
            if key == "rfc":
                extra["rfc"] = self.string(value, f"{what}.rfc")
            elif key == "level":
                level = self.choice(value, f"{what}.level", _LEVELS)
                extra["level"] = level if level is INVALID else Level(level)
            elif key == "clients":
                clients = self.choice(value, f"{what}.clients", _CLIENTS)
                extra["clients"] = clients if clients is INVALID else (ClientKind(clients),)
            else:
                self.unknown_key(key_node, key, (*CHECK_KINDS, *CHECK_ITEM_KEYS), what)
        if not isinstance(node, MappingNode):
            return INVALID
        if len(kinds) != 1:
            found = ", ".join(k for k, _, _ in kinds) or "none"
            self.problem(
                node,
                f"{what}: expected exactly one check ({', '.join(CHECK_KINDS)}), found {found}",
            )
            return INVALID
        if "rfc" not in extra:
            self.problem(node, f"{what}: missing 'rfc': the RFC section this check comes from")
            return INVALID
        name, _, value_node = kinds[0]
        value = self.check_value(name, value_node, f"{what}.{name}")
        if value is INVALID or INVALID in extra.values():
            return INVALID
        _, applies, _ = CHECK_KINDS[name]
        clients = extra.pop("clients", applies)
        if not set(clients) <= set(applies):
            self.problem(
                node,
                f"{what}: '{name}' applies only to {', '.join(map(str, applies))} clients",
            )
            return INVALID
        return Check(name, value, clients=clients, location=self.loc(node), **extra)

    def check_value(self, name: str, node: Node, what: str) -> Any:
        shape = CHECK_KINDS[name][0]
        if shape == "count":
            return self.integer(node, what)
        if shape == "flag":
            return self.boolean(node, what)
        if shape == "outcomes":
            items = node.value if isinstance(node, SequenceNode) else [node]
            values = [self.choice(n, what, OUTCOMES) for n in items]
            return INVALID if INVALID in values or not values else tuple(values)
        # names: a list of words; for no-violations, true means "none allowed"
        if name == "no-violations" and isinstance(node, ScalarNode):
            flag = self.scalar(node, what)
            if flag is True:
                return ()
            if not isinstance(flag, str):  # a kind alone is read below, as a list of one
                flag = self.typed(node, what, lambda v: v is True, "true or a list of kinds")
                return INVALID
        allowed, noun = _VOCABULARY[name]
        # an empty forbid or never-sent could never fail; an empty no-violations allows none
        some = name != "no-violations"
        return self.names(node, what, allowed, noun, upper=name == "never-sent", some=some)

    def names(
        self, node: Node, what: str, allowed: tuple[str, ...], noun: str, *, upper: bool, some: bool
    ) -> Any:
        """One name of ``allowed`` or a list of them, each refused where it stands if unknown;
        ``upper``: compared upper-cased; ``some``: at least one."""
        items = node.value if isinstance(node, SequenceNode) else [node]
        if some and not items:
            self.problem(node, f"{what}: expected at least one {noun}")
            return INVALID
        names = []
        for item in items:
            word = self.typed(item, what, is_text, f"a {noun}")
            if word is INVALID:
                names.append(INVALID)
                continue
            written = str(word)
            name = written.upper() if upper else written
            if name not in allowed:
                self.problem(
                    item,
                    f"{what}: unknown {noun} '{written}'{did_you_mean(name, allowed)} "
                    f"(allowed: {', '.join(allowed)})",
                )
                name = INVALID
            names.append(name)
        return INVALID if INVALID in names else tuple(names)


def checks_schema() -> dict[str, Any]:
    """The JSON Schema of ``checks:`` (part of scenario.schema.json, see schema.py)."""
    words = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    values: dict[str, Any] = {
        "count": {"type": "integer", "minimum": 0},
        "flag": {"type": "boolean"},
        "outcomes": {
            "anyOf": [
                {"enum": list(OUTCOMES)},
                {"type": "array", "items": {"enum": list(OUTCOMES)}, "minItems": 1},
            ]
        },
    }
    kinds = list(VIOLATION_KINDS)
    # never-sent is read case-insensitively, which an enum cannot say: words there
    by_name: dict[str, Any] = {
        "no-violations": {
            "anyOf": [
                {"const": True},
                {"enum": kinds},
                {"type": "array", "items": {"enum": kinds}},
            ]
        },
        "forbid": {
            "anyOf": [{"enum": kinds}, {"type": "array", "items": {"enum": kinds}, "minItems": 1}]
        },
        "never-sent": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ]
        },
    }
    common = {
        "rfc": {"type": "string", "description": "The RFC section the check comes from."},
        "level": {"enum": list(_LEVELS), "default": "must"},
        "clients": {"enum": list(_CLIENTS)},
    }
    items = [
        {
            "type": "object",
            "properties": {
                name: {**(by_name[name] if name in by_name else values[shape]), "description": doc},
                **common,
            },
            "required": [name, "rfc"],
            "additionalProperties": False,
        }
        for name, (shape, _, doc) in CHECK_KINDS.items()
    ]
    return {
        "type": "object",
        "description": "What `smtpfake probe` judges a client on, and what it asks it to do.",
        "properties": {
            "tags": {**words, "description": "Words for --tag; 'waits' marks a slow case."},
            "client": {
                "type": "object",
                "properties": {
                    "from": {"type": "string", "default": ClientInput.sender},
                    "to": {**words, "description": "Recipients (SMTP_TO)."},
                    "message": {"enum": list(MESSAGE_NAMES), "default": "plain"},
                    "tls": {"enum": list(TLS_MODES)},
                    "auth": {"type": "boolean"},
                },
                "additionalProperties": False,
            },
            "judge": {"type": "array", "items": {"oneOf": items}},
        },
        "additionalProperties": False,
    }
