"""The consult step, sans I/O: a Consult action ends its batch, the lines the client sends
meanwhile wait (judged as sent ahead of the reply), and ``consulted(reply)`` goes on."""

from __future__ import annotations

import pytest

from smtpfake.engine import Session
from smtpfake.engine.connection import Connection
from smtpfake.engine.consult import (
    FAILED,
    answer_problem,
    answer_reply,
    ehlo_change,
    status_after_extensions,
)
from smtpfake.journal import SessionRecord
from smtpfake.scenario.library import ScenarioRef
from smtpfake.scenario.plan import TIMER_ACTIONS, Action, Consult, Send
from smtpfake.scenario.reply import Reply

from ..support import scenario
from ..support.engine import PEER, Engine


class Wire:
    """Carries batches out at once, the way the wire does; stops at a Consult."""

    def __init__(self, hooks: frozenset[str], ref: ScenarioRef = "default") -> None:
        engine = self.engine = Engine(ref)
        self.journal = engine.journal
        self.session = Session(
            engine.scenario,
            engine.shared,
            engine.journal,
            peer=PEER,
            clock=engine.clock,
            hooks=hooks,
        )
        self.conn = Connection(self.session)
        self.out = bytearray()
        self.asked: list[Consult] = []

    def carry(self, actions: tuple[Action, ...]) -> None:
        for _ in range(100):
            if all(isinstance(a, TIMER_ACTIONS) for a in actions):
                return
            for action in actions:
                if isinstance(action, Consult):
                    self.asked.append(action)
                    return
                if isinstance(action, TIMER_ACTIONS):
                    continue  # the wire arms it; no part of the batch (Connection.done's timer)
                self.conn.performed(action)
                if isinstance(action, Send):
                    self.out += action.data
            actions = self.conn.done()

    def take(self) -> bytes:
        data, self.out = bytes(self.out), bytearray()
        return data


