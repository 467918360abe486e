"""The fixture's helpers' arguments, checked where they are given (issue 11 item 6).

A wrong type, or a number where it means nothing (a negative wait, zero messages to wait for),
is one TypeError (the wrong kind of value) or ValueError (the right kind, out of range) naming
the call, the argument and what it takes: ``settle(timeout=-1): expected None or seconds from 0
to 86400, got -1``. Checked before anything is done or sent, so the error is the same
in-process and against a sidecar (which would otherwise answer a 400 of its own wording, or
accept a value Python code would refuse), and the traceback ends at the caller's line
(``__tracebackhide__``). Unknown keywords are Python's own TypeError, raised at the call itself.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any

#: the longest a wait_for_* may wait, in seconds: the sidecar's POST /api/wait bound
#: (smtpfake.http.journal_api.MAX_WAIT; tests/plugin/test_helper_arguments.py holds them equal)
MAX_WAIT = 300.0
#: the longest a settle may wait, and a clock be moved at once (scenario.limits.MAX_SECONDS)
MAX_SECONDS = 86_400.0
#: the most messages or sessions a wait counts to (the sidecar's bound)
MAX_WAIT_COUNT = 10**6


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: object) -> str:
    return type(value).__name__


def seconds(call: str, name: str, value: Any, *, high: float, none: bool = False) -> Any:
    """``value`` if it is seconds from 0 to ``high`` (or None, when ``none``)."""
    __tracebackhide__ = True
    if value is None and none:
        return value
    what = f"{'None or ' if none else ''}seconds from 0 to {high:g}"
    if not _number(value):
        raise TypeError(f"{_given(call, name, value)}: expected {what}, not a {_kind(value)}")
    if not (math.isfinite(value) and 0 <= value <= high):
        raise ValueError(f"{_given(call, name, value)}: expected {what}, got {value!r}")
    return value


def _given(call: str, name: str, value: object) -> str:
    """The call as written, ``settle(timeout=-1)``; an attribute's (no ``name``) as set."""
    return f"{call}({name}={value!r})" if name else f"{call} = {value!r}"


def whole(call: str, name: str, value: Any, *, low: int, high: int, none: bool = False) -> Any:
    """``value`` if it is a whole number from ``low`` to ``high`` (or None, when ``none``)."""
    __tracebackhide__ = True
    if value is None and none:
        return value
    top = "2^64-1" if high == 2**64 - 1 else str(high)  # a seed's range, as the flags say it
    what = f"{'None or ' if none else ''}a whole number from {low} to {top}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{call}({name}={value!r}): expected {what}, not a {_kind(value)}")
    if not low <= value <= high:
        raise ValueError(f"{call}({name}={value!r}): expected {what}, got {value!r}")
    return value


#: what a field of a message query takes (a header's value: not None)
_WANT = "a string or an re.compile() pattern"


def how_many(call: str, name: str, value: Any) -> None:
    """How many of something an assertion expects: None (at least one) or 0 or more."""
    __tracebackhide__ = True
    whole(call, name, value, low=0, high=MAX_WAIT_COUNT, none=True)


def want(call: str, name: str, value: Any, *, none: bool = True) -> None:
    """A field of a message query (``to``, ``sender``, ``subject``): None, a str, a pattern."""
    __tracebackhide__ = True
    if (value is None and none) or isinstance(value, str | re.Pattern):
        return
    what = f"None, {_WANT}" if none else _WANT
    raise TypeError(f"{call}({name}={value!r}): expected {what}, not a {_kind(value)}")


def _names(call: str, name: str, value: Any, of: str) -> Mapping[str, Any]:
    """``value`` if it is None (as {}) or a mapping with str keys: ``of`` says what maps to
    what (``header name to ...``)."""
    __tracebackhide__ = True
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{call}({name}={value!r}): expected None or a dict of {of}, not a {_kind(value)}"
        )
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"{call}({name}=...): each name is a string, not {key!r}")
    return value


def headers(call: str, value: Any) -> None:
    """``headers=``: None, or a mapping of header names (str) to what each must be."""
    __tracebackhide__ = True
    for header, wanted in _names(call, "headers", value, f"header name to {_WANT}").items():
        want(call, f"headers[{header!r}]", wanted, none=False)


def query(call: str, to: Any, sender: Any, subject: Any, heads: Any) -> None:
    """The fields of a message query (find_messages, assert_delivered, assert_not_delivered)."""
    __tracebackhide__ = True
    want(call, "to", to)
    want(call, "sender", sender)
    want(call, "subject", subject)
    headers(call, heads)


def rule_and_code(call: str, rule: Any, code: Any) -> None:
    """``rule=`` a rule's name (str), ``code=`` an SMTP reply code (200-599), either None."""
    __tracebackhide__ = True
    if rule is not None and not isinstance(rule, str):
        what = "expected None or a rule's name"
        raise TypeError(f"{call}(rule={rule!r}): {what}, not a {_kind(rule)}")
    whole(call, "code", code, low=200, high=599, none=True)


def scenario(call: str, value: Any) -> None:
    """A scenario reference: a name or path (str, os.PathLike), a dict, or a Scenario object
    (which only the in-process server can take: the remote client says so itself)."""
    __tracebackhide__ = True
    from smtpfake.scenario import Scenario

    if not isinstance(value, str | os.PathLike | dict | Scenario):
        raise TypeError(
            f"{call}({value!r}): a scenario is a name, a YAML path, a dict or a Scenario, "
            f"not a {_kind(value)}"
        )


def params(call: str, value: Any) -> None:
    """``params=``: None, or a mapping of parameter names (str) to values."""
    __tracebackhide__ = True
    _names(call, "params", value, "parameter name to value")


def wait(call: str, count: Any, timeout: Any) -> None:
    """``wait_for_messages``/``wait_for_sessions``: 1 or more to wait for, seconds to wait."""
    __tracebackhide__ = True
    whole(call, "count", count, low=1, high=MAX_WAIT_COUNT)
    seconds(call, "timeout", timeout, high=MAX_WAIT)


def use(ref: Any, seed: Any, given: Any) -> None:
    """``use(scenario, seed=, params=)``, as both transports take it."""
    __tracebackhide__ = True
    from smtpfake.scenario.limits import MAX_SEED

    scenario("use", ref)
    whole("use", "seed", seed, low=0, high=MAX_SEED, none=True)
    params("use", given)
