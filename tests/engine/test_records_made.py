"""records.new_message and new_info make what Message(...) and SessionInfo(...) make, and the
engine's records (a session's info, an accepted message) are made by them."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import smtplib
from typing import Any

import pytest

from smtpfake.engine.records import Message, SessionInfo, new_info, new_message
from smtpfake.server import Server

from ..support.waits import ended_sessions


def _alike(made: Any, constructed: Any) -> None:
    assert type(made) is type(constructed)
    assert made == constructed
    assert hash(made) == hash(constructed)
    assert repr(made) == repr(constructed)
    assert dataclasses.asdict(made) == dataclasses.asdict(constructed)
    assert pickle.loads(pickle.dumps(made)) == constructed
    assert copy.copy(made) == constructed
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.peer = "x"


@pytest.mark.parametrize(
    "fields",
    [
        ("a@x.test", ("b@y.test",), b"Subject: s\r\n\r\nbody\r\n", 3, 12.5, "SF000003"),
        ("", ("b@y.test", "c@y.test"), b"", 1, 0.0, "Q", ("SIZE=9",), (("NOTIFY=NEVER",), ())),
    ],
)
def test_new_message_is_the_constructors(fields: tuple[Any, ...]) -> None:
    made, constructed = new_message(*fields), Message(*fields)
    _alike(made, constructed)
    assert list(vars(made).items()) == list(vars(constructed).items())


def test_new_info_is_the_constructors() -> None:
    made, constructed = (
        new_info(7, "127.0.0.1:4321", 99.25),
        SessionInfo(7, "127.0.0.1:4321", 99.25),
    )
    _alike(made, constructed)
    assert not hasattr(made, "__dict__")  # slots, as constructed


def test_a_served_sessions_records_are_as_constructed() -> None:
    with Server(host="127.0.0.1", port=0) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.sendmail("a@x.test", ["b@y.test"], b"Subject: s\r\n\r\nbody\r\n")
        (session,) = ended_sessions(server, 1, timeout=10)
        (message,) = server.messages
    fields = [getattr(message, f.name) for f in dataclasses.fields(Message)]
    _alike(message, Message(*fields))
    assert list(vars(message)) == [f.name for f in dataclasses.fields(Message)]
    assert (message.mail_from, message.rcpt_tos, message.session) == ("a@x.test", ("b@y.test",), 1)
    assert session.index == 1 and session.peer.startswith("127.0.0.1:")