def test_a_consult_holds_later_lines_until_the_answer_then_they_follow_in_order() -> None:
    w = Wire(frozenset({"RCPT"}))
    w.carry(w.conn.connected())
    w.carry(w.conn.receive_data(b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\n"))
    w.take()
    w.carry(w.conn.receive_data(b"RCPT TO:<b@y.test>\r\nDATA\r\n"))
    (asked,) = w.asked
    assert (asked.hook, asked.argument, asked.mail_from, asked.helo_name) == (
        "RCPT",
        "b@y.test",
        "a@x.test",
        "c.test",
    )
    assert w.take() == b""  # no reply yet; DATA waits behind the question
    w.carry(w.conn.consulted(Reply(550, ("No such user",), "5.1.1")))
    assert w.take() == b"550 5.1.1 No such user\r\n503 5.5.1 Error: need RCPT command\r\n"


def test_a_failed_handler_gets_the_client_a_451_and_nothing_is_accepted() -> None:
    w = Wire(frozenset({"MAIL"}))
    w.carry(w.conn.connected())
    w.carry(w.conn.receive_data(b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\n"))
    w.take()
    w.carry(w.conn.consulted(None))
    assert w.take() == FAILED.render()
    assert w.session.mail_from == ""


def test_refusals_the_engine_decides_are_not_asked() -> None:
    w = Wire(frozenset({"RCPT"}))
    w.carry(w.conn.connected())
    w.carry(w.conn.receive_data(b"EHLO c.test\r\nRCPT TO:<b@y.test>\r\n"))
    assert w.asked == []
    assert w.take().endswith(b"503 5.5.1 Error: need MAIL command\r\n")


def test_answers_are_read_as_aiosmtpd_writes_them() -> None:
    assert answer_reply("250 OK") == Reply(250, ("OK",))
    assert answer_reply("550 5.1.1 No such user") == Reply(550, ("No such user",), "5.1.1")
    assert answer_reply(["250-host", "250 HELP"]) == Reply(250, ("host", "HELP"))
    for bad in ("fine", "600 no", ["250-a", "550 b"], [], None, "25 short"):
        assert answer_reply(bad) is None, bad


def test_a_bare_cr_or_lf_or_an_answer_that_is_no_text_is_not_a_reply() -> None:
    """fresh17 F2: a bare LF went out inside a line the record held as whole; an int was a raw
    TypeError (and a closed session)."""
    for bad in ("250 a\nb", "250-a\r\n250 b\n250 c", "250 a\rb", "250 ok\n", ["250-a", "250 b\n"]):
        assert answer_reply(bad) is None, bad
    for bad_type in (250, b"250 ok", 2.5, {"250": "ok"}):
        assert answer_reply(bad_type) is None, bad_type


def test_one_enhanced_code_on_every_line_is_the_replys() -> None:
    assert answer_reply("250-2.0.0 a\r\n250 2.0.0 b") == Reply(250, ("a", "b"), "2.0.0")
    # codes that differ from line to line stay in the text (sent as written)
    assert answer_reply("250-2.0.0 a\r\n250 2.1.0 b") == Reply(250, ("2.0.0 a", "2.1.0 b"))


def _problem(answer: object) -> str:
    reply = answer_reply(answer)
    assert reply is not None, answer
    return answer_problem(reply)


def test_a_hooks_reply_passes_the_checks_a_rules_reply_gets() -> None:
    """fresh18 F3: NUL, DEL, UTF-8, a 612-octet line, 101 lines and a class mismatch went out
    from a hook, each a load error in a rule's reply. The messages are the loader's own."""
    for good in (
        "250 OK",
        "250 a\tb ~",
        "250 " + "x" * 500,
        ["250-x"] * 99 + ["250 y"],
        "550 5.1.1 No such user",
        "250-2.0.0 a\r\n250 2.1.0 b",
        "250",
    ):
        assert _problem(good) == "", good
    assert _problem("250 a\x00b") == (
        "reply text: control character U+0000 is not allowed in reply text (RFC 5321 §4.2)"
    )
    assert "U+007F" in _problem("250 a\tb\x7f")
    # SMTPUTF8 does not extend reply text (README: a rule's is ASCII too)
    assert _problem("250 caf\u00e9") == (
        "reply text: U+00E9 'é' is not ASCII (reply text is US-ASCII, RFC 5321 §4.2)"
    )
    # the class default the server puts in front ("2.0.0 ") needs its room, as a rule's does
    assert _problem("250 " + "x" * 501).startswith("reply text: 501 octets is too long")
    # the room left by an enhanced code is the rule's too: 500 + "2.0.0 " is 506
    assert _problem("250 2.0.0 " + "x" * 501).startswith("reply text: 501 octets is too long")
    assert _problem(["250-x"] * 100 + ["250 y"]) == "101 lines; a reply has at most 100"
    assert _problem("450 5.1.1 busy") == (
        "enhanced code 5.1.1 has class 5 but reply 450 has class 4 (RFC 3463 §2: they must agree)"
    )
    assert _problem("550-5.1.1 a\r\n550 4.2.2 b").startswith("enhanced code 4.2.2 has class 4")
    assert _problem("250 2.0 ok").startswith("enhanced status code must look like 5.1.1")
    assert _problem("354 2.0.0 go on") == "354 is intermediate: it takes no enhanced status code"
    assert _problem("260 ok").startswith("reply code must be three digits")


def test_the_older_ehlo_forms_status_line_takes_helps_place_and_only_its() -> None:
    """fresh18 F2: without HELP the hook's line took the last extension's place (PIPELINING gone
    from the wire while the session was judged by it)."""
    assert status_after_extensions(("h", "PIPELINING", "SIZE 10", "HELP"), "250 Hi") == [
        "250-h",
        "250-PIPELINING",
        "250-SIZE 10",
        "250 Hi",
    ]
    assert status_after_extensions(("h", "PIPELINING"), "250 Hi") == [
        "250-h",
        "250-PIPELINING",
        "250 Hi",
    ]
    assert status_after_extensions(("h", "help", "SMTPUTF8"), "250-Hi\r\n250 there") == [
        "250-h",
        "250-SMTPUTF8",
        "250-Hi",
        "250 there",
    ]
    assert status_after_extensions(("h",), "250 Hi") == ["250-h", "250 Hi"]


def _consulted_mail(w: Wire, reply: Reply) -> bytes:
    w.carry(w.conn.connected())
    w.carry(w.conn.receive_data(b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\n"))
    w.take()
    w.carry(w.conn.consulted(reply))
    return w.take()


def test_an_ehlo_answer_is_judged_by_its_keyword_set_not_its_text() -> None:
    asked = ("smtpfake.test", "PIPELINING", "SIZE 33554432", "HELP")
    # the greeting line, a keyword's case and its parameters are text (fresh17 F5)
    assert ehlo_change(asked, ("mx.test", "pipelining", "SIZE 5", "HELP")) == ""
    assert ehlo_change(asked, ("h", "SIZE 1", "HELP", "CHUNKING", "BINARYMIME")) == (
        "added BINARYMIME, CHUNKING, removed PIPELINING"
    )
    assert ehlo_change(asked, ("h",)) == "removed HELP, PIPELINING, SIZE"


def test_a_hooks_reply_gets_the_class_default_where_a_rules_does() -> None:
    """fresh17 F1: with ENHANCEDSTATUSCODES advertised, a hook's reply without an enhanced code
    went out without one."""
    for reply, wire in [
        (Reply(550, ("No such user",)), b"550 5.0.0 No such user\r\n"),
        (Reply(250, ("",)), b"250 2.0.0 \r\n"),
        (Reply(250, ("a", "b")), b"250-2.0.0 a\r\n250 2.0.0 b\r\n"),
        (Reply(451, ("later",), "4.7.1"), b"451 4.7.1 later\r\n"),  # its own kept
        (Reply(250, ("2.0.0 a", "2.1.0 b")), b"250-2.0.0 a\r\n250 2.1.0 b\r\n"),  # as written
        (Reply(354, ("go on",)), b"354 go on\r\n"),  # never on a 3xx
    ]:
        assert _consulted_mail(Wire(frozenset({"MAIL"})), reply) == wire, reply
    # not where a rule's gets none: no ENHANCEDSTATUSCODES in the scenario, the EHLO reply
    no_codes = scenario(extensions_remove=["ENHANCEDSTATUSCODES"])
    assert (
        _consulted_mail(Wire(frozenset({"MAIL"}), no_codes), Reply(550, ("no",))) == b"550 no\r\n"
    )
    w = Wire(frozenset({"EHLO"}))
    w.carry(w.conn.connected())
    w.take()
    w.carry(w.conn.receive_data(b"EHLO c.test\r\n"))
    w.carry(w.conn.consulted(Reply(250, ("host", "HELP"))))
    assert w.take() == b"250-host\r\n250 HELP\r\n"
    # a rule's `enhanced: none` replaces the hook's reply with one sent without a code
    rule = {"on": "mail", "reply": {"code": 550, "text": "no", "enhanced": "none"}}
    w = Wire(frozenset({"MAIL"}), scenario(rule))
    assert _consulted_mail(w, Reply(250, ("fine",))) == b"550 no\r\n"


# -- the client leaves, or the server stops, while a handler decides (fresh10 F10) ----------------


def _asked_rcpt(w: Wire) -> None:
    """An RFC 2920 group whose first RCPT the handler is deciding when the group's rest is read."""
    w.carry(w.conn.connected())
    w.carry(w.conn.receive_data(b"EHLO c.test\r\n"))
    w.take()
    w.carry(w.conn.receive_data(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n"))
    w.carry(w.conn.receive_data(b"RCPT TO:<c@y.test>\r\nDATA\r\n"))
    assert [a.argument for a in w.asked] == ["b@y.test"]


def _journal_record(w: Wire) -> SessionRecord:
    (record,) = [s for s in w.journal.sessions() if s.index == w.session.index]
    return record


def _rcpt_reply(record: SessionRecord) -> tuple[str, bool, int | None] | None:
    first = next(x for x in record.exchanges() if x.command.text == "RCPT TO:<b@y.test>")
    reply = first.reply
    return None if reply is None else (reply.text, reply.delivered, reply.written)


@pytest.mark.parametrize("how", ["eof", "reset", "stop"])
def test_a_reply_a_handler_is_deciding_is_recorded_as_a_delayed_one_is(how: str) -> None:
    w = Wire(frozenset({"RCPT"}))
    _asked_rcpt(w)
    w.engine.advance(0.3)
    if how == "eof":
        w.carry(w.conn.eof_received())
    elif how == "stop":
        w.carry(w.conn.shutting_down("stop", 0.0))
    w.conn.connection_lost(reset=how == "reset")
    record = _journal_record(w)
    # as with `delay` on rcpt: the normal reply, not delivered, none of it written
    assert _rcpt_reply(record) == ("250 2.1.5 Ok", False, 0)
    # DATA came after RCPTs whose replies never came: no ordering mistake (nor no-quit)
    assert [v.kind for v in record.violations if v.kind in ("bad-sequence", "no-quit")] == []


def test_a_message_a_handle_data_is_deciding_is_kept_as_with_a_delay() -> None:
    w = Wire(frozenset({"DATA"}))
    w.carry(w.conn.connected())
    w.carry(w.conn.receive_data(b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n"))
    w.carry(w.conn.receive_data(b"DATA\r\n"))
    w.take()
    w.carry(w.conn.receive_data(b"Subject: x\r\n\r\nbody\r\n.\r\n"))
    assert [a.hook for a in w.asked] == ["DATA"]
    w.carry(w.conn.eof_received())
    w.conn.connection_lost()
    record = _journal_record(w)
    (end,) = [e for e in record.transcript if e.side == "server" and e.text.startswith("250 2.0.0")]
    assert (end.delivered, end.written) == (False, 0)
    assert [m.data for m in w.journal.messages()] == [b"Subject: x\r\n\r\nbody\r\n"]
