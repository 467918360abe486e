"""One source for the format: a corpus of documents, each run through the published JSON Schema
and the loader, which must give the same verdict. The disagreements issue 8 lists (abort how,
malformed kind, cut_body on rcpt, per without a counter) are in it, with the new keys (params,
facts, idle_close)."""

from __future__ import annotations

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
