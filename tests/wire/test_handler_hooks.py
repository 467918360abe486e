"""A user's handler deciding replies through aiosmtpd's hooks (the consult step): real clients on
loopback; an exception in a hook is a server error and the client gets a 451."""

from __future__ import annotations

import asyncio
import smtplib
from typing import Any

import aiosmtplib
import pytest

from smtpfake.server import Server

from ..support import TIMEOUT, scenario
from ..support.raw import Raw
from ..support.waits import ended_sessions, kinds, wait_until
from .conftest import LOOPS

MSG = b"Subject: hooks\r\n\r\nbody\r\n"


class Directory:
    """Python logic YAML cannot express: a user directory, a content check, a per-session
    counter kept on aiosmtpd's Session."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.calls.append(("MAIL", (session.peer[0], session.host_name, address, options)))
        return "250 2.1.0 Sender ok"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        await asyncio.sleep(0.01)  # a real await: the reply waits for it
        self.calls.append(("RCPT", (envelope.mail_from, list(envelope.rcpt_tos), address)))
        if address.startswith("boom@"):
            raise RuntimeError("directory lookup failed")
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user here"
        return "250 2.1.5 Recipient ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if b"VIRUS" in envelope.content:
            return "554 5.6.0 Content rejected"
        return "250 2.0.0 Accepted by the directory"


def test_hooks_decide_replies_and_see_aiosmtpds_session_and_envelope() -> None:
    directory = Directory()
    with Server(handler=directory) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo("client.example.test")
            refused = client.sendmail("a@x.test", ["ann@y.test", "nobody@y.test"], MSG)
            assert refused == {"nobody@y.test": (550, b"5.1.1 No such user here")}
            with pytest.raises(smtplib.SMTPDataError) as rejected:
                client.sendmail("a@x.test", ["ann@y.test"], b"Subject: x\r\n\r\nVIRUS\r\n")
            assert rejected.value.smtp_code == 554
        (record,) = ended_sessions(server, 1)
        # only the message the handler accepted is in the journal, for the accepted recipient
        assert [m.rcpt_tos for m in server.messages] == [("ann@y.test",)]
        assert "250 2.0.0 Accepted by the directory" in record.format()
        assert kinds(record) == []
        assert server.errors == []
    # smtplib sends SIZE= when the server offers SIZE: the options as aiosmtpd gives them
    peer, name, sender, options = directory.calls[0][1]
    assert (directory.calls[0][0], peer, name, sender) == (
        "MAIL",
        "127.0.0.1",
        "client.example.test",
        "a@x.test",
    )
    assert [o.split("=")[0].upper() for o in options] == ["SIZE"]
    # the Envelope holds the transaction as accepted so far
    assert directory.calls[2] == ("RCPT", ("a@x.test", ["ann@y.test"], "nobody@y.test"))


def test_an_exception_in_a_hook_is_a_server_error_and_a_451_and_the_session_goes_on() -> None:
    with Server(handler=Directory()) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo("c.test")
            client.mail("a@x.test")
            assert client.rcpt("boom@y.test")[0] == 451
            assert client.rcpt("ann@y.test")[0] == 250
        (error,) = wait_until(lambda: list(server.errors), what="the hook's failure")
        assert "directory lookup failed" in error.traceback and error.session == 1
        server.errors.clear()


def test_an_answer_that_is_not_a_reply_is_a_server_error() -> None:
    class Bad:
        async def handle_NOOP(self, server: Any, session: Any, envelope: Any, arg: str) -> str:
            return "fine, thanks"

    with Server(handler=Bad()) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            assert client.noop()[0] == 451
        (error,) = wait_until(lambda: list(server.errors), what="the bad answer")
        assert "'fine, thanks'" in error.traceback
        server.errors.clear()


class EditEhlo:
    """aiosmtpd's newer handle_EHLO form, its lines edited by ``edit``."""

    def __init__(self, edit: Any) -> None:
        self.edit = edit

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        edited: list[str] = self.edit(responses)
        return edited


def _last(lines: list[str]) -> list[str]:
    """The lines as one reply: every line but the last continued."""
    return [f"250-{line[4:]}" for line in lines[:-1]] + [f"250 {lines[-1][4:]}"]


