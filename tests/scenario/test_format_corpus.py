"""One source for the format: a corpus of documents, each run through the published JSON Schema
and the loader, which must give the same verdict. The disagreements issue 8 lists (abort how,
malformed kind, cut_body on rcpt, per without a counter) are in it, with the new keys (params,
facts, idle_close)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from smtpfake.scenario import ScenarioError, load_text
from smtpfake.scenario import schema as schema_module

from .test_schema import _document

HEAD = "summary: s\nexpect: e\n"


def rule(text: str) -> str:
    return f"{HEAD}rules:\n  - {text}\n"


#: (document, valid?)
CORPUS: dict[str, tuple[str, bool]] = {
    # the disagreements issue 8 found
    "abort how fin": (rule("{on: rcpt, abort: {how: fin}}"), False),
    "abort how close": (rule("{on: rcpt, abort: {how: close}}"), True),
    "malformed kind 7": (rule("{on: rcpt, malformed: {kind: 7}}"), False),
    "malformed kind shorthand 7": (rule("{on: rcpt, malformed: 7}"), False),
    "malformed kind bare-lf": (rule("{on: rcpt, malformed: bare-lf}"), True),
    "cut_body on rcpt": (rule("{on: rcpt, cut_body: 10}"), False),
    "cut_body on [data, rcpt]": (rule("{on: [data, rcpt], cut_body: 10}"), False),
    "cut_body on data": (rule("{on: data, cut_body: {after_bytes: 10, how: close}}"), True),
    "cut_body how fin": (rule("{on: data, cut_body: {after_bytes: 10, how: fin}}"), False),
    # CHUNKING (RFC 3030): the bdat stage, cut_body per chunk
    "cut_body on bdat": (rule("{on: bdat, cut_body: {after_bytes: 10, how: reset}}"), True),
    "bdat facts": (rule("{on: bdat, message: 1, body: binarymime, reply: 451 4.3.0 x}"), True),
    "bdat per sender": (rule("{on: bdat, per: sender, times: 1, reply: 451 4.3.0 x}"), True),
    # exact bytes: raw and several replies
    "raw with escapes": (rule('{on: noop, raw: "250-a\\r\\n\\r\\n250 b\\0\\xff\\r\\n"}'), True),
    "raw beyond U+00FF": (rule('{on: noop, raw: "250 \\u20ac\\r\\n"}'), False),
    "raw empty": (rule('{on: noop, raw: ""}'), False),
    "replies list": (rule('{on: mail, replies: ["250 2.1.0 Ok", "250 2.1.0 Ok"]}'), True),
    "replies mapping": (rule("{on: mail, replies: {replies: [250 ok]}}"), True),
    "replies empty": (rule("{on: mail, replies: []}"), False),
    "replies without a code": (rule("{on: mail, replies: [hello]}"), False),
    "replies with a CRLF": (rule('{on: mail, replies: ["250 a\\r\\n250 b"]}'), False),
    "tls_fail on mail": (rule("{on: mail, tls_fail: reset}"), False),
    "tls_fail how nope": (rule("{on: starttls, tls_fail: nope}"), False),
    "per without a counter": (rule("{on: rcpt, per: client, reply: 451 4.7.1 x}"), False),
    "per with within": (rule("{on: rcpt, per: client, within: 5, reply: 451 4.7.1 x}"), True),
    "per with a state": (rule("{on: helo, per: connection, next_state: old}"), True),
    # durations: wherever a scenario gives seconds, a number with its unit
    "delay 250ms": (rule("{on: mail, delay: 250ms}"), True),
    "delay mapping 1.5s": (rule("{on: mail, delay: {seconds: 1.5s}}"), True),
    "delay uniform in units": (rule("{on: mail, delay: {min: 100ms, max: 2s}}"), True),
    "delay 5x": (rule("{on: mail, delay: 5x}"), False),
    "delay 2d": (rule("{on: mail, delay: 2d}"), False),
    "sigma takes no unit": (rule("{on: mail, delay: {median: 1, sigma: 2s}}"), False),
    "hang 1h": (rule("{on: mail, hang: 1h}"), True),
    "drip interval 2m": (rule("{on: mail, drip: {bytes: 2, interval: 2m}}"), True),
    "window 1m": (rule("{on: mail, first: 2, window: 1m, reply: 451 4.7.1 x}"), True),
    "within 5m": (rule("{on: rcpt, per: client, within: 5m, reply: 451 4.7.1 x}"), True),
    "within 5 minutes": (rule("{on: rcpt, per: client, within: 5 minutes, reply: 451 x}"), False),
    "idle_timeout 5m": (f"{HEAD}server: {{idle_timeout: 5m}}\n", True),
    "close_after 90s": (f"{HEAD}server: {{close_after: 90s}}\n", True),
    "retry_after soon": (f"{HEAD}server: {{retry_after: soon}}\n", False),
    # facts
    "greeted helo": (rule("{on: mail, greeted: helo, reply: 503 5.5.1 x}"), True),
    "greeted list": (rule("{on: mail, greeted: [none, helo], reply: 503 5.5.1 x}"), True),
    "greeted hello": (rule("{on: mail, greeted: hello, reply: 503 5.5.1 x}"), False),
    "tls fact": (rule("{on: mail, tls: false, reply: 530 5.7.0 x}"), True),
    "authenticated glob": (rule("{on: mail, authenticated: 'bot-*', close: true}"), True),
    "authenticated list": (rule("{on: mail, authenticated: [a], close: true}"), False),
    "message list": (rule("{on: end_of_data, message: [1, 2], close: true}"), True),
    "message zero": (rule("{on: mail, message: 0, close: true}"), False),
    "size bounds": (rule("{on: mail, size: {min: 10, max: 20}, close: true}"), True),
    "size none": (rule("{on: mail, size: none, close: true}"), True),
    "size unknown key": (rule("{on: mail, size: {least: 1}, close: true}"), False),
    "size empty": (rule("{on: mail, size: {}, close: true}"), False),
    "body 8bitmime": (rule("{on: mail, body: 8bitmime, close: true}"), True),
    "body 8bit": (rule("{on: mail, body: 8bit, close: true}"), False),
    # idle_close
    "idle_close reset": (f"{HEAD}server: {{idle_timeout: 2, idle_close: reset}}\n", True),
    "idle_close fin": (f"{HEAD}server: {{idle_timeout: 2, idle_close: fin}}\n", False),
    "idle_close without idle_timeout": (f"{HEAD}server: {{idle_close: close}}\n", False),
    "idle_close reply alone": (f"{HEAD}server: {{idle_close: reply}}\n", True),
    # params
    "param used whole and in text": (
        f"{HEAD}params:\n  d: {{type: duration, default: 5, min: 1}}\n"
        "rules:\n  - {on: rcpt, within: '${d}', per: client, reply: '451 4.7.1 wait ${d} s'}\n",
        True,
    ),
    "param used for an enum": (
        f"{HEAD}params:\n  how: {{type: string, default: reset}}\n"
        "server: {idle_timeout: 1, idle_close: '${how}'}\n",
        True,
    ),
    "param of unknown type": (
        f"{HEAD}params:\n  d: {{type: seconds, default: 5}}\n"
        "rules:\n  - {on: rcpt, delay: '${d}'}\n",
        False,
    ),
    "param without a default": (
        f"{HEAD}params:\n  d: {{type: int}}\nrules:\n  - {{on: rcpt, delay: '${{d}}'}}\n",
        False,
    ),
    "param with an unknown key": (
        f"{HEAD}params:\n  d: {{type: int, default: 1, unit: s}}\n"
        "rules:\n  - {on: rcpt, delay: '${d}'}\n",
        False,
    ),
    "param bad name": (
        f"{HEAD}params:\n  2d: {{type: int, default: 1}}\nrules:\n  - {{on: rcpt, delay: 1}}\n",
        False,
    ),
}


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = schema_module.build_schema()
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def loads(text: str) -> bool:
    try:
        load_text(text)
    except ScenarioError:
        return False
    return True


@pytest.mark.parametrize(("text", "valid"), list(CORPUS.values()), ids=list(CORPUS))
def test_schema_and_loader_give_the_same_verdict(text: str, valid: bool, validator: Any) -> None:
    errors = [e.message for e in validator.iter_errors(_document(text))]
    assert (loads(text), not errors) == (valid, valid), errors


def server(text: str) -> str:
    return f"{HEAD}server: {text}\n"


def condition(text: str) -> str:
    return rule(f"{{on: rcpt, {text}, reply: 451 4.7.1 x}}")


#: every server setting (``tls.key``: a key of a setting that is a mapping) and every rule
#: condition, each with a document where it is right and one where it is wrong; the schema and
#: the loader must agree on both (the README's tables are generated from the same declarations)
#: a file that exists: the loader checks that a TLS file exists (its PEM is read at start)
PEM = json.dumps(str(Path(__file__).resolve()))

KEY_CASES: dict[str, tuple[str, str]] = {
    "server.hostname": (server("{hostname: mx.example.test}"), server("{hostname: [a]}")),
    "server.greeting": (server("{greeting: ESMTP hi}"), server("{greeting: {a: 1}}")),
    "server.extensions": (
        server("{extensions: [PIPELINING, SIZE 1000]}"),
        server("{extensions: 5}"),
    ),
    "server.require_helo": (server("{require_helo: true}"), server("{require_helo: maybe}")),
    "server.bare_lf": (server("{bare_lf: normalize}"), server("{bare_lf: strict}")),
    "server.bare_cr": (server("{bare_cr: reject}"), server("{bare_cr: normalize}")),
    "server.strict_envelope": (
        server("{strict_envelope: true}"),
        server("{strict_envelope: strict}"),
    ),
    "server.max_recipients": (server("{max_recipients: 5}"), server("{max_recipients: 0}")),
    "server.max_message_bytes": (
        server("{max_message_bytes: 1000}"),
        server("{max_message_bytes: -1}"),
    ),
    "server.extensions_add": (
        server("{extensions_add: [DSN]}"),
        server("{extensions_add: {a: 1}}"),
    ),
    "server.extensions_remove": (
        server("{extensions_remove: [HELP]}"),
        server("{extensions_remove: 5}"),
    ),
    "server.tls": (server("{tls: true}"), server("{tls: 5}")),
    "server.tls.enabled": (server("{tls: {enabled: false}}"), server("{tls: {enabled: x}}")),
    "server.tls.certificate": (
        server(f"{{tls: {{certificate: {PEM}}}}}"),
        server("{tls: {certificate: null}}"),
    ),
    "server.tls.key": (
        server(f"{{tls: {{certificate: {PEM}, key: {PEM}}}}}"),
        server(f"{{tls: {{key: {PEM}}}}}"),
    ),
    "server.tls.required": (server("{tls: {required: true}}"), server("{tls: {required: 3}}")),
    "server.tls.implicit": (server("{tls: {implicit: true}}"), server("{tls: {implicit: 3}}")),
    "server.idle_timeout": (server("{idle_timeout: 5}"), server("{idle_timeout: 0}")),
    "server.idle_close": (
        server("{idle_timeout: 5, idle_close: reset}"),
        server("{idle_timeout: 5, idle_close: rst}"),
    ),
    "server.close_after": (server("{close_after: 5}"), server("{close_after: -1}")),
    "server.retry_after": (server("{retry_after: 60}"), server("{retry_after: .inf}")),
    "server.auth": (server("{auth: {users: {a: b}}}"), server("{auth: true}")),
    "server.auth.mechanisms": (
        server("{auth: {mechanisms: [PLAIN]}}"),
        server("{auth: {mechanisms: [X]}}"),
    ),
    "server.auth.users": (server("{auth: {users: {a: b}}}"), server("{auth: {users: [a]}}")),
    "server.auth.required": (server("{auth: {required: true}}"), server("{auth: {required: 2}}")),
    "server.auth.require_tls": (
        server("{auth: {require_tls: true}}"),
        server("{auth: {require_tls: 2}}"),
    ),
    "on": (rule("{on: [mail, rcpt], reply: 451 x}"), rule("{on: bogus, reply: 451 x}")),
    "name": (condition("name: greylist"), condition("name: [a]")),
    "match": (condition("match: '*@x.test'"), condition("match: {a: 1}")),
    "nth": (condition("nth: [1, 2]"), condition("nth: 0")),
    "connection": (condition("connection: 2"), condition("connection: -1")),
    "times": (condition("times: 3"), condition("times: 0")),
    "per": (condition("per: sender+recipient, times: 1"), condition("per: sender+x, times: 1")),
    "first": (condition("first: 2"), condition("first: 0")),
    "after": (condition("after: 2"), condition("after: 1.5")),
    "every": (condition("every: 2"), condition("every: [2]")),
    "window": (condition("first: 2, window: 10"), condition("first: 2, window: 0")),
    "fixed_window": (
        condition("first: 2, fixed_window: 10"),
        condition("first: 2, fixed_window: -1"),
    ),
    "within": (condition("within: 300"), condition("within: 0")),
    "probability": (condition("probability: 0.5"), condition("probability: 1.5")),
    # a state no rule enters is refused by the loader alone (the schema sees one rule at a time)
    "state": (condition("state: [started]"), condition("state: []")),
    "next_state": (condition("next_state: b"), condition("next_state: [b]")),
    "greeted": (condition("greeted: ehlo"), condition("greeted: [ehlo, hi]")),
    "tls": (condition("tls: true"), condition("tls: sometimes")),
    "authenticated": (condition("authenticated: false"), condition("authenticated: {a: 1}")),
    "message": (condition("message: 2"), condition("message: [0]")),
    "size": (condition("size: {max: 100}"), condition("size: 100")),
    "body": (condition("body: [7bit, 8bitmime]"), condition("body: 9bit")),
}


def test_every_setting_and_condition_has_cases() -> None:
    """A new setting or condition needs its cases here (and gets its README row by itself)."""
    server_props = schema_module.server_schema()["properties"]
    nested = {
        f"{key}.{sub}"
        for key, prop in server_props.items()
        for branch in prop.get("anyOf", [])
        if branch.get("type") == "object"
        for sub in branch["properties"]
    }
    keys = {
        *(f"server.{key}" for key in [*server_props, *nested]),
        *schema_module.rule_condition_table(),
    }
    assert sorted(keys - set(KEY_CASES)) == []
    assert sorted(set(KEY_CASES) - keys) == []


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        (case, valid)
        for right, wrong in KEY_CASES.values()
        for case, valid in ((right, True), (wrong, False))
    ],
    ids=[f"{key} {kind}" for key in KEY_CASES for kind in ("right", "wrong")],
)
def test_schema_and_loader_agree_on_each_setting_and_condition(
    text: str, valid: bool, validator: Any
) -> None:
    errors = [e.message for e in validator.iter_errors(_document(text))]
    assert (loads(text), not errors) == (valid, valid), errors
