"""Which rule fires: the first whose stage and conditions all hold."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from smtpfake.engine.shared import Shared
from smtpfake.scenario.model import Rule, Stage


@dataclass(frozen=True)
class Occurrence:
    """One thing happening in a session that rules may react to."""

    stage: Stage
    argument: str  # address for MAIL/RCPT, domain for HELO/EHLO, the raw argument otherwise
    nth: int  # how many times this stage has occurred in the session, this one included
    connection: int


def matches(rule: Rule, occ: Occurrence, shared: Shared) -> bool:
    if occ.stage not in rule.stages and Stage.ANY not in rule.stages:
        return False
    if rule.nth is not None and occ.nth not in rule.nth:
        return False
    if rule.connection is not None and occ.connection not in rule.connection:
        return False
    if rule.match is not None and not fnmatch.fnmatchcase(occ.argument.lower(), rule.match.lower()):
        return False
    return rule.times is None or shared.fired[rule.index] < rule.times


def first_match(rules: tuple[Rule, ...], occ: Occurrence, shared: Shared) -> Rule | None:
    for rule in rules:
        if matches(rule, occ, shared):
            return rule
    return None
