"""What the per-connection path owes the server's speed without changing the record: a finished
session is freed by reference counting (no cycle for the collector to find), the journal's quick
way in keeps what the full one keeps, and a reply sent without a Plan is the Plan's."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from smtpfake.engine.records import SessionInfo, TranscriptEntry
from smtpfake.journal import Journal, JournalLimits
from smtpfake.scenario.model import Stage
from smtpfake.scenario.plan import Close, Plan, Send
from smtpfake.scenario.reply import Reply

from ..support import scenario
from ..support.engine import MAIL, Engine, sent
from ..support.pipe import Pipe


@contextmanager
def collector_off() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def whole_session(engine: Engine, greeting: str = "EHLO c.test") -> Pipe:
    p = Pipe(engine)
    p.connect()
    for line in (greeting, "MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "DATA"):
        p.feed(line)
    p.feed(MAIL + b".\r\n")
    p.feed("QUIT")
    p.eof()
    p.finish()
    return p


def test_a_finished_session_is_freed_by_reference_counting() -> None:
    engine = Engine()
    with collector_off():
        p = whole_session(engine)
        assert [e.text for e in p.record.transcript][-1] == "(client closed the connection)"
        session = weakref.ref(p.session)  # its Connection holds it: both go, or neither
        del p
        # no gc.collect(): only a reference cycle would keep it
        assert session() is None
    assert len(engine.journal.messages()) == 1  # what the journal keeps outlives the session


def test_the_judge_of_a_live_session_still_reaches_it() -> None:
    p = Pipe(Engine())
    p.connect()
    p.feed("MAIL FROM:<a@x.test>")  # before EHLO: the judge tells the session
    p.feed(b"NOOP\n")  # a bare LF
    assert "bare-lf" in [v.kind for v in p.record.violations]


class Told(Journal):
    """A journal whose class sees every entry (as the logging and event-stream journals do)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[TranscriptEntry] = []

    def transcript(self, info: SessionInfo, entry: TranscriptEntry) -> None:
        super().transcript(info, entry)
        self.seen.append(entry)


def test_a_journal_that_does_more_per_entry_gets_every_entry_itself() -> None:
    assert Journal().quick_transcript is not None
    assert Told().quick_transcript is None
    quick, told = Engine(), Engine()
    told.journal = Told()
    whole_session(quick)
    whole_session(told)
    (a,) = quick.journal.sessions()
    (b,) = told.journal.sessions()
    assert a.transcript == b.transcript  # the same clock, the same record either way
    assert [e.text for e in told.journal.seen] == [e.text for e in b.transcript]
    assert len(b.transcript) == 16


def test_the_quick_way_in_keeps_the_journals_bounds() -> None:
    journal = Journal(JournalLimits(entries=3, entry_chars=10))
    info = SessionInfo(1, "p", 0.0)
    journal.started(info)
    quick = journal.quick_transcript
    assert quick is not None
    for i in range(5):
        quick(info, float(i), "client", f"NOOP {i}", None)
    quick(info, 5.0, "server", "250 " + "x" * 20, "r")
    journal.transcript(info, TranscriptEntry(6.0, "server", "421 bye", None, False, 3))
    (record,) = journal.sessions()
    assert record.transcript == (
        TranscriptEntry(4.0, "client", "NOOP 4"),
        TranscriptEntry(5.0, "server", "250 xxxxxx... (14 more characters)", "r"),
        TranscriptEntry(6.0, "server", "421 bye", None, False, 3),
    )
    assert record.dropped_entries == 4
    counts = journal.counts()
    assert (counts.entries_dropped, counts.entries_cut) == (4, 1)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(250, ("Ok",), "2.1.0"),
        Reply(250, ("x.test", "PIPELINING", "8BITMIME")),
        Reply(354, ("End data with <CR><LF>.<CR><LF>",)),
        Reply(550, ("no",), "5.1.1"),
        Reply(421, ("bye",), "4.3.2"),
    ],
)
def test_a_reply_no_rule_can_change_goes_out_as_its_plan(reply: Reply) -> None:
    engine = Engine()
    d = engine.connect()
    plain = d.session.respond(Stage.NOOP, "", reply)
    assert plain == Plan(reply).actions()  # Send and Close compare without their notes
    send = plain[0]
    assert isinstance(send, Send) and send.note is not None
    assert send.note.text == reply.render().decode().rstrip("\r\n").replace("\r\n", "\n")
    assert (d.session.mode.name == "CLOSED") == reply.closes


def test_quit_is_sent_and_closed_without_a_plan_and_a_rule_still_shapes_it() -> None:
    d = Engine().connect()
    bye = Plan(Reply(221, ("Bye",), "2.0.0"), after=(Close(),))
    actions = d.session.respond(Stage.QUIT, "", bye)
    assert [type(a) for a in actions] == [Send, Close]
    note = actions[1].note  # type: ignore[union-attr]
    assert note is not None and note.text == "(connection closed)"
    ruled = Engine(scenario({"on": "quit", "reply": "221 2.0.0 See you"})).connect()
    assert sent(ruled.send("QUIT")) == b"221 2.0.0 See you\r\n"