class OldEhlo:
    """aiosmtpd's older handle_EHLO form: a status line, sent after the extension lines."""

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str) -> str:
        return "250 Welcome"


@pytest.mark.parametrize("loop", LOOPS)
def test_the_older_ehlo_hooks_status_line_ends_the_scenarios_extension_lines(loop: str) -> None:
    """As aiosmtpd sends it: the extensions the session is judged by, then the hook's line in
    place of HELP (not the hook's line alone, advertising nothing)."""
    with (
        Server(handler=OldEhlo(), loop=loop) as server,
        smtplib.SMTP(server.host, server.port, timeout=5) as client,
    ):
        code, text = client.ehlo("c.test")
        assert code == 250 and text.endswith(b"\nWelcome")
        assert "pipelining" in client.esmtp_features and "help" not in client.esmtp_features
        assert server.errors == []


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize(
    ("server_settings", "keywords"),
    [
        ({"extensions_remove": ["HELP"]}, ["pipelining", "size", "8bitmime", "smtputf8"]),
        ({"extensions": ["PIPELINING"]}, ["pipelining"]),
        ({"extensions": ["HELP", "PIPELINING"]}, ["pipelining"]),
    ],
)
def test_the_older_ehlo_hooks_status_line_leaves_every_keyword_but_help_on_the_wire(
    loop: str, server_settings: dict[str, Any], keywords: list[str]
) -> None:
    """fresh18 F2: with no HELP last, the hook's line took the last extension's place: SMTPUTF8
    or PIPELINING gone from the wire while the server judged the session by it."""
    with (
        Server(scenario(**server_settings), handler=OldEhlo(), loop=loop) as server,
        smtplib.SMTP(server.host, server.port, timeout=5) as client,
    ):
        code, text = client.ehlo("c.test")
        assert code == 250 and text.endswith(b"\nWelcome")
        assert set(keywords) <= set(client.esmtp_features)
        assert set(client.esmtp_features) - set(keywords) <= {"welcome", "enhancedstatuscodes"}
        assert server.errors == []


@pytest.mark.asyncio
@pytest.mark.parametrize("loop", LOOPS)
async def test_aiosmtplib_pipelines_as_the_older_ehlo_hooks_reply_allows(loop: str) -> None:
    """The wire and the judging agree: the scenario's PIPELINING reaches aiosmtplib, which
    pipelines its envelope, and the session is judged as pipelined rightly (no violation)."""
    with Server(scenario(extensions=["PIPELINING"]), handler=OldEhlo(), loop=loop) as server:
        client = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=TIMEOUT)
        await client.connect()
        try:
            await client.ehlo(hostname="c.test")
            assert client.supports_extension("pipelining")
            await client.sendmail("a@x.test", ["b@y.test", "c@y.test"], MSG)
        finally:
            await client.quit()
        (record,) = ended_sessions(server, 1)
        assert kinds(record) == []
        assert server.errors == []


@pytest.mark.parametrize("loop", LOOPS)
def test_ehlo_hook_may_reword_lines_but_not_the_keyword_set(loop: str) -> None:
    reworded = EditEhlo(
        lambda rs: ["250-mx.hook.test", *(r.replace("PIPELINING", "pipelining") for r in rs[1:])]
    )
    with (
        Server(handler=reworded, loop=loop) as server,
        smtplib.SMTP(server.host, server.port, timeout=5) as client,
    ):
        code, text = client.ehlo("c.test")
        assert code == 250 and text.startswith(b"mx.hook.test")
        assert "pipelining" in client.esmtp_features
        assert server.errors == []


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize(
    ("edit", "change"),
    [
        # fresh17 F5: PIPELINING left out, yet the server would not judge pipelining
        (lambda rs: _last([r for r in rs if "PIPELINING" not in r]), "removed PIPELINING"),
        # CHUNKING added, yet the engine would answer BDAT 502 and blame the client
        (lambda rs: _last([*rs, "250-chunking"]), "added CHUNKING"),
        (lambda rs: _last([*rs[:-1], "250-X-DIRECTORY", rs[-1]]), "added X-DIRECTORY"),
    ],
)
def test_ehlo_hook_that_changes_the_advertised_extensions_is_a_server_error(
    loop: str, edit: Any, change: str
) -> None:
    with (
        Server(handler=EditEhlo(edit), loop=loop) as server,
        smtplib.SMTP(server.host, server.port, timeout=5) as client,
    ):
        assert client.ehlo("c.test") == (
            451,
            b"4.3.0 smtpfake: the handler failed, see the test report",
        )
        assert client.esmtp_features == {}
        (error,) = wait_until(lambda: list(server.errors), what="the refused answer")
        assert f"changes the advertised extensions ({change})" in error.traceback
        assert "extensions_add" in error.traceback
        server.errors.clear()


