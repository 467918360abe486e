"""Listings, filters and queries read a message's header block only: ``GET /api/messages``
parsed every message whole (4.9 GiB peak for 20 messages of 30 MiB) to show its subject."""

from __future__ import annotations

import email

import pytest

from smtpfake.engine.records import Message
from smtpfake.http.messages import Numbered, listing
from smtpfake.queries import MessageQuery
from smtpfake.serialize import message_to_json

HEAD = (
    b"From: Ann <ann@x.test>\r\nTo: bob@x.test\r\nCc: Cy <cy@x.test>\r\n"
    b"Subject: =?utf-8?q?caf=C3=A9?=\r\nX-Tag: one\r\n\r\n"
)
# a body that would mislead a parser that read past the header block
BODY = b"Subject: not this one\r\nX-Tag: two\r\n\r\n" + b"x" * 998 + b"\r\n"


def _message(n: int = 1) -> Message:
    return Message("ann@x.test", ("bob@x.test",), HEAD + BODY * 50, n, float(n), f"Q{n}")


@pytest.fixture
def no_whole_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a listing parsed a whole message")

    monkeypatch.setattr(email, "message_from_bytes", refuse)


@pytest.mark.usefixtures("no_whole_parse")
def test_a_message_in_a_list_is_read_from_its_header_block() -> None:
    shown = message_to_json(_message())
    assert shown["subject"] == "café"
    assert ["X-Tag", "one"] in shown["headers"]
    assert ["X-Tag", "two"] not in shown["headers"]


@pytest.mark.usefixtures("no_whole_parse")
def test_the_api_filters_read_headers_only() -> None:
    found = [Numbered(1, _message(1)), Numbered(2, _message(2))]
    got = listing(found, {"to": "cy@x", "from": "ann <", "subject": "CAF", "limit": "1"})
    assert (got["matching"], got["count"]) == (2, 1)
    assert listing(found, {"subject": "not this one"})["matching"] == 0


@pytest.mark.usefixtures("no_whole_parse")
def test_queries_by_header_read_headers_only() -> None:
    query = MessageQuery(subject="café", headers={"X-Tag": "one"})
    assert query.misses(_message()) == []
    assert MessageQuery(headers={"X-Tag": "two"}).misses(_message()) != []


def test_the_whole_message_is_parsed_on_demand_and_not_kept() -> None:
    message = _message()
    first = message.message
    assert first.get_content().startswith("Subject: not this one")
    assert message.message is not first  # no copy kept beside the raw bytes
    assert first["Subject"] == message.headers["Subject"] == "café"