def test_the_same_reply_made_twice_is_found_either_way() -> None:
    d = Engine().connect()
    first = d.session.respond(Stage.NOOP, "", Reply(250, ("Ok",), "2.0.0"))
    again = d.session.respond(Stage.NOOP, "", Reply(250, ("Ok",), "2.0.0"))
    assert first == again
    assert [getattr(a, "note", None) for a in first] == [getattr(a, "note", None) for a in again]


def test_each_entry_is_made_once_when_read_and_drops_are_still_seen() -> None:
    journal = Journal(JournalLimits(entries=3))
    info = SessionInfo(1, "p", 0.0)
    journal.started(info)
    quick = journal.quick_transcript
    assert quick is not None
    quick(info, 0.0, "client", "EHLO x", None)
    (first,) = journal.sessions()[0].transcript
    quick(info, 1.0, "server", "250 x", None)
    again = journal.sessions()[0].transcript
    assert again[0] is first and [e.text for e in again] == ["EHLO x", "250 x"]
    for i in range(2, 5):
        quick(info, float(i), "client", f"NOOP {i}", None)
    (record,) = journal.sessions()
    assert [e.text for e in record.transcript] == ["NOOP 2", "NOOP 3", "NOOP 4"]
    assert record.dropped_entries == 2


@pytest.mark.parametrize("greeting", ["EHLO c.test", "HELO c.test"])
def test_whole_sessions_add_nothing_to_the_reply_caches(greeting: str) -> None:
    """Every reply of a plain session is one made once (DATA's 354, QUIT's plan, HELO's 250
    included): a reply made anew per session would fill the sent-reply tables with garbage that
    outlives young collections (the collector's cost per session nearly tripled with DATA's),
    and make its bytes and actions again each time (HELO's did: smtp-source greets with HELO).
    The same paths again are answered from the path table, not added to it."""
    from smtpfake.engine import commands, connection, session

    def sizes() -> list[int]:
        tables = (*session._SENT, commands._CLOSING, connection._HALF_CLOSING)
        return [len(table) for table in (*tables, *commands._PATHS.values())]

    engine = Engine()
    whole_session(engine, greeting)
    before = sizes()
    for _ in range(5):
        whole_session(engine, greeting)
    assert sizes() == before
    assert len(engine.journal.messages()) == 6


