"""A reply the socket took only in part when the client left (the rest was still in the
transport's buffer: a client that stopped reading): the wire says how many octets went
(Connection.handed) and the record has them as the reply's ``written``, not delivered."""

from __future__ import annotations

from smtpfake.scenario.plan import Send

from ..support.engine import Engine
from ..support.pipe import Pipe


def test_a_reply_partly_handed_over_when_the_client_resets_is_not_delivered() -> None:
    pipe = Pipe(Engine())
    pipe.connect()
    pipe.feed("EHLO c.test")
    (send,) = [a for a in pipe.conn.receive_data(b"NOOP\r\n") if isinstance(a, Send)]
    assert send.data == b"250 2.0.0 Ok\r\n"
    pipe.conn.handed(5)  # the socket took "250 2", the transport held the rest
    pipe.lost(reset=True)
    reply, close = pipe.record.transcript[-2:]
    assert (reply.text, reply.delivered, reply.written) == ("250 2.0.0 Ok", False, 5)
    assert close.text == "(client reset the connection)"
    assert "S: 250 2.0.0 Ok   (not delivered: 5 octets written)" in pipe.record.format()


def test_a_reply_handed_over_whole_is_delivered() -> None:
    pipe = Pipe(Engine())
    pipe.connect()
    pipe.feed("EHLO c.test")
    pipe.feed("NOOP")
    pipe.lost(reset=True)
    reply = pipe.record.transcript[-2]
    assert (reply.text, reply.delivered, reply.written) == ("250 2.0.0 Ok", True, None)