def test_the_scenarios_rules_still_apply_on_top_of_the_handler() -> None:
    rule = {"on": "rcpt", "match": "*@full.test", "reply": "452 4.2.2 Mailbox full"}
    with (
        Server(scenario(rule), handler=Directory()) as server,
        smtplib.SMTP(server.host, server.port, timeout=5) as client,
    ):
        client.ehlo("c.test")
        client.mail("a@x.test")
        assert client.rcpt("c@full.test") == (452, b"4.2.2 Mailbox full")
        assert client.rcpt("nobody@y.test")[0] == 550


def test_pipelined_commands_wait_for_the_hook_and_keep_their_order() -> None:
    with Server(handler=Directory()) as server:
        raw = Raw(server)
        assert raw.reply_bytes().startswith(b"220")
        raw.send(b"EHLO c.test\r\n")
        assert raw.reply_bytes().startswith(b"250")
        raw.send(
            b"MAIL FROM:<a@x.test>\r\nRCPT TO:<nobody@y.test>\r\nRCPT TO:<ann@y.test>\r\nDATA\r\n"
        )
        replies = [raw.reply_bytes()[:3] for _ in range(4)]
        assert replies == [b"250", b"550", b"250", b"354"]
        raw.send(b"hi\r\n.\r\nQUIT\r\n")
        assert raw.reply_bytes().startswith(b"250 2.0.0 Accepted")
        assert raw.reply_bytes().startswith(b"221")
        (record,) = ended_sessions(server, 1)
        assert kinds(record) == []  # PIPELINING was advertised: no violation


class PlainRcpt:
    """A hook written as a plain def: each RCPT failed at runtime ("object str can't be used in
    'await' expression") and the client got a 451."""

    async def handle_MAIL(self, *args: Any) -> str:
        return "250 2.1.0 Ok"

    def handle_RCPT(self, *args: Any) -> str:
        return "250 2.1.5 Ok"


class PlainData:
    def handle_DATA(self, *args: Any) -> str:
        return "250 Ok"


def test_a_plain_def_hook_fails_when_the_server_is_built_naming_it() -> None:
    with pytest.raises(TypeError) as caught:
        Server("default", handler=PlainRcpt())
    message = str(caught.value)
    assert message.startswith("Server(handler=...): handle_RCPT of <")
    assert message.endswith("must be `async def`, as aiosmtpd's hooks are (the server awaits it)")
    assert "handle_MAIL" not in message
    with pytest.raises(TypeError, match=r"^Server\(delivery=\.\.\.\): handle_DATA of <"):
        Server("default", delivery=PlainData())


def test_a_back_end_without_handle_data_fails_when_the_server_is_built() -> None:
    """aiosmtpd's Sink, say, given as a back end: refused at once, not a bare AttributeError at
    the first delivery (fresh17)."""

    class NoData:
        async def handle_RCPT(self, *args: Any) -> str:
            return "250 2.1.5 Ok"

    with pytest.raises(
        TypeError, match=r"^Server\(delivery=\.\.\.\): <.*NoData object .*> has no "
    ):
        Server("default", delivery=NoData())


def test_an_async_hook_beside_the_check_still_answers_on_the_wire() -> None:
    class Fine(PlainRcpt):
        async def handle_RCPT(self, *args: Any) -> str:  # type: ignore[override]
            return "250 2.1.5 Checked"

    with Server("default", handler=Fine()) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo("a.test")
            client.mail("a@x.test")
            assert client.rcpt("b@x.test") == (250, b"2.1.5 Checked")
        assert server.errors == []