@pytest.mark.parametrize(
    "text",
    [
        MAIL,
        b"..dot-stuffed\r\n" + MAIL,  # unstuffed before the count
        b"one\r\nbare\nlf\r\n",  # judged in the text, not lost with the "." read in one step
        b"one\r\nbare\rcr\r\n",
        b"." + b"x" * 998 + b"\r\nshort\r\n",  # 1000 octets with its CRLF once unstuffed
        b"x" * 999 + b"\r\nshort\r\n",  # 1001: too long
    ],
)
def test_the_text_and_its_final_dot_in_one_read_are_recorded_as_line_by_line(text: bytes) -> None:
    """The final "." right behind the text is taken in the same step as the text: the same
    replies, transcript, violations and message as when each line comes on its own."""
    records = []
    for pieces in ([text + b".\r\n"], [*text.splitlines(keepends=True), b".\r\n"]):
        p = Pipe(Engine())
        p.connect()
        for line in ("EHLO c.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "DATA"):
            p.feed(line)
        replies = [p.feed(piece) for piece in pieces]
        assert replies[-1].startswith(b"250 2.0.0 Ok: queued as ")
        p.feed("QUIT")
        p.eof()
        p.finish()
        record = p.record
        records.append(
            (
                [(e.side, e.text.split(" as ")[0]) for e in record.transcript],
                [v.kind for v in record.violations],
                [m.data for m in record.messages],
            )
        )
    assert records[0] == records[1]
    transcript, _, (data,) = records[0]
    dot = transcript.index(("client", "."))
    assert transcript[dot - 1 : dot + 2] == [
        ("client", f"(message data, {len(data)} bytes)"),
        ("client", "."),
        ("server", "250 2.0.0 Ok: queued"),
    ]


@pytest.mark.parametrize("first", [1.0, 2.5])
def test_quits_batch_made_once_still_half_closes_for_each_connections_grace(first: float) -> None:
    """QUIT's batch (221, half-close, grace timer) is made once per reply and grace period:
    a connection with another grace period gets its own, one whose client left its own."""
    engine = Engine()
    for grace in (first, 3.5 - first, first):
        p = Pipe(engine, grace=grace)
        p.connect()
        assert p.feed("QUIT") == b"221 2.0.0 Bye\r\n"
        assert p.half_closed and p.timers["grace"] == grace and p.ended is None
        p.eof()
        assert p.ended == "close"
    late = Pipe(engine, grace=first)
    late.connect()
    conn = late.conn
    (noop,) = conn.receive_data(b"NOOP\r\nQUIT\r\n")  # QUIT waits behind NOOP's reply
    conn.performed(noop)
    assert conn.eof_received() == ()  # the client's FIN: QUIT is answered after it
    assert late._carry(conn.done(), False) == b"221 2.0.0 Bye\r\n"
    assert late.ended == "close" and not late.half_closed and "grace" not in late.timers


def test_the_path_table_answers_as_the_parse_and_stays_bounded() -> None:
    """MAIL's and RCPT's paths are parsed once per argument (commands._path's table): the same
    answer as a parse of its own, asked once or again, for either keyword; the table never holds
    more than its bound, whatever a client sends; a path's syntax verdict is kept with it."""
    from smtpfake.engine import commands, mailbox

    def parsed(arg: str, keyword: str) -> tuple[str, str | None, str | None]:
        m = commands._PATH_RE.match(arg)
        if m is None or m.group(1).upper() != keyword:
            return arg, None, None
        address, wrong = mailbox.read(m.group(2), "MAIL" if keyword == "FROM" else "RCPT")
        return address, m.group(3), wrong

    args = [
        *("FROM:<a@x.test>", "from: <a@x.test> SIZE=10", "TO:<b@y.test>", "TO:<>", "FROM:a@x", ""),
        *("TO:<a@x.test,b@x.test>", "FROM:<@r.test:a@x.test>", "TO:<postmaster>"),
    ]
    for arg in args:
        for keyword in ("FROM", "TO"):
            assert commands._path(arg, keyword) == parsed(arg, keyword)
            assert commands._path(arg, keyword) == parsed(arg, keyword)  # from the table
    for i in range(commands._PATHS_MAX + 10):
        assert commands._path(f"TO:<u{i}@y.test>", "TO") == (f"u{i}@y.test", "", None)
    assert all(len(table) <= commands._PATHS_MAX for table in commands._PATHS.values())
    assert commands._path("TO:<a@x.test,b@x.test>", "TO")[2] is not None
    assert commands._path("FROM:<@r.test:a@x.test>", "FROM") == ("a@x.test", "", None)
    d = Engine().connect()
    d.send("HELO c.test")
    assert sent(d.send("MAIL FROM:x@x.test y")).startswith(b"555 ")  # no <>: again from the table
    assert sent(d.send("MAIL FROM:<a@x.test>")).startswith(b"250 ")


def test_a_command_line_met_before_is_answered_and_recorded_as_the_first_time() -> None:
    """Session.receive() keeps the parts of a plain command line (one CRLF, a known verb, no
    NUL, not too long) by the line: a session whose lines are all in the table gets the same
    replies, transcript and violations as the first one, whose lines were not; lines that are
    not plain (a bare LF, a NUL, an unknown verb, AUTH with its secret) are never kept, and
    are judged every time."""
    from smtpfake.engine import session as session_module

    lines = [
        "HELO c.test",
        "MAIL FROM:<a@x.test>",
        "RCPT TO:<b@y.test>",
        "NOOP",
        b"NOOP\n",  # a bare LF: judged each time
        "MAIL FROM:<a@x.test>",  # a nested MAIL: 503 and its violation each time
        "XYZZY now",
        "VRFY a\x00b",
        "RSET ",
        "QUIT",
    ]

    def run() -> tuple[list[bytes], list[str], list[str]]:
        p = Pipe(Engine())
        p.connect()
        replies = [p.feed(line) for line in lines]
        p.eof()
        p.finish()
        record = p.record
        transcript = [f"{e.side}: {e.text}" for e in record.transcript]
        return replies, transcript, sorted(v.kind for v in record.violations)

    session_module._PLAIN_LINES.clear()
    first = run()
    kept = set(session_module._PLAIN_LINES)
    assert b"NOOP\r\n" in kept and b"RSET \r\n" in kept and b"QUIT\r\n" in kept
    assert not {b"NOOP\n", b"XYZZY now\r\n", b"VRFY a\x00b\r\n"} & kept
    again = run()
    assert again == first
    replies, _, violations = first
    assert replies[5].startswith(b"503 ") and replies[6].startswith(b"500 ")
    assert replies[7].startswith(b"501 ")  # the NUL
    assert violations == ["bad-sequence", "bad-syntax", "bare-lf"]


def test_auth_lines_are_never_kept_in_the_line_table() -> None:
    from smtpfake.engine import session as session_module

    p = Pipe(Engine(scenario(auth={"users": {"user": "secret"}})))
    p.connect()
    p.feed("EHLO c.test")
    assert p.feed("AUTH PLAIN AHVzZXIAc2VjcmV0").startswith(b"235 ")
    assert not any(line.startswith(b"AUTH") for line in session_module._PLAIN_LINES)
    assert "AUTH PLAIN AHVzZXIAc2VjcmV0" not in [e.text for e in p.record.transcript]


def test_the_line_table_stays_bounded() -> None:
    from smtpfake.engine import session as session_module

    d = Engine().connect()
    for i in range(session_module._PLAIN_LINES_MAX + 10):
        assert sent(d.send(f"NOOP {i}")).startswith(b"250 ")
    assert len(session_module._PLAIN_LINES) <= session_module._PLAIN_LINES_MAX
