"""Every built-in scenario loads and plays a plain session on the engine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smtpfake.scenario import builtin_dir, load_file, resolve
from smtpfake.scenario.plan import Action, Close, Reset, Send

from ..support.engine import Engine, sent

BUILTINS = sorted(p.stem for p in builtin_dir().glob("*.yaml"))
REQUIRED = {
    "default",
    "421-at-greeting",
    "421-at-greeting-once",
    "421-mid-session",
    "strict-503-ordering",
}


def test_the_required_builtins_exist() -> None:
    assert set(BUILTINS) >= REQUIRED


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_loads_by_name_and_by_path(name: str) -> None:
    scenario = resolve(name)
    assert scenario.name == name
    assert scenario.summary.strip() and "\n" not in scenario.summary.strip()
    assert scenario.expect.strip()
    path = Path(builtin_dir(), f"{name}.yaml")
    assert load_file(path) == scenario


def _check_421_closes(actions: tuple[Action, ...]) -> None:
    """RFC 5321 §3.8: a 421 reply is always followed by closing the connection."""
    data = sent(actions)
    if re.search(rb"(^|\r\n)421 ", data):
        assert isinstance(actions[-1], Close | Reset), actions


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_plays_a_session(name: str) -> None:
    """Whatever a built-in does, the engine plays it without error and 421 always closes."""
    engine = Engine(name)
    lines = ["EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@x.test>", "DATA", "hi", ".", "QUIT"]
    for _ in range(3):  # some built-ins change from one connection to the next
        d = engine.open()
        actions = d.connect()
        _check_421_closes(actions)
        for line in lines:
            if actions and isinstance(actions[-1], Close | Reset):
                break
            actions = d.send(line)
            _check_421_closes(actions)
        d.session.disconnected()


def test_421_at_greeting() -> None:
    engine = Engine("421-at-greeting")
    for _ in range(2):
        actions = engine.open().connect()
        assert len(actions) == 2 and actions[1] == Close()
        assert isinstance(actions[0], Send) and actions[0].data.startswith(b"421 ")


def test_421_at_greeting_once() -> None:
    engine = Engine("421-at-greeting-once")
    first = engine.open().connect()
    assert sent(first).startswith(b"421 ") and first[-1] == Close()
    d = engine.open()
    assert d.connect() == (Send(b"220 smtpfake.test ESMTP smtpfake\r\n"),)
    d.send("EHLO c.test")
    assert d.transaction("a@x.test", "b@x.test").startswith(b"250 ")
    assert len(engine.journal.messages()) == 1


def test_421_mid_session() -> None:
    d = Engine("421-mid-session").open()
    assert sent(d.connect()).startswith(b"220 ")
    assert d.code("EHLO c.test") == 250
    assert d.code("MAIL FROM:<a@x.test>") == 250
    assert d.send("RCPT TO:<b@x.test>") == (
        Send(b"421 4.3.2 Service shutting down, closing transmission channel\r\n"),
        Close(),
    )