def test_a_hooks_envelope_holds_the_parameters_accepted_so_far() -> None:
    seen: list[tuple[str, list[str], list[str], bool]] = []

    class Watching:
        async def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
        ) -> str:
            seen.append(("RCPT", envelope.mail_options, envelope.rcpt_options, envelope.smtp_utf8))
            return "250 2.1.5 Ok"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            seen.append(("DATA", envelope.mail_options, envelope.rcpt_options, envelope.smtp_utf8))
            return "250 2.0.0 Ok"

    with (
        Server(scenario(extensions_add=["DSN"]), handler=Watching()) as server,
        smtplib.SMTP(server.host, server.port, timeout=5) as client,
    ):
        client.ehlo("c.test")
        assert client.mail("a@x.test", ["BODY=8BITMIME", "SMTPUTF8"])[0] == 250
        assert client.rcpt("b@x.test", ["NOTIFY=NEVER"])[0] == 250
        assert client.rcpt("c@x.test", ["NOTIFY=DELAY", "ORCPT=rfc822;c@x.test"])[0] == 250
        assert client.data(MSG)[0] == 250
    mail = ["BODY=8BITMIME", "SMTPUTF8"]
    assert seen == [
        ("RCPT", mail, [], True),  # aiosmtpd's shape: the recipients' options in one list
        ("RCPT", mail, ["NOTIFY=NEVER"], True),
        ("DATA", mail, ["NOTIFY=NEVER", "NOTIFY=DELAY", "ORCPT=rfc822;c@x.test"], True),
    ]


FAILED_LINES = ("451 4.3.0 smtpfake: the handler failed, see the test report",)


class Unmarked:
    """Hook replies as aiosmtpd's own docs write them: no enhanced status code."""

    async def handle_MAIL(self, *args: Any) -> str:
        return "250 sender ok"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, _: Any
    ) -> str:
        return "250 Ok" if address.endswith("@example.test") else "550 No such user"

    async def handle_DATA(self, *args: Any) -> str:
        return "250 accepted"

    async def handle_NOOP(self, *args: Any) -> str:
        return "250"


@pytest.mark.parametrize("loop", LOOPS)
def test_a_hooks_reply_without_an_enhanced_code_gets_the_class_default(loop: str) -> None:
    """fresh17 F1: after an EHLO listing ENHANCEDSTATUSCODES they went out without one, while a
    rule's same reply got 5.0.0."""
    rule = {"on": "rcpt", "match": "*@rule.test", "reply": "550 No such user"}
    with (
        Server(scenario(rule), handler=Unmarked(), loop=loop) as server,
        smtplib.SMTP(server.host, server.port, timeout=5) as client,
    ):
        client.ehlo("c.test")
        assert client.has_extn("enhancedstatuscodes")
        assert client.mail("a@example.test") == (250, b"2.0.0 sender ok")
        assert client.rcpt("b@example.test") == (250, b"2.0.0 Ok")
        assert client.rcpt("c@elsewhere.test") == (550, b"5.0.0 No such user")
        assert client.rcpt("d@rule.test") == (550, b"5.0.0 No such user")  # the rule's: the same
        assert client.data(MSG) == (250, b"2.0.0 accepted")
        assert client.noop() == (250, b"2.0.0")
        assert server.errors == []


