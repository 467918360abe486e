"""A reply line fits in 512 octets with its code, the enhanced code the server adds and CRLF
(RFC 5321 §4.5.3.1.5): a rule's text without an enhanced code keeps room for the class default
(``2.0.0 ``) that ENHANCEDSTATUSCODES puts in front; ``enhanced: none`` does not need it. Before,
a 506-character text loaded and went out as a 518-octet line (found by hook3)."""

from __future__ import annotations

import socket

import pytest

from smtpfake.scenario import ScenarioError, load_text
from smtpfake.server import Server

from ..support import scenario


def rule(text: str, enhanced: str = "") -> str:
    extra = f", enhanced: {enhanced}" if enhanced else ""
    return (
        "summary: s\nexpect: e\nrules:\n"
        f"  - on: noop\n    reply: {{code: 250, text: {text}{extra}}}\n"
    )


def longest_loading(enhanced: str = "") -> int:
    """The longest text that loads as the NOOP rule's reply (searched down from 512)."""
    for n in range(512, 400, -1):
        try:
            load_text(rule("x" * n, enhanced), source="t.yaml")
        except ScenarioError:
            continue
        return n
    raise AssertionError("nothing from 401 to 512 characters loads")


def test_a_text_without_an_enhanced_code_keeps_room_for_the_default() -> None:
    assert longest_loading() == 512 - len("250 2.0.0 \r\n")
    with pytest.raises(ScenarioError) as info:
        load_text(rule("x" * 501), source="t.yaml")
    assert "512" in str(info.value.problems[0])


def test_enhanced_none_needs_no_room_for_it() -> None:
    assert longest_loading("none") == 512 - len("250 \r\n")


@pytest.mark.parametrize("enhanced", ["", "none"])
def test_the_longest_text_that_loads_fits_in_512_octets_on_the_wire(enhanced: str) -> None:
    n = longest_loading(enhanced)
    data: dict[str, object] = {"code": 250, "text": "x" * n}
    if enhanced:
        data["enhanced"] = enhanced
    with (
        Server(scenario({"on": "noop", "reply": data})) as server,
        socket.create_connection((server.host, server.port), timeout=5) as sock,
    ):
        f = sock.makefile("rb")
        f.readline()
        sock.sendall(b"EHLO c.test\r\n")
        for _ in range(20):  # the EHLO reply's lines
            if f.readline().startswith(b"250 "):
                break
        sock.sendall(b"NOOP\r\n")
        line = f.readline()
    assert line.endswith(b"x\r\n")
    assert len(line) == 512
