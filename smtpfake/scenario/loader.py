"""YAML -> :class:`Scenario`, safely, reporting every problem at ``file:line:col``.

The YAML is composed into nodes (no object construction, so no arbitrary tags) and walked by hand,
so each problem knows where it is. Nothing is half-loaded: any problem raises ScenarioError.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Union

import yaml

from smtpfake.scenario.errors import Problem, ScenarioError
from smtpfake.scenario.faults import REGISTRY, Fault
from smtpfake.scenario.model import (
    AUTH_MECHANISMS,
    INITIAL_STATE,
    PER_PARTS,
    AuthSettings,
    Location,
    Rule,
    Scenario,
    ServerSettings,
    Stage,
    TlsSettings,
    ehlo_keyword,
)

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_YAML_TAG_PREFIX = "tag:yaml.org,2002:"
# Marks a scalar whose tag was already reported, so the walk skips it instead of reporting again.
_REJECTED_TAG = "!smtpfake/rejected"

TOP_KEYS = ("name", "summary", "expect", "description", "seed", "server", "rules")
# The conditions for counting, chance and state, read by _Walker.condition.
_CONDITIONS = (
    "per",
    "first",
    "after",
    "every",
    "window",
    "fixed_window",
    "within",
    "probability",
    "state",
    "next_state",
)
RULE_KEYS = ("on", "name", "match", "nth", "connection", "times", *_CONDITIONS)
_COUNTERS = ("first", "after", "every")
_SECONDS = ("window", "fixed_window", "within")
# Where a per-key part has a value: no sender before MAIL, no recipient before RCPT.
_PER_STAGES = {
    "sender": frozenset({Stage.MAIL, Stage.RCPT, Stage.DATA, Stage.END_OF_DATA, Stage.ANY}),
    "recipient": frozenset({Stage.RCPT, Stage.DATA, Stage.END_OF_DATA, Stage.ANY}),
}
SERVER_KEYS = tuple(f.name for f in dataclasses.fields(ServerSettings))
AUTH_KEYS = tuple(f.name for f in dataclasses.fields(AuthSettings))
#: EHLO keywords of registered SMTP extensions (IANA), for typos in extensions_remove
KNOWN_KEYWORDS = (
    *("PIPELINING", "SIZE", "STARTTLS", "AUTH", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"),
    *("DSN", "HELP", "CHUNKING", "BINARYMIME", "ETRN", "VRFY", "EXPN", "DELIVERBY", "REQUIRETLS"),
    *("MT-PRIORITY", "FUTURERELEASE", "LIMITS", "ATRN", "BURL", "CHECKPOINT", "RRVS", "TURN"),
)
TLS_KEYS = tuple(f.name for f in dataclasses.fields(TlsSettings) if f.name != "location")
STAGES = tuple(s.value for s in Stage)


# Words people reach for that are not the stage's name.
_HINTS = {
    "greeting": "connect",
    "banner": "connect",
    "eod": "end_of_data",
    "dot": "end_of_data",
    "message": "end_of_data",
    "mail_from": "mail",
    "rcpt_to": "rcpt",
}


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close and _HINTS.get(word.lower()) in options:
        close = [_HINTS[word.lower()]]
    return f"; did you mean '{close[0]}'?" if close else ""


class _Walker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self._constructor = yaml.SafeLoader("")
        # state names rules require (with where) and move to; checked once all rules are read
        self.states_required: list[tuple[str, yaml.Node, str]] = []
        self.states_entered: set[str] = set()

    # -- helpers -------------------------------------------------------------------------------

    def loc(self, node: yaml.Node) -> Location:
        return Location(self.source, node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(self, node: yaml.Node, message: str) -> None:
        self.problems.append(Problem(self.loc(node), message))

    def tags(self, root: yaml.Node) -> yaml.Node:
        """Report every tag a scenario may not use (``!!python/...``, ``!!set``, ``!custom``) once.

        A node with such a tag is replaced by a stand-in that the walk skips silently, so each
        one gives one problem; the rest of the file is still walked. Returns the (new) root.
        """
        stand_ins: dict[int, yaml.Node] = {}  # by id: an alias is the same node again

        def checked(node: yaml.Node) -> yaml.Node:
            if isinstance(node, yaml.ScalarNode):
                if node.tag == _TIMESTAMP_TAG:
                    node.tag = _STR_TAG  # an unquoted date is read as written
                elif node.tag not in _SCALAR_TAGS and node.tag != _REJECTED_TAG:
                    self.problem(node, _tag_message(node.tag))
                    node.tag = _REJECTED_TAG
                return node
            plain = _MAP_TAG if isinstance(node, yaml.MappingNode) else _SEQ_TAG
            if node.tag == plain:
                return node
            if id(node) not in stand_ins:
                self.problem(node, _tag_message(node.tag))
                stand_ins[id(node)] = yaml.ScalarNode(
                    _REJECTED_TAG, "", node.start_mark, node.end_mark
                )
            return stand_ins[id(node)]

        root = checked(root)
        seen: set[int] = set()
        stack = [root]
        while stack:
            node = stack.pop()
            if id(node) in seen or isinstance(node, yaml.ScalarNode):
                continue
            seen.add(id(node))
            if isinstance(node, yaml.MappingNode):
                node.value = [(checked(k), checked(v)) for k, v in node.value]
                stack.extend(n for pair in node.value for n in pair)
            else:
                node.value = [checked(n) for n in node.value]
                stack.extend(node.value)
        return root

    def scalar(self, node: yaml.Node, what: str) -> Any:
        """The Python value of a scalar node; problems for anything else."""
        if isinstance(node, yaml.ScalarNode) and node.tag in _SCALAR_TAGS:
            return self._constructor.construct_object(node)
        if _rejected(node):
            return _INVALID  # reported by tags()
        if isinstance(node, yaml.ScalarNode | yaml.MappingNode | yaml.SequenceNode) and (
            node.tag not in _SCALAR_TAGS | {_MAP_TAG, _SEQ_TAG}
        ):
            self.problem(node, f"{what}: YAML tag {node.tag!r} is not allowed in a scenario")
            return _INVALID
        self.problem(node, f"{what}: expected a single value, got {_kind(node)}")
        return _INVALID

    def mapping(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if _rejected(node):
            return []  # reported by tags()
        if not isinstance(node, yaml.MappingNode) or node.tag != _MAP_TAG:
            self.problem(node, f"{what}: expected a mapping, got {_kind(node)}")
            return []
        out: list[tuple[str, yaml.Node, yaml.Node]] = []
        seen: set[str] = set()
        for key_node, value_node in node.value:
            # Keys are read as written: YAML 1.1 would turn the key `on` into True.
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, f"{what}: a key must be a plain word, got {_kind(key_node)}")
                continue
            if _rejected(key_node):
                continue  # reported by tags()
            key = str(key_node.value)
            if key in seen:
                self.problem(key_node, f"{what}: duplicate key '{key}'")
                continue
            seen.add(key)
            out.append((key, key_node, value_node))
        return out

    def typed(self, node: yaml.Node, what: str, check: Callable[[Any], bool], want: str) -> Any:
        value = self.scalar(node, what)
        if value is _INVALID:
            return _INVALID
        if not check(value):
            self.problem(node, f"{what}: expected {want}, got {_describe(value)}")
            return _INVALID
        return value

    def string(self, node: yaml.Node, what: str) -> Any:
        return self.typed(node, what, lambda v: isinstance(v, str), "a string")

    def integer(self, node: yaml.Node, what: str, minimum: int = 0) -> Any:
        value = self.typed(node, what, _is_int, "a whole number")
        if value is not _INVALID and value < minimum:
            self.problem(node, f"{what}: must be at least {minimum}, got {value}")
            return _INVALID
        return value

    def int_list(self, node: yaml.Node, what: str) -> Any:
        """A positive whole number or a list of them."""
        if isinstance(node, yaml.SequenceNode):
            items = [self.integer(n, what, 1) for n in node.value]
            if not items:
                self.problem(node, f"{what}: expected at least one number")
            return _INVALID if _INVALID in items or not items else tuple(items)
        value = self.integer(node, what, 1)
        return _INVALID if value is _INVALID else (value,)

    # -- the document ----------------------------------------------------------------------------

    def scenario(self, root: yaml.Node, name: str, require_docs: bool) -> Scenario | None:
        root = self.tags(root)
        fields: dict[str, Any] = {}
        for key, key_node, value in self.mapping(root, "scenario"):
            if key == "name":
                fields["name"] = self.string(value, "name")
            elif key in ("summary", "expect", "description"):
                fields[key] = self.string(value, key)
            elif key == "seed":
                fields["seed"] = self.integer(value, "seed")
            elif key == "server":
                fields["server"] = self.server(value)
            elif key == "rules":
                fields["rules"] = self.rules(value)
            else:
                self.problem(
                    key_node,
                    f"unknown key '{key}'{did_you_mean(key, TOP_KEYS)} "
                    f"(allowed: {', '.join(TOP_KEYS)})",
                )
        if isinstance(root, yaml.MappingNode) and require_docs:
            for key, why in (
                ("summary", "one line saying what this scenario does"),
                ("expect", "what a correct client is expected to do"),
            ):
                if key not in fields:
                    self.problem(root, f"missing '{key}': {why}")
        if self.problems or not isinstance(root, yaml.MappingNode):
            return None
        return Scenario(
            name=fields.get("name") or name,
            summary=fields.get("summary", "Inline scenario."),
            expect=fields.get("expect", ""),
            description=fields.get("description", ""),
            seed=fields.get("seed"),
            server=fields.get("server", ServerSettings()),
            rules=fields.get("rules", ()),
            source=self.source,
        )

    def server(self, node: yaml.Node) -> Any:
        kw: dict[str, Any] = {}
        removals: list[tuple[yaml.Node, str]] = []
        for key, key_node, value in self.mapping(node, "server"):
            what = f"server.{key}"
            if key in ("hostname", "greeting"):
                kw[key] = self.string(value, what)
            elif key in ("extensions", "extensions_add", "extensions_remove"):
                if _rejected(value):
                    kw[key] = _INVALID
                    continue
                if not isinstance(value, yaml.SequenceNode):
                    self.problem(
                        value, f"{what}: expected a list of EHLO keywords, got {_kind(value)}"
                    )
                    continue
                exts = [self.typed(n, what, _is_text, "an EHLO keyword") for n in value.value]
                kw[key] = tuple(str(e).strip() for e in exts)
                if key == "extensions_remove":
                    removals = list(zip(value.value, kw[key], strict=True))
            elif key == "require_helo":
                kw[key] = self.typed(value, what, lambda v: isinstance(v, bool), "true or false")
            elif key in ("max_recipients", "max_message_bytes"):
                kw[key] = self.integer(value, what, 1)
            elif key in ("idle_timeout", "close_after", "retry_after"):
                kw[key] = self.timer_seconds(value, what)
            elif key == "auth":
                kw[key] = self.auth(value, what)
            elif key == "tls":
                kw[key] = self.tls(value, what)
            else:
                self.problem(
                    key_node,
                    f"server: unknown key '{key}'{did_you_mean(key, SERVER_KEYS)} "
                    f"(allowed: {', '.join(SERVER_KEYS)})",
                )
        if any(v is _INVALID for v in kw.values()):
            return _INVALID
        settings = ServerSettings(**kw)
        self.removals(settings, removals)
        return settings

    def removals(self, settings: ServerSettings, removals: list[tuple[yaml.Node, str]]) -> None:
        """``extensions_remove`` names keywords. Removing one that is not advertised does
        nothing (``[STARTTLS]`` says "no TLS here" even on the default list), but one that is
        neither advertised nor a known keyword and looks like one of them is a typo."""
        every = dataclasses.replace(settings, extensions_remove=())
        offered = [
            ehlo_keyword(e)
            for tls_active in (False, True)
            for e in every.advertised(tls_active=tls_active)
        ]
        for node, keyword in removals:
            word = keyword.upper()
            hint = did_you_mean(word, dict.fromkeys([*offered, *KNOWN_KEYWORDS]))
            if " " in keyword:
                self.problem(
                    node,
                    f"server.extensions_remove: expected a keyword alone, got '{keyword}' "
                    f"(write '{ehlo_keyword(keyword)}')",
                )
            elif word not in offered and word not in KNOWN_KEYWORDS and hint:
                self.problem(
                    node,
                    f"server.extensions_remove: '{keyword}' is not an EHLO keyword{hint} "
                    f"(advertised: {', '.join(dict.fromkeys(offered)) or 'nothing'})",
                )

    def tls(self, node: yaml.Node, what: str) -> Any:
        """``server.tls``: true/false, or a mapping of TlsSettings fields (enabled by default)."""
        if isinstance(node, yaml.ScalarNode):
            on = self.typed(node, what, lambda v: isinstance(v, bool), "true, false or a mapping")
            return _INVALID if on is _INVALID else TlsSettings(on, location=self.loc(node))
        kw: dict[str, Any] = {"enabled": True}
        nodes: dict[str, yaml.Node] = {}
        for key, key_node, value in self.mapping(node, what):
            where = f"{what}.{key}"
            nodes[key] = value
            if key in ("enabled", "required", "implicit"):
                kw[key] = self.typed(value, where, lambda v: isinstance(v, bool), "true or false")
            elif key in ("certificate", "key"):
                kw[key] = self.pem_file(value, where)
            else:
                self.problem(
                    key_node,
                    f"{what}: unknown key '{key}'{did_you_mean(key, TLS_KEYS)} "
                    f"(allowed: {', '.join(TLS_KEYS)})",
                )
        if "key" in kw and "certificate" not in kw:
            self.problem(nodes["key"], f"{what}.key: a key needs its certificate (certificate:)")
            return _INVALID
        if not isinstance(node, yaml.MappingNode) or any(v is _INVALID for v in kw.values()):
            return _INVALID
        return TlsSettings(**kw, location=self.loc(node))

    def pem_file(self, node: yaml.Node, what: str) -> Any:
        """A PEM file path, relative to the scenario file's folder; it must exist."""
        name = self.string(node, what)
        if name is _INVALID:
            return _INVALID
        source = Path(self.source)
        path = Path(name).expanduser()
        if not path.is_absolute() and source.is_file():
            path = source.parent / path
        if not path.is_file():
            self.problem(node, f"{what}: no such file: {str(path)!r}")
            return _INVALID
        return str(path.resolve())

    def auth(self, node: yaml.Node, what: str) -> Any:
        """``server.auth``: null (no AUTH) or a mapping of AuthSettings fields."""
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
            return None
        kw: dict[str, Any] = {}
        for key, key_node, value in self.mapping(node, what):
            where = f"{what}.{key}"
            if key == "mechanisms":
                kw[key] = self.mechanisms(value, where)
            elif key == "users":
                kw[key] = self.users(value, where)
            elif key in ("required", "require_tls"):
                kw[key] = self.typed(value, where, lambda v: isinstance(v, bool), "true or false")
            else:
                self.problem(
                    key_node,
                    f"{what}: unknown key '{key}'{did_you_mean(key, AUTH_KEYS)} "
                    f"(allowed: {', '.join(AUTH_KEYS)})",
                )
        if not isinstance(node, yaml.MappingNode) or any(v is _INVALID for v in kw.values()):
            return _INVALID
        return AuthSettings(**kw)

    def mechanisms(self, node: yaml.Node, what: str) -> Any:
        if _rejected(node):
            return _INVALID
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            got = "an empty list" if isinstance(node, yaml.SequenceNode) else _kind(node)
            self.problem(
                node,
                f"{what}: expected a list of one or more of {', '.join(AUTH_MECHANISMS)}, "
                f"got {got}",
            )
            return _INVALID
        out: list[str] = []
        for item in node.value:
            name = self.string(item, what)
            if name is _INVALID:
                return _INVALID
            if name not in AUTH_MECHANISMS:
                hint = (
                    f"; write it in capitals: '{name.upper()}'"
                    if name.upper() in AUTH_MECHANISMS
                    else did_you_mean(name.upper(), AUTH_MECHANISMS)
                )
                self.problem(
                    item,
                    f"{what}: unknown mechanism '{name}'{hint} "
                    f"(smtpfake implements: {', '.join(AUTH_MECHANISMS)})",
                )
                return _INVALID
            if name in out:
                self.problem(item, f"{what}: '{name}' is listed twice")
                return _INVALID
            out.append(name)
        return tuple(out)

    def users(self, node: yaml.Node, what: str) -> Any:
        """A mapping of username to password, both strings (a number must be quoted, since
        YAML would read 0123 as 83)."""
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
            pairs: list[tuple[str, str]] = []
            # Usernames are read as written, as every key is (YAML 1.1 would make `yes` True).
            for name, _, value in self.mapping(node, what):
                password = self.scalar(value, f"{what}.{name}")
                if password is _INVALID:
                    return _INVALID
                if not isinstance(password, str):
                    self.problem(
                        value,
                        f"{what}.{name}: a password must be a string, got {_describe(password)} "
                        f"(quote it: '{value.value}')",
                    )
                    return _INVALID
                pairs.append((name, password))
            return tuple(pairs)
        if not _rejected(node):
            self.problem(
                node, f"{what}: expected a mapping of username to password, got {_kind(node)}"
            )
        return _INVALID

    def timer_seconds(self, node: yaml.Node, what: str) -> Any:
        """A number of seconds above 0, or null (unset)."""
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
            return None
        value = self.typed(node, what, _is_number, "a number of seconds")
        if value is not _INVALID and value <= 0:
            self.problem(node, f"{what}: must be more than 0 seconds, got {value}")
            return _INVALID
        return value if value is _INVALID else float(value)

    def rules(self, node: yaml.Node) -> Any:
        if _rejected(node):
            return _INVALID
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, f"rules: expected a list of rules, got {_kind(node)}")
            return _INVALID
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
        return rules

    def rule(self, node: yaml.Node, index: int) -> Any:
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
        if isinstance(node, yaml.MappingNode):
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
        if any(v is _INVALID for v in kw.values()) or "stages" not in kw:
            return _INVALID
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
                return _INVALID
        if not self.conditions_agree(kw, {k: v for k, _, v in entries}, where):
            return _INVALID
        faults.sort(key=lambda f: f.order)
        return Rule(index=index, faults=tuple(faults), location=self.loc(node), **kw)

    def condition(self, key: str, node: yaml.Node, what: str) -> Any:
        """A counting, chance or state condition (see Rule and engine/matching.py)."""
        if key == "per":
            return self.per_key(node, what)
        if key in _COUNTERS:
            return self.integer(node, what, 1)
        if key in _SECONDS:
            value = self.typed(node, what, _is_number, "a number of seconds")
            if value is not _INVALID and value <= 0:
                self.problem(node, f"{what}: must be more than 0 seconds, got {value}")
                return _INVALID
            return value if value is _INVALID else float(value)
        if key == "probability":
            value = self.typed(node, what, _is_number, "a number from 0 to 1")
            if value is not _INVALID and not 0 <= value <= 1:
                self.problem(node, f"{what}: must be from 0 to 1 (0.3 = 30%), got {value}")
                return _INVALID
            return value if value is _INVALID else float(value)
        if key == "state":
            nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
            names = [self.state_name(n, what, required=True) for n in nodes]
            if not names:
                self.problem(node, f"{what}: expected at least one state name")
            return _INVALID if _INVALID in names or not names else tuple(names)
        assert key == "next_state", key
        return self.state_name(node, what, required=False)

    def state_name(self, node: yaml.Node, what: str, *, required: bool) -> Any:
        name = self.typed(node, what, _is_text, "a state name")
        if name is _INVALID:
            return _INVALID
        name = str(name).strip()
        if not name:
            self.problem(node, f"{what}: a state name must not be empty")
            return _INVALID
        if required:
            self.states_required.append((name, node, what))
        else:
            self.states_entered.add(name)
        return name

    def per_key(self, node: yaml.Node, what: str) -> Any:
        """``client``, ``sender``, ``recipient`` joined with ``+``, or ``connection`` alone."""
        text = self.string(node, what)
        if text is _INVALID:
            return _INVALID
        parts = [p.strip() for p in text.split("+")]
        for part in parts:
            if part not in PER_PARTS:
                self.problem(
                    node,
                    f"{what}: unknown key part '{part}'{did_you_mean(part, PER_PARTS)} "
                    f"(allowed: {', '.join(PER_PARTS)}; join client, sender and recipient "
                    "with '+', e.g. sender+recipient)",
                )
                return _INVALID
        if len(set(parts)) != len(parts) or ("connection" in parts and len(parts) > 1):
            self.problem(node, f"{what}: each part once, and 'connection' alone (got '{text}')")
            return _INVALID
        return tuple(p for p in PER_PARTS if p in parts)

    def conditions_agree(self, kw: dict[str, Any], nodes: dict[str, yaml.Node], where: str) -> bool:
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
        if "per" in kw:
            counted = ("times", "within", *_COUNTERS)
            if not any(k in kw for k in counted):
                self.problem(
                    nodes["per"],
                    f"{where}.per: it keys the counters, so add one of: {', '.join(counted)}",
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

    def stages(self, node: yaml.Node, what: str) -> Any:
        nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if not nodes:
            self.problem(node, f"{what}: expected at least one stage ({', '.join(STAGES)})")
            return _INVALID
        out: set[Stage] = set()
        for n in nodes:
            value = self.string(n, what)
            if value is _INVALID:
                return _INVALID
            if value not in STAGES:
                self.problem(
                    n,
                    f"{what}: unknown stage '{value}'{did_you_mean(value, STAGES)} "
                    f"(allowed: {', '.join(STAGES)})",
                )
                return _INVALID
            out.add(Stage(value))
        return frozenset(out)

    def fault(
        self, cls: type[Fault], key_node: yaml.Node, node: yaml.Node, what: str
    ) -> Fault | None:
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        raw: dict[str, Any] = {}
        nodes: dict[str, yaml.Node] = {}
        if isinstance(node, yaml.MappingNode):
            for key, knode, vnode in self.mapping(node, what):
                if key not in fields:
                    self.problem(
                        knode,
                        f"{what}: unknown parameter '{key}'{did_you_mean(key, fields)} "
                        f"(allowed: {', '.join(fields)})",
                    )
                    continue
                raw[key] = self.field_value(vnode, f"{what}.{key}", hints[key])
                nodes[key] = vnode
        else:
            value = self.scalar(node, what)
            if value is _INVALID:
                return None
            try:
                short = cls.shorthand(value)
            except ValueError as exc:
                self.problem(node, f"{what}: {exc}")
                return None
            for key, v in short.items():
                raw[key] = v if v is None else self.check_type(v, node, f"{what}.{key}", hints[key])
                nodes[key] = node
        if any(v is _INVALID for v in raw.values()):
            return None
        missing = [
            f.name
            for f in fields.values()
            if f.name not in raw
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            self.problem(node, f"{what}: missing parameter(s): {', '.join(missing)}")
            return None
        fault = cls(**raw)
        problems = fault.check()
        for field, message in problems:
            self.problem(nodes.get(field, node), f"{what}: {message}")
        return None if problems else fault

    def field_value(self, node: yaml.Node, what: str, hint: Any) -> Any:
        if isinstance(node, yaml.SequenceNode) and _allows_tuple(hint):
            items = [self.scalar(n, what) for n in node.value]
            if _INVALID in items:
                return _INVALID
            return tuple(str(i) for i in items)
        value = self.scalar(node, what)
        return _INVALID if value is _INVALID else self.check_type(value, node, what, hint)

    def check_type(self, value: Any, node: yaml.Node, what: str, hint: Any) -> Any:
        options = _options(hint)
        if value is None and type(None) in options:
            return None
        if bool in options and isinstance(value, bool):
            return value
        if int in options and _is_int(value):
            return value
        if float in options and (isinstance(value, float) or _is_int(value)):
            return float(value)
        if str in options and isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        want = " or ".join(_NAMES.get(o, str(o)) for o in options)
        self.problem(node, f"{what}: expected {want}, got {_describe(value)}")
        return _INVALID


class _Invalid:
    def __repr__(self) -> str:
        return "<invalid>"


_INVALID: Any = _Invalid()
_NAMES: dict[Any, str] = {
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    str: "a string",
    type(None): "null",
}


def _options(hint: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return tuple(o for a in typing.get_args(hint) for o in _options(a))
    if origin is tuple:
        return (tuple,)
    return (hint,)


def _allows_tuple(hint: Any) -> bool:
    return tuple in _options(hint)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_text(v: Any) -> bool:
    return isinstance(v, str | int) and not isinstance(v, bool)


def _rejected(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _REJECTED_TAG


def _tag_message(tag: str) -> str:
    if tag == _YAML_TAG_PREFIX + "merge":
        return "merge keys (<<) are not supported in a scenario; write the keys out"
    short = "!!" + tag[len(_YAML_TAG_PREFIX) :] if tag.startswith(_YAML_TAG_PREFIX) else tag
    return (
        f"YAML tag '{short}' is not allowed in a scenario (only plain values, lists and mappings)"
    )


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"the value {node.value!r}"


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or str(exc)
    if not exc.context:
        return problem
    # "expected a single document in the stream" + "but found another document"
    if problem.startswith("but "):
        return f"{exc.context}, {problem}"
    return f"{problem} ({exc.context})"


def load_text(
    text: str, *, source: str = "<string>", name: str = "inline", require_docs: bool = True
) -> Scenario:
    """Parse and validate one scenario document."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ScenarioError(
            [Problem(Location(source, line, col), f"invalid YAML: {_yaml_message(exc)}")]
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(Location(source, 1, 1), f"invalid YAML: {exc}")]) from None
    if root is None or (
        isinstance(root, yaml.ScalarNode) and root.tag == _NULL_TAG and not root.value
    ):
        # Nothing, comments only, or a bare "---".
        raise ScenarioError([Problem(Location(source, 1, 1), "the file is empty")])
    walker = _Walker(source)
    scenario = walker.scenario(root, name, require_docs)
    if walker.problems or scenario is None:
        raise ScenarioError(walker.problems)
    return scenario


def load_file(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(Location(str(path), 1, 1), f"cannot read: {exc}")]) from None
    return load_text(text, source=str(path), name=path.stem)


def load_mapping(data: dict[str, Any], *, name: str = "inline") -> Scenario:
    """A scenario given as a Python dict (e.g. ``smtpfake.use({...})``); summary/expect optional."""
    source = f"<{name}>"
    try:
        # Tuples are lists here (``extensions=("PIPELINING",)``); anything else YAML cannot
        # represent is the caller's mistake, reported like any other scenario problem.
        text = yaml.safe_dump(_plain(data), sort_keys=False)
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(Location(source, 1, 1), f"cannot read: {exc}")]) from None
    return load_text(text, source=source, name=str(data.get("name", name)), require_docs=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