@pytest.mark.parametrize("loop", LOOPS)
def test_a_hook_answer_with_a_bare_lf_or_no_text_is_refused_and_the_session_goes_on(
    loop: str,
) -> None:
    """fresh17 F2: "250 a\\nb" went on the wire with its bare LF (smtplib read "250 a" and then a
    stray "b"), the record saying every line ended in CRLF; an int was a raw TypeError that closed
    the session and held the client's next command against it (sent-after-close)."""
    answers: list[object] = ["250 a\nb", "250-a\r\n250 b\n250 c", "250 a\rb", 250, b"250 ok"]

    class Bad:
        async def handle_NOOP(self, *args: Any) -> object:
            return answers.pop(0)

    with Server(handler=Bad(), loop=loop) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo("c.test")
            for _ in range(5):
                assert client.noop() == (451, FAILED_LINES[0][4:].encode())
            assert client.mail("a@x.test")[0] == 250  # still in step, the session open
        (record,) = ended_sessions(server, 1)
        assert kinds(record) == []
        wait_until(lambda: len(server.errors) == 5, what="five bad answers")
        said = [error.traceback.strip().splitlines()[-1] for error in server.errors]
        assert said == [
            "ValueError: handle_NOOP answered '250 a\\nb': not an SMTP reply",
            "ValueError: handle_NOOP answered '250-a\\r\\n250 b\\n250 c': not an SMTP reply",
            "ValueError: handle_NOOP answered '250 a\\rb': not an SMTP reply",
            "ValueError: handle_NOOP answered 250: not an SMTP reply",
            "ValueError: handle_NOOP answered b'250 ok': not an SMTP reply",
        ]
        # nothing of the answers went out: the record holds the 451s the client read
        noops = [x.reply for x in record.exchanges() if x.command.text.upper() == "NOOP"]
        assert [(r.lines, r.endings) for r in noops if r is not None] == [(FAILED_LINES, ())] * 5
        server.errors.clear()


#: fresh18 F3: each went out as the hook wrote it; each is a load error in a rule's reply
UNCHECKED: list[tuple[object, str]] = [
    ("250 a\x00b", "control character U+0000 is not allowed in reply text"),
    ("250 a\tb\x7f", "control character U+007F is not allowed in reply text"),
    ("250 caf\u00e9", "U+00E9 'é' is not ASCII (reply text is US-ASCII, RFC 5321 §4.2)"),
    ("250 " + "x" * 600, "600 octets is too long"),
    (["250-x"] * 100 + ["250 y"], "101 lines; a reply has at most 100"),
    ("450 5.1.1 busy", "enhanced code 5.1.1 has class 5 but reply 450 has class 4"),
]


@pytest.mark.parametrize("loop", LOOPS)
def test_a_hook_answer_a_rules_reply_could_not_be_is_refused_and_the_session_goes_on(
    loop: str,
) -> None:
    answers = [answer for answer, _ in UNCHECKED]

    class Unchecked:
        async def handle_MAIL(self, *args: Any) -> object:
            return answers.pop(0)

    with Server(handler=Unchecked(), loop=loop) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo("c.test")
            for _ in UNCHECKED:
                assert client.mail("a@x.test") == (451, FAILED_LINES[0][4:].encode())
            assert client.noop()[0] == 250  # still in step, the session open
        (record,) = ended_sessions(server, 1)
        assert kinds(record) == []
        wait_until(lambda: len(server.errors) == len(UNCHECKED), what="each answer refused")
        said = [error.traceback.strip().splitlines()[-1] for error in server.errors]
        for line, (answer, why) in zip(said, UNCHECKED, strict=True):
            assert line.startswith(f"ValueError: handle_MAIL answered {repr(answer)[:40]}"), line
            assert why in line, line
        # nothing of the answers went out: the record holds the 451s the client read
        mails = [x.reply for x in record.exchanges() if x.command.text.upper().startswith("MAIL")]
        assert [r.lines for r in mails if r is not None] == [FAILED_LINES] * len(UNCHECKED)
        server.errors.clear()


@pytest.mark.asyncio
@pytest.mark.parametrize("loop", LOOPS)
async def test_aiosmtplib_gets_a_451_for_a_hooks_nul_and_a_good_answer_after_it(loop: str) -> None:
    answers = ["250 2.1.0 a\x00b", "250 2.1.0 fine"]

    class Nul:
        async def handle_MAIL(self, *args: Any) -> str:
            return answers.pop(0)

    with Server(handler=Nul(), loop=loop) as server:
        client = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=TIMEOUT)
        await client.connect()
        try:
            await client.ehlo(hostname="c.test")
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
                await client.mail("a@x.test")
            assert (refused.value.code, refused.value.message) == (451, FAILED_LINES[0][4:])
            assert (await client.mail("a@x.test")).message == "2.1.0 fine"
        finally:
            await client.quit()
        (error,) = wait_until(lambda: list(server.errors), what="the NUL refused")
        assert "control character U+0000" in error.traceback
        server.errors.clear()
