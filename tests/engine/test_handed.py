"""A reply the socket took only in part when the client left (the rest was still in the
transport's buffer: a client that stopped reading): the wire says how many octets went
(Connection.handed) and the record has them as the reply's ``written``, not delivered."""

from __future__ import annotations

from smtpfake.scenario.plan import Close, Send

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


def _in_flight(wire: bytes, scenario: dict[str, object] | None = None) -> tuple[Pipe, Send]:
    """The reply to the first line of ``wire`` written, its octets still in the transport (the
    client does not read): the batch is at its Send, not performed yet."""
    pipe = Pipe(Engine() if scenario is None else Engine(scenario))
    pipe.connect()
    pipe.feed("EHLO c.test")
    actions = pipe.conn.receive_data(wire)
    send = next(a for a in actions if isinstance(a, Send))
    return pipe, send


def test_a_half_close_while_the_socket_is_full_reads_on() -> None:
    """The EOF while only the client's reading holds the reply up (the socket is full) is a
    half-close: the reply is delivered once the socket takes it (after the EOF's entry), the
    line behind it answered, then the server closes."""
    pipe, send = _in_flight(b"NOOP\r\nRSET\r\n")
    assert pipe.conn.writes_on(socket_full=True)  # nothing after it but the idle timer
    assert not pipe.conn.writes_on(socket_full=False)  # (a reply paced by nothing else: none)
    t0 = pipe.engine.clock.now()
    pipe.engine.advance(0.2)
    assert pipe.conn.eof_received(socket_full=True) == ()  # no close yet: it writes on
    pipe.engine.advance(0.3)
    pipe.conn.performed(send)  # the socket took its last octet
    after = pipe.conn.done()
    assert [a.data for a in after if isinstance(a, Send)] == [b"250 2.0.0 Ok\r\n"]  # the RSET's
    for action in after:
        pipe.conn.performed(action)
    assert pipe.conn.done() == (Close(),)
    pipe.lost()
    tail = [(round(e.time - t0, 6), e.text, e.delivered) for e in pipe.record.transcript[-5:]]
    assert tail == [
        (0.0, "NOOP", True),
        (0.0, "RSET", True),
        (0.2, "(client closed the connection)", True),
        (0.5, "250 2.0.0 Ok", True),
        (0.5, "250 2.0.0 Ok", True),
    ]
    assert [v.kind for v in pipe.record.violations] == ["bad-pipelining", "no-quit"]


def test_a_half_close_while_the_socket_is_full_then_a_reset_leaves_it_undelivered() -> None:
    """The client had closed both ways after all: its reset comes back before the socket took
    the reply, which is recorded with the octets that went."""
    pipe, _ = _in_flight(b"NOOP\r\n")
    pipe.conn.eof_received(socket_full=True)
    pipe.conn.handed(4)
    pipe.lost(reset=True)
    texts = [(e.text, e.delivered, e.written) for e in pipe.record.transcript[-3:]]
    assert texts == [
        ("(client closed the connection)", True, None),
        ("250 2.0.0 Ok", False, 4),
        ("(client reset the connection)", True, None),
    ]
    assert [v.kind for v in pipe.record.violations] == []  # it left waiting for a reply


DRIP = {"rules": [{"on": "noop", "drip": {"bytes": 4, "interval": 0.1}}]}


def test_a_paced_reply_is_given_up_even_with_the_socket_full() -> None:
    """A fault still paces what follows the piece the socket holds up: an EOF then is the
    client giving up; the reply is not delivered, with the octets the wire says went."""
    pipe, _ = _in_flight(b"NOOP\r\n", DRIP)
    assert not pipe.conn.writes_on(socket_full=True)
    pipe.conn.handed(3)  # (the wire reports what the socket took of the piece, then the EOF)
    assert pipe.conn.eof_received(socket_full=True) == (Close(),)
    pipe.lost()
    texts = [(e.text, e.delivered, e.written) for e in pipe.record.transcript[-2:]]
    assert texts == [
        ("250 2.0.0 Ok", False, 3),
        ("(client closed the connection)", True, None),
    ]
    assert [v.kind for v in pipe.record.violations] == []  # it left waiting for a reply


def test_a_half_close_after_quit_writes_on_without_a_full_socket() -> None:
    """QUIT, then the EOF while the 221 drips: the client waits for it (RFC 5321 §4.1.1.10)."""
    dripped_221 = {"rules": [{"on": "quit", "drip": {"bytes": 4, "interval": 0.1}}]}
    pipe, _ = _in_flight(b"QUIT\r\n", dripped_221)
    assert pipe.conn.writes_on(socket_full=False)
    assert pipe.conn.eof_received() == ()


def test_nothing_under_way_writes_on() -> None:
    pipe = Pipe(Engine())
    pipe.connect()
    pipe.feed("EHLO c.test")
    assert pipe.conn.writes_on(socket_full=False)
